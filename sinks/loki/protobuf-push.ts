// Loki's native push body, logproto.PushRequest, written from the same scanned batch state
// as the JSON push (batch-entries.ts): same streams in the same order, same values in the
// same time order, same timestamps and lines, only framed as protobuf and never escaped.
//
//   PushRequest      { repeated StreamAdapter streams = 1; }
//   StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; }
//   EntryAdapter     { Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3; }
//   Timestamp        { int64 seconds = 1; int32 nanos = 2; }
//   LabelPairAdapter { string name = 1; string value = 2; }
import { LRUCache } from 'lru-cache';
import { unescapeCanonicalInto } from '../../src/codec/json-scan.js';
import { entryLineEnd, entryLineStart, entryMetaEnd, entryMetaStart, entryNanos, entryPlainStart, entrySecs, order, type PushState } from './batch-entries.js';
import { Out } from './out.js';
import { varintSize, writeVarint } from './varint.js';

// Field tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
const TAG_STREAMS = 0x0a; // PushRequest.streams
const TAG_LABELS = 0x0a; // StreamAdapter.labels
const TAG_ENTRIES = 0x12; // StreamAdapter.entries
const TAG_TIMESTAMP = 0x0a; // EntryAdapter.timestamp
const TAG_LINE = 0x12; // EntryAdapter.line
const TAG_METADATA = 0x1a; // EntryAdapter.structuredMetadata
const TAG_SECONDS = 0x08; // Timestamp.seconds
const TAG_NANOS = 0x10; // Timestamp.nanos
const TAG_NAME = 0x0a; // LabelPairAdapter.name
const TAG_VALUE = 0x12; // LabelPairAdapter.value

/** Room kept for a stream's length before its size is known: a varint of any length below 2^35. */
const STREAM_LENGTH_ROOM = 5;

/** One structured metadata pair, `name` and `src[start, end)` as UTF-8, as an EntryAdapter field into `out`. */
export function writeMetaPair(out: Out, name: Buffer, src: Buffer, start: number, end: number): void {
  const valueLength = end - start;
  const pairLength = 1 + varintSize(name.length) + name.length + 1 + varintSize(valueLength) + valueLength;
  out.ensure(pairLength + 6);
  const buf = out.buf;
  let pos = out.pos;
  buf[pos++] = TAG_METADATA;
  pos = writeVarint(buf, pos, pairLength);
  buf[pos++] = TAG_NAME;
  pos = writeVarint(buf, pos, name.length);
  pos += name.copy(buf, pos);
  buf[pos++] = TAG_VALUE;
  pos = writeVarint(buf, pos, valueLength);
  pos += src.copy(buf, pos, start, end);
  out.pos = pos;
}

// A label set's Prometheus text by its JSON (streams repeat from batch to batch); keyed by data
// the agent receives, so bounded, the least recently used going first.
const labelTexts = new LRUCache<string, Buffer>({ max: 10_000 });

/**
 * `{name="value", name2="value2"}` for the JSON push's `stream` object: the same names,
 * values and order. Values are quoted Go-style; encode.ts already replaced control
 * characters, so only `\` and `"` need escapes.
 */
export function labelText(labelsJson: string): Buffer {
  let text = labelTexts.get(labelsJson);
  if (text === undefined) {
    const labels = JSON.parse(labelsJson) as Record<string, string>;
    let s = '{';
    // Label names start with a letter or `_`, so no key is array-index-like: insertion order holds.
    for (const name of Object.keys(labels)) {
      if (s.length > 1) s += ', ';
      s += `${name}="${labels[name]!.replace(/[\\"]/g, '\\$&')}"`;
    }
    text = Buffer.from(`${s}}`, 'utf8');
    labelTexts.set(labelsJson, text);
  }
  return text;
}

/** The whole PushRequest for a scanned batch, uncompressed. */
export function writeProtobufPush(b: PushState): Buffer {
  const firstOf = b.group();
  const ndjson = b.ndjson;
  const labels = b.streamLabelsJson;
  const streams = labels.length;
  const meta = b.metaBuffer;
  const slowLines = b.slowLines;
  const messageLines = b.messageLines;
  // Lines go out as they are; each entry adds ~20 bytes of framing; Out grows if that is short.
  const out = new Out(ndjson.length + b.entryCount * 24 + (meta === undefined ? 0 : meta.length) + streams * 256 + 64);

  for (let s = 0; s < streams; s++) {
    const text = labelText(labels[s]!);
    out.ensure(1 + STREAM_LENGTH_ROOM + 1 + 5 + text.length);
    let buf = out.buf;
    let pos = out.pos;
    buf[pos++] = TAG_STREAMS;
    const lengthAt = pos;
    pos += STREAM_LENGTH_ROOM;
    const bodyStart = pos;
    buf[pos++] = TAG_LABELS;
    pos = writeVarint(buf, pos, text.length);
    pos += text.copy(buf, pos);
    out.pos = pos;

    for (let k = firstOf[s]!, end = firstOf[s + 1]!; k < end; k++) {
      const e = order[k]!;
      const lineStart = entryLineStart[e]!;
      const metaStart = meta === undefined ? 0 : entryMetaStart[e]!;
      const metaLength = meta === undefined ? 0 : entryMetaEnd[e]! - metaStart;
      if (lineStart >= 0) {
        const decode = messageLines && entryPlainStart[e]! > 0;
        writeEntry(out, e, ndjson, lineStart, entryLineEnd[e]!, decode, meta, metaStart, metaLength);
      } else {
        const line = Buffer.from(slowLines[-1 - lineStart]!, 'utf8');
        writeEntry(out, e, line, 0, line.length, false, meta, metaStart, metaLength);
      }
    }

    // The stream's length is known only now: write it into the room kept, closing any gap.
    buf = out.buf;
    pos = out.pos;
    const bodyLength = pos - bodyStart;
    const lengthSize = varintSize(bodyLength);
    if (lengthSize < STREAM_LENGTH_ROOM) {
      buf.copyWithin(lengthAt + lengthSize, bodyStart, pos);
      pos -= STREAM_LENGTH_ROOM - lengthSize;
    }
    writeVarint(buf, lengthAt, bodyLength);
    out.pos = pos;
  }
  return out.buf.subarray(0, out.pos);
}

/**
 * One EntryAdapter field: timestamp, the line `src[start, end)` (decoded first when `decode`),
 * then the entry's metadata pairs as they are in `meta`.
 */
function writeEntry(out: Out, e: number, src: Buffer, start: number, end: number, decode: boolean, meta: Buffer | undefined, metaStart: number, metaLength: number): void {
  const secs = entrySecs[e]!;
  const nanos = entryNanos[e]!;
  const tsLength = (secs > 0 ? 1 + varintSize(secs) : 0) + (nanos > 0 ? 1 + varintSize(nanos) : 0);
  // A decoded line is never longer than its raw bytes: size the header for those, and close the gap after.
  let lineLength = end - start;
  const rawEntryLength = 2 + tsLength + 1 + varintSize(lineLength) + lineLength + metaLength;
  const rawHeader = 1 + varintSize(rawEntryLength) + 2 + tsLength + 1 + varintSize(lineLength);
  out.ensure(rawHeader + lineLength + metaLength);
  const buf = out.buf;
  let pos = out.pos;
  let lineAt = pos + rawHeader;
  if (decode) {
    lineLength = unescapeCanonicalInto(buf, lineAt, src, start, end) - lineAt;
    const entryLength = 2 + tsLength + 1 + varintSize(lineLength) + lineLength + metaLength;
    const header = 1 + varintSize(entryLength) + 2 + tsLength + 1 + varintSize(lineLength);
    if (header < rawHeader) {
      buf.copyWithin(pos + header, lineAt, lineAt + lineLength);
      lineAt = pos + header;
    }
    pos = writeEntryHeader(buf, pos, entryLength, secs, nanos, tsLength, lineLength);
  } else {
    pos = writeEntryHeader(buf, pos, rawEntryLength, secs, nanos, tsLength, lineLength);
    src.copy(buf, lineAt, start, end);
  }
  pos = lineAt + lineLength;
  if (metaLength > 0) pos += meta!.copy(buf, pos, metaStart, metaStart + metaLength);
  out.pos = pos;
}

/** The EntryAdapter tag and length, its Timestamp, and the line's tag and length; returns where the line goes. */
function writeEntryHeader(buf: Buffer, pos: number, entryLength: number, secs: number, nanos: number, tsLength: number, lineLength: number): number {
  buf[pos++] = TAG_ENTRIES;
  pos = writeVarint(buf, pos, entryLength);
  // Zero fields are left out, as protobuf encoders do; the timestamp itself is always there.
  buf[pos++] = TAG_TIMESTAMP;
  buf[pos++] = tsLength;
  if (secs > 0) {
    buf[pos++] = TAG_SECONDS;
    pos = writeVarint(buf, pos, secs);
  }
  if (nanos > 0) {
    buf[pos++] = TAG_NANOS;
    pos = writeVarint(buf, pos, nanos);
  }
  buf[pos++] = TAG_LINE;
  return writeVarint(buf, pos, lineLength);
}
