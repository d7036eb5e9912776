// The Loki encoder: a batch becomes one push body (Loki's JSON document, or its protobuf
// PushRequest, protobuf-push.ts), read straight from the batch's NDJSON bytes. Each line is
// scanned once with the shared JSON toolkit (src/codec/json-scan.ts) for the spans of the
// fields Loki needs; streams are found by the bytes of their label values (stream-keys.ts);
// timestamps become numbers from their digits; lines are escaped from the batch's bytes into
// the body. Nothing is decoded or allocated per entry. A line the scan cannot read exactly
// (escaped or duplicated keys, a field of another type, a line too long, ...) goes through
// JSON.parse and into the same per-entry state and the same writers.
import { FIELD_SPANS_STRIDE, SPANS_UNKNOWN, fieldSpansOf, readEntry } from '../../src/pipeline/batch.js';
import {
  EntryView,
  FIELD_APP_INSTANCE,
  FIELD_APP_NAME,
  FIELD_HOST,
  FIELD_LOG_LEVEL,
  FIELD_MESSAGE,
  FIELD_PROCESS_GROUP,
  FIELD_PROVIDER,
  FIELD_REGION,
  FIELD_TIMESTAMP,
  FIELD_ZONE,
  FLY_FIELDS,
  FLY_FIELD_SLOTS,
  appLevel,
  entryLevel,
  messageFields,
  parseBody,
  type FlyLogBody,
} from '../../src/intake/entry.js';
import { gzip } from '../../src/codec/compress.js';
import type { Batch, EncodedBatch } from '../../src/pipeline/sink.js';
import type { LabelField, MetadataField } from './config.js';
import {
  GZIP_LEVEL,
  SecondsCache,
  cutUtf8,
  fieldValue,
  logfmtLine,
  nanosOf,
  normaliseLevel,
  streamLabels,
  truncateJsonLine,
  type AdjustReason,
  type LokiEncodeOptions,
} from './labels.js';
import { LEVEL_NAMES, LEVEL_UNKNOWN, foldLevel, levelIndex } from './level-fold.js';
import { ABSENT, NOT_PLAIN, isCanonicalJsonString, scanJson, escapeJsonInto, type ScanResult } from '../../src/codec/json-scan.js';
import { StreamKeys } from './stream-keys.js';
import {
  entryLineEnd,
  entryLineStart,
  entryMetaEnd,
  entryMetaStart,
  entryNanos,
  entryPlainEnd,
  entryPlainStart,
  entrySecs,
  entryStream,
  groupByStream,
  growEntries,
  order,
  type PushState,
} from './batch-entries.js';
import { writeMetaPair, writeProtobufPush } from './protobuf-push.js';
import { Out, releasePushBuffer } from './out.js';
import type { PushFormat } from './config.js';
import { snappyBody } from './snappy.js';
import { flyFractionNanos, wholeSeconds } from './timestamp-bytes.js';

// The spans of the line scanned last and what the scan said (module scratch: encoding is synchronous).
const lineSpans = new Int32Array(FLY_FIELD_SLOTS * 2);
const lineScan: ScanResult = { valid: false, multiline: false, ambiguous: false, escaped: 0 };
/** Whether the last line's message has escapes, and (message lines) whether its raw bytes are JSON.stringify's. */
const messageScan = { escaped: false, canonical: true };

function presentAndNonEmpty(slot: number): boolean {
  const start = lineSpans[slot * 2]!;
  return start >= 0 && lineSpans[slot * 2 + 1]! > start;
}

/**
 * Scans the line `b[start, end)` into lineSpans and messageScan. True when the intake keeps
 * such a line byte for byte (valid, one line, no duplicate wanted key, the routing fields
 * plain non-empty strings) and every wanted field is a plain string or absent, so the spans
 * give exactly what JSON.parse would; false: take the JSON.parse path for this line.
 */
function scanFlyLine(b: Buffer, start: number, end: number, checkMessage: boolean): boolean {
  scanJson(b, FLY_FIELDS, lineSpans, lineScan, start, end);
  if (!lineScan.valid || lineScan.multiline || lineScan.ambiguous) return false;
  return fieldsUsable(b, checkMessage);
}

/**
 * scanFlyLine for a line the intake scanned already: its spans from the batch (line `e` of
 * fieldSpansOf), the same checks. The intake kept the line byte for byte only when it was
 * valid, one line and unambiguous, with its routing fields plain.
 */
function readFlyLine(b: Buffer, spans: Int32Array, e: number, checkMessage: boolean): boolean {
  const at = e * FIELD_SPANS_STRIDE;
  for (let k = 0; k < FLY_FIELD_SLOTS * 2; k++) lineSpans[k] = spans[at + k]!;
  lineScan.escaped = spans[at + FLY_FIELD_SLOTS * 2]!;
  return fieldsUsable(b, checkMessage);
}

function fieldsUsable(b: Buffer, checkMessage: boolean): boolean {
  for (let k = 0; k < FLY_FIELD_SLOTS; k++) if (lineSpans[k * 2] === NOT_PLAIN) return false;
  if (!(presentAndNonEmpty(FIELD_TIMESTAMP) && presentAndNonEmpty(FIELD_REGION) && presentAndNonEmpty(FIELD_APP_NAME) && presentAndNonEmpty(FIELD_APP_INSTANCE))) return false;
  const escaped = (lineScan.escaped & (1 << FIELD_MESSAGE)) !== 0;
  messageScan.escaped = escaped;
  messageScan.canonical = !escaped || !checkMessage || lineSpans[FIELD_MESSAGE * 2] === ABSENT || isCanonicalJsonString(b, lineSpans[FIELD_MESSAGE * 2]!, lineSpans[FIELD_MESSAGE * 2 + 1]!);
  return true;
}

/** A message at least this long and without escapes is copied into the body natively rather than byte by byte. */
const COPY_MESSAGE_BYTES = 128;

/** A label or metadata field that is the folded level rather than a span of the line. */
const LEVEL_FIELD = -1;

const FIELD_SLOTS: Readonly<Record<MetadataField, number>> = {
  fly_app_name: FIELD_APP_NAME,
  fly_region: FIELD_REGION,
  fly_app_instance: FIELD_APP_INSTANCE,
  host: FIELD_HOST,
  event_provider: FIELD_PROVIDER,
  level: LEVEL_FIELD,
  process_group: FIELD_PROCESS_GROUP,
  zone: FIELD_ZONE,
};

// A level as a key component: one byte, its index in LEVEL_NAMES.
const LEVEL_BYTES = Buffer.from(LEVEL_NAMES.map((_, i) => i));
const LEVEL_NAME_BYTES = LEVEL_NAMES.map((name) => Buffer.from(`"${name}"`, 'latin1'));
const LEVEL_TEXT = LEVEL_NAMES.map((name) => Buffer.from(name, 'latin1'));

/**
 * One batch's encoding state. The streams and the raw label-value keys that lead to them
 * are per batch; the per-entry arrays above are shared scratch (encoding is synchronous).
 */
export class BatchPushBuilder implements PushState {
  readonly #o: LokiEncodeOptions;
  readonly #protobuf: boolean;
  readonly #batch: Batch;
  readonly #ndjson: Buffer;
  readonly #receivedAtMs: number;
  readonly #messageLines: boolean;
  readonly #needsLevel: boolean;
  /** Per label, in priority order: its span slot, or LEVEL_FIELD. */
  readonly #labelSlots: Int32Array;
  /** Per metadata field: its span slot, or LEVEL_FIELD; and `"name":` as bytes. */
  readonly #metaSlots: Int32Array;
  /** Per metadata field: `"name":` (JSON push) or the bare name (protobuf push), as bytes. */
  readonly #metaNames: readonly Buffer[];
  readonly #metaFields: readonly MetadataField[];
  /**
   * Structured metadata of all entries, one after another (entryMetaStart/End index into it):
   * a JSON object per entry, or for the protobuf push its encoded LabelPairAdapter fields.
   */
  readonly #meta: Out | undefined;

  /** Raw label sets of this sink's options, kept across batches; `#batch` stamps which keys this batch has met. */
  readonly #keys: StreamKeys;
  readonly #batchNumber = ++batchCount;
  /** Tests: every line through JSON.parse, to check the scan against it. */
  readonly #parseEveryLine: boolean;

  // Streams, by id (the order of first appearance, as buildPush's Map keeps them).
  readonly #streamByLabels = new Map<string, number>();
  readonly #streamLabels: string[] = [];
  #streamSanitised: Uint8Array = new Uint8Array(64);
  #streamLimited: Uint8Array = new Uint8Array(64);
  #streamSize: Int32Array = new Int32Array(64);
  #streamSorted: Uint8Array = new Uint8Array(64);
  #streamLastSecs: Float64Array = new Float64Array(64);
  #streamLastNanos: Int32Array = new Int32Array(64);

  /** Lines of entries that took the entry-based path. */
  readonly #slowLines: string[] = [];
  readonly #seconds = new SecondsCache();
  readonly #view = new EntryView();
  // The whole-seconds text last converted (its offset in the batch) and its value.
  #lastSecondsAt = -1;
  #lastSeconds = -1;

  entryCount = 0;
  get streamCount(): number {
    return this.#streamLabels.length;
  }
  truncated = 0;
  sanitised = 0;
  limited = 0;
  badTime = 0;

  constructor(batch: Batch, o: LokiEncodeOptions, format: PushFormat = 'json', parseEveryLine = false) {
    // logfmt lines are rebuilt from the parsed entry (fly-log-shipper's OpsVerse shape).
    this.#parseEveryLine = parseEveryLine || o.lineFormat === 'logfmt';
    this.#o = o;
    this.#protobuf = format === 'protobuf';
    this.#batch = batch;
    this.#ndjson = batch.ndjson;
    this.#receivedAtMs = batch.receivedAtMs;
    this.#messageLines = o.lineFormat === 'message';
    this.#needsLevel = o.labels.includes('level') || o.structuredMetadata.includes('level');
    this.#labelSlots = Int32Array.from(o.labels, (l: LabelField) => FIELD_SLOTS[l]);
    this.#metaFields = o.structuredMetadata;
    this.#metaSlots = Int32Array.from(o.structuredMetadata, (f) => FIELD_SLOTS[f]);
    this.#metaNames = o.structuredMetadata.map((f) => Buffer.from(this.#protobuf ? f : `"${f}":`, 'latin1'));
    this.#meta = o.structuredMetadata.length > 0 ? new Out(1024, false) : undefined;
    let keys = keysByOptions.get(o);
    if (keys === undefined) {
      keys = new StreamKeys(o, o.labels.map((l) => l === 'level'), LEVEL_NAMES, LEVEL_BYTES);
      keysByOptions.set(o, keys);
    }
    keys.trim();
    this.#keys = keys;
  }

  /** Reads every line of the batch into streams. */
  readAll(): void {
    const ndjson = this.#ndjson;
    const limit = ndjson.length;
    const checkMessage = this.#messageLines;
    // The intake's spans of each line, when the batch kept them (entry i is line i).
    const spans = this.#parseEveryLine ? undefined : fieldSpansOf(ndjson);
    let line = 0;
    let start = 0;
    while (start < limit) {
      const e = this.entryCount;
      if (e >= entryStream.length) growEntries(e + 1);
      let end = ndjson.indexOf(10, start);
      if (end < 0) end = limit;
      const l = line++;
      const known = spans !== undefined && l * FIELD_SPANS_STRIDE < spans.length && spans[l * FIELD_SPANS_STRIDE] !== SPANS_UNKNOWN;
      if (
        end > start &&
        !this.#parseEveryLine &&
        (known ? readFlyLine(ndjson, spans, l, checkMessage) : scanFlyLine(ndjson, start, end, checkMessage)) &&
        this.#fastEntry(e, start, end)
      ) {
        this.entryCount++;
        start = end + 1;
        continue;
      }
      // An empty line is no entry (the intake drops empty payloads).
      if (end > start) {
        this.#slowEntry(e, start, end);
        this.entryCount++;
      }
      start = end + 1;
    }
  }

  /** An entry from the scanned spans; false (nothing recorded) when it needs the entry-based path after all. */
  #fastEntry(e: number, start: number, end: number): boolean {
    const o = this.#o;
    const ndjson = this.#ndjson;
    let lineStart = start;
    let lineEnd = end;
    if (this.#messageLines) {
      // Raw message bytes go out as they are only when they are what JSON.stringify would write.
      if (!messageScan.canonical) return false;
      lineStart = lineSpans[FIELD_MESSAGE * 2]!;
      lineEnd = lineSpans[FIELD_MESSAGE * 2 + 1]!;
      if (lineStart < 0) lineStart = lineEnd = 0;
      // Unescaping never makes text longer, so raw bytes within the limit are within it decoded.
      if (lineEnd - lineStart > o.maxLineBytes) return false;
    } else if (end - start > o.maxLineBytes) {
      return false;
    }

    const level = this.#needsLevel ? this.#scannedLevel() : LEVEL_UNKNOWN;
    const slots = this.#labelSlots;
    const keys = this.#keys;
    for (let c = 0; c < slots.length; c++) {
      const slot = slots[c]!;
      if (slot === LEVEL_FIELD) {
        keys.componentBuf[c] = LEVEL_BYTES;
        keys.componentStart[c] = level;
        keys.componentEnd[c] = level + 1;
      } else {
        const s = lineSpans[slot * 2]!;
        keys.componentBuf[c] = ndjson;
        keys.componentStart[c] = s < 0 ? 0 : s;
        keys.componentEnd[c] = s < 0 ? 0 : lineSpans[slot * 2 + 1]!;
      }
    }
    const k = keys.find();
    let stream: number;
    if (keys.batchOf[k] === this.#batchNumber) {
      stream = keys.streamOf[k]!;
    } else {
      stream = this.#streamFor(keys.labelsJson[k]!, keys.sanitised[k] === 1, keys.limited[k] === 1);
      keys.batchOf[k] = this.#batchNumber;
      keys.streamOf[k] = stream;
    }

    const tsStart = lineSpans[FIELD_TIMESTAMP * 2]!;
    const tsEnd = lineSpans[FIELD_TIMESTAMP * 2 + 1]!;
    const nanos = flyFractionNanos(ndjson, tsStart, tsEnd);
    let secs = -1;
    if (nanos >= 0) {
      if (this.#lastSecondsAt >= 0 && sameSecondsText(ndjson, tsStart, this.#lastSecondsAt)) {
        secs = this.#lastSeconds;
      } else {
        secs = wholeSeconds(ndjson, tsStart);
        this.#lastSecondsAt = tsStart;
        this.#lastSeconds = secs;
      }
    }
    if (secs >= 0) this.#record(e, stream, secs, nanos);
    else this.#recordTimestamp(e, stream, ndjson.toString('utf8', tsStart, tsEnd));

    entryLineStart[e] = lineStart;
    entryLineEnd[e] = lineEnd;
    const msgStart = lineSpans[FIELD_MESSAGE * 2]!;
    const msgEnd = lineSpans[FIELD_MESSAGE * 2 + 1]!;
    // Nothing in an unescaped message needs escaping: no quote, backslash or control character.
    const copyMessage = !this.#messageLines && msgStart >= 0 && !messageScan.escaped && msgEnd - msgStart >= COPY_MESSAGE_BYTES;
    // Message lines: whether the raw bytes hold escapes (the protobuf push carries the text decoded).
    entryPlainStart[e] = copyMessage ? msgStart : this.#messageLines && messageScan.escaped ? 1 : -1;
    entryPlainEnd[e] = msgEnd;
    if (this.#meta !== undefined) this.#scannedMeta(e, level);
    return true;
  }

  /** The folded level of the scanned line: the app's own when its message is JSON with one, else log.level. */
  #scannedLevel(): number {
    const ndjson = this.#ndjson;
    const msgStart = lineSpans[FIELD_MESSAGE * 2]!;
    const msgEnd = lineSpans[FIELD_MESSAGE * 2 + 1]!;
    // A message can only be a JSON object with members when it starts with `{` (or an escape
    // that may decode to one) and has escapes (a member's key needs quotes, which are escaped).
    if (msgStart >= 0 && msgEnd - msgStart >= 2 && messageScan.escaped && (ndjson[msgStart] === 123 || ndjson[msgStart] === 92)) {
      levelProbe.message = JSON.parse(ndjson.toString('utf8', msgStart - 1, msgEnd + 1)) as string;
      const fields = messageFields(levelProbe);
      levelProbe.message = '';
      const own = fields === undefined ? undefined : appLevel(fields);
      if (own !== undefined) return levelIndex(normaliseLevel(own));
    }
    const s = lineSpans[FIELD_LOG_LEVEL * 2]!;
    return s < 0 ? LEVEL_UNKNOWN : foldLevel(ndjson, s, lineSpans[FIELD_LOG_LEVEL * 2 + 1]!);
  }

  /** The scanned entry's structured metadata, written as JSON into #meta. */
  #scannedMeta(e: number, level: number): void {
    if (this.#protobuf) {
      this.#scannedMetaPairs(e, level);
      return;
    }
    const meta = this.#meta!;
    const ndjson = this.#ndjson;
    const start = meta.pos;
    for (let f = 0; f < this.#metaSlots.length; f++) {
      const slot = this.#metaSlots[f]!;
      const name = this.#metaNames[f]!;
      let s = 0;
      let end = 0;
      if (slot !== LEVEL_FIELD) {
        s = lineSpans[slot * 2]!;
        end = lineSpans[slot * 2 + 1]!;
        if (s < 0 || end === s) continue;
      }
      meta.ensure(name.length + (end - s) + 16);
      const buf = meta.buf;
      const firstField = meta.pos === start;
      buf[meta.pos++] = firstField ? 123 /* { */ : 44; /* , */
      meta.pos += name.copy(buf, meta.pos);
      if (slot === LEVEL_FIELD) {
        meta.pos += LEVEL_NAME_BYTES[level]!.copy(buf, meta.pos);
      } else {
        // A plain string's bytes are exactly JSON.stringify's output for it, between quotes.
        buf[meta.pos++] = 34;
        meta.pos += ndjson.copy(buf, meta.pos, s, end);
        buf[meta.pos++] = 34;
      }
    }
    if (meta.pos > start) {
      meta.ensure(1);
      meta.buf[meta.pos++] = 125; /* } */
    }
    entryMetaStart[e] = start;
    entryMetaEnd[e] = meta.pos;
  }

  /** The scanned entry's structured metadata as protobuf LabelPairAdapter fields into #meta. */
  #scannedMetaPairs(e: number, level: number): void {
    const meta = this.#meta!;
    entryMetaStart[e] = meta.pos;
    for (let f = 0; f < this.#metaSlots.length; f++) {
      const slot = this.#metaSlots[f]!;
      if (slot === LEVEL_FIELD) {
        const name = LEVEL_TEXT[level]!;
        writeMetaPair(meta, this.#metaNames[f]!, name, 0, name.length);
      } else {
        // A scanned span is a plain string: its bytes are the value's UTF-8.
        const s = lineSpans[slot * 2]!;
        const end = lineSpans[slot * 2 + 1]!;
        if (s >= 0 && end > s) writeMetaPair(meta, this.#metaNames[f]!, this.#ndjson, s, end);
      }
    }
    entryMetaEnd[e] = meta.pos;
  }

  /** The JSON.parse path for one line: rare, so strings and objects are fine. */
  #slowEntry(e: number, start: number, end: number): void {
    const o = this.#o;
    const entry = readEntry(this.#batch, start, end, this.#view)!;
    const body: FlyLogBody = parseBody(entry);
    const levelName = this.#needsLevel ? normaliseLevel(entryLevel(body)) : '';

    const values: string[] = o.labels.map((label) => fieldValue(label, entry, body, levelName));
    // Worked out directly, not by byte key: a value that is not well-formed UTF-16 shares its
    // bytes with another one, whose sanitised flag would then follow the key into later batches.
    const labels = streamLabels(values, o);
    const stream = this.#streamFor(labels.labelsJson, labels.sanitised, labels.limited);
    this.#recordTimestamp(e, stream, entry.timestamp);

    let line: string;
    if (this.#messageLines) {
      const m = body.message;
      line = typeof m === 'string' ? m : m === undefined || m === null ? '' : JSON.stringify(m);
      if (line.length * 3 > o.maxLineBytes && Buffer.byteLength(line) > o.maxLineBytes) {
        line = `${cutUtf8(line, o.maxLineBytes - 3)}…`;
        this.truncated++;
      }
    } else if (o.lineFormat === 'logfmt') {
      line = logfmtLine(body);
      if (line.length * 3 > o.maxLineBytes && Buffer.byteLength(line) > o.maxLineBytes) {
        line = `${cutUtf8(line, o.maxLineBytes - 3)}…`;
        this.truncated++;
      }
    } else if (entry.bytes > o.maxLineBytes) {
      line = truncateJsonLine(body, entry.line, o.maxLineBytes);
      this.truncated++;
    } else {
      line = entry.line;
    }
    entryLineStart[e] = -1 - this.#slowLines.length;
    entryPlainStart[e] = -1;
    entryLineEnd[e] = 0;
    this.#slowLines.push(line);

    const meta = this.#meta;
    if (meta !== undefined && this.#protobuf) {
      entryMetaStart[e] = meta.pos;
      for (let f = 0; f < this.#metaFields.length; f++) {
        const v = Buffer.from(fieldValue(this.#metaFields[f]!, entry, body, levelName), 'utf8');
        if (v.length > 0) writeMetaPair(meta, this.#metaNames[f]!, v, 0, v.length);
      }
      entryMetaEnd[e] = meta.pos;
    } else if (meta !== undefined) {
      let text = '';
      for (const field of this.#metaFields) {
        const v = fieldValue(field, entry, body, levelName);
        if (v !== '') text += `${text === '' ? '{' : ','}"${field}":${JSON.stringify(v)}`;
      }
      entryMetaStart[e] = meta.pos;
      if (text !== '') meta.text(`${text}}`);
      entryMetaEnd[e] = meta.pos;
    }
  }

  /** Records a timestamp the byte path did not convert: through nanosOf, or the receive time when it is no timestamp. */
  #recordTimestamp(e: number, stream: number, timestamp: string): void {
    const ns = nanosOf(timestamp, this.#seconds);
    if (ns === undefined) {
      this.badTime++;
      const ms = Math.trunc(this.#receivedAtMs);
      if (ms > 0) this.#record(e, stream, Math.floor(ms / 1000), (ms % 1000) * 1_000_000);
      else this.#record(e, stream, 0, 0);
    } else if (ns.length <= 9) {
      this.#record(e, stream, 0, Number(ns));
    } else {
      this.#record(e, stream, Number(ns.slice(0, -9)), Number(ns.slice(-9)));
    }
  }

  #record(e: number, stream: number, secs: number, nanos: number): void {
    entryStream[e] = stream;
    entrySecs[e] = secs;
    entryNanos[e] = nanos;
    if (this.#streamSanitised[stream] === 1) this.sanitised++;
    if (this.#streamLimited[stream] === 1) this.limited++;
    const size = this.#streamSize[stream]!;
    if (size > 0 && this.#streamSorted[stream] === 1) {
      const lastSecs = this.#streamLastSecs[stream]!;
      if (secs < lastSecs || (secs === lastSecs && nanos < this.#streamLastNanos[stream]!)) this.#streamSorted[stream] = 0;
    }
    this.#streamLastSecs[stream] = secs;
    this.#streamLastNanos[stream] = nanos;
    this.#streamSize[stream] = size + 1;
  }

  /** The batch's stream for a label set; a new one takes the flags of the first entry that has it, as buildPush's streams do. */
  #streamFor(labelsJson: string, sanitised: boolean, limited: boolean): number {
    let stream = this.#streamByLabels.get(labelsJson);
    if (stream === undefined) {
      stream = this.#streamLabels.length;
      this.#streamLabels.push(labelsJson);
      this.#streamByLabels.set(labelsJson, stream);
      if (stream >= this.#streamSize.length) this.#growStreams();
      this.#streamSanitised[stream] = sanitised ? 1 : 0;
      this.#streamLimited[stream] = limited ? 1 : 0;
      this.#streamSize[stream] = 0;
      this.#streamSorted[stream] = 1;
    }
    return stream;
  }

  #growStreams(): void {
    const size = this.#streamSize.length * 2;
    const grow8 = (a: Uint8Array): Uint8Array => {
      const b = new Uint8Array(size);
      b.set(a);
      return b;
    };
    this.#streamSanitised = grow8(this.#streamSanitised);
    this.#streamLimited = grow8(this.#streamLimited);
    this.#streamSorted = grow8(this.#streamSorted);
    this.#streamSize = grownInt32(this.#streamSize);
    this.#streamLastNanos = grownInt32(this.#streamLastNanos);
    const secs = new Float64Array(size);
    secs.set(this.#streamLastSecs);
    this.#streamLastSecs = secs;
  }

  // What the protobuf writer reads (it writes the same streams, values and order from the same state).
  get ndjson(): Buffer {
    return this.#ndjson;
  }
  get messageLines(): boolean {
    return this.#messageLines;
  }
  /** Per stream: its label set as the JSON push's `stream` object. */
  get streamLabelsJson(): readonly string[] {
    return this.#streamLabels;
  }
  /** Lines of entries that took the entry-based path (entryLineStart `-1 - i`). */
  get slowLines(): readonly string[] {
    return this.#slowLines;
  }
  /** The metadata buffer entryMetaStart/End index into; undefined without structured metadata. */
  get metaBuffer(): Buffer | undefined {
    return this.#meta?.buf;
  }

  /** Groups the entries by stream into `order`, each stream in time order; see groupByStream. */
  group(): Int32Array {
    return groupByStream(this.entryCount, this.#streamLabels.length, this.#streamSize, this.#streamSorted);
  }

  /** Writes the push document: streams in order of first appearance, each one's values in time order. */
  write(): Buffer {
    const count = this.entryCount;
    const streams = this.#streamLabels.length;
    const firstOf = this.group();

    const ndjson = this.#ndjson;
    // Escaping adds ~15 % to Fly lines (every quote of the JSON gets a backslash), each value ~40 bytes of framing.
    const out = new Out(ndjson.length + (ndjson.length >>> 2) + count * 48 + (this.#meta?.pos ?? 0) + 64);
    out.text('{"streams":[');
    for (let s = 0; s < streams; s++) {
      out.text(s === 0 ? '{"stream":' : ',{"stream":');
      out.text(this.#streamLabels[s]!);
      out.text(',"values":[');
      const first = firstOf[s]!;
      const end = firstOf[s + 1]!;
      for (let k = first; k < end; k++) this.#writeValue(out, order[k]!, k > first);
      out.text(']}');
    }
    out.text(']}');
    return out.buf.subarray(0, out.pos);
  }

  /** `["<ns>","<line>"]` or `["<ns>","<line>",{metadata}]`, after a comma unless it is the stream's first. */
  #writeValue(out: Out, e: number, comma: boolean): void {
    const lineStart = entryLineStart[e]!;
    const lineEnd = entryLineEnd[e]!;
    const metaStart = this.#meta === undefined ? 0 : entryMetaStart[e]!;
    const metaLength = this.#meta === undefined ? 0 : entryMetaEnd[e]! - metaStart;
    let slowJson = '';
    let room = 48 + metaLength;
    if (lineStart >= 0) {
      // Every byte escaped is at most 6 (`\u00xx`).
      room += (lineEnd - lineStart) * (this.#messageLines ? 1 : 6);
    } else {
      slowJson = JSON.stringify(this.#slowLines[-1 - lineStart]!);
      room += slowJson.length * 3;
    }
    out.ensure(room);
    const buf = out.buf;
    let pos = out.pos;
    if (comma) buf[pos++] = 44; /* , */
    buf[pos++] = 91; /* [ */
    buf[pos++] = 34; /* " */
    pos = writeNanos(buf, pos, entrySecs[e]!, entryNanos[e]!);
    buf[pos++] = 34;
    buf[pos++] = 44;
    if (lineStart < 0) {
      pos += buf.write(slowJson, pos, 'utf8');
    } else if (this.#messageLines) {
      // The message's raw bytes are already JSON.stringify's (the scan checked its escapes).
      buf[pos++] = 34;
      pos += this.#ndjson.copy(buf, pos, lineStart, lineEnd);
      buf[pos++] = 34;
    } else {
      buf[pos++] = 34;
      const plainStart = entryPlainStart[e]!;
      if (plainStart < 0) {
        pos = escapeJsonInto(buf, pos, this.#ndjson, lineStart, lineEnd);
      } else {
        const plainEnd = entryPlainEnd[e]!;
        pos = escapeJsonInto(buf, pos, this.#ndjson, lineStart, plainStart);
        pos += this.#ndjson.copy(buf, pos, plainStart, plainEnd);
        pos = escapeJsonInto(buf, pos, this.#ndjson, plainEnd, lineEnd);
      }
      buf[pos++] = 34;
    }
    if (metaLength > 0) {
      buf[pos++] = 44;
      pos += this.#meta!.buf.copy(buf, pos, metaStart, metaStart + metaLength);
    }
    buf[pos++] = 93; /* ] */
    out.pos = pos;
  }
}

// Each options object's raw label sets (the sink keeps one options object for its life).
const keysByOptions = new WeakMap<LokiEncodeOptions, StreamKeys>();
// Numbers batches, so a key can tell whether this batch has met it yet.
let batchCount = 0;

// Handed to messageFields, which reads only `message`.
const levelProbe: FlyLogBody = { message: '' };

function grownInt32(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** The 19 bytes of `YYYY-MM-DDTHH:MM:SS` at `a` and at `b` are the same (seconds differ most, so they are compared first). */
function sameSecondsText(buf: Buffer, a: number, b: number): boolean {
  for (let k = 18; k >= 0; k--) if (buf[a + k] !== buf[b + k]) return false;
  return true;
}

// The last whole-seconds value written and its digits: values of a stream mostly share it.
let writtenSecs = -1;
const secsDigits = Buffer.alloc(24);
let secsDigitCount = 0;

/**
 * Nanoseconds since the epoch as decimal digits, as buildPush writes them: whole seconds
 * then 9 digits, or without leading zeros within the first second.
 */
function writeNanos(buf: Buffer, pos: number, secs: number, nanos: number): number {
  if (secs === 0) return writeDecimal(buf, pos, nanos);
  if (secs !== writtenSecs) {
    secsDigitCount = writeDecimal(secsDigits, 0, secs);
    writtenSecs = secs;
  }
  for (let k = 0; k < secsDigitCount; k++) buf[pos++] = secsDigits[k]!;
  for (let k = 8; k >= 0; k--) {
    buf[pos + k] = 48 + (nanos % 10);
    nanos = (nanos - (nanos % 10)) / 10;
  }
  return pos + 9;
}

/** A non-negative integer in decimal at `pos`; returns the index after it. */
function writeDecimal(buf: Buffer, pos: number, v: number): number {
  let digits = 1;
  for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
  for (let k = digits - 1; k >= 0; k--) {
    buf[pos + k] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return pos + digits;
}

export interface PushBuffer {
  /** The push body, uncompressed: the JSON document for `POST /loki/api/v1/push`, or the protobuf PushRequest. */
  readonly body: Buffer;
  readonly entryCount: number;
  readonly streamCount: number;
  readonly adjusted: Partial<Record<AdjustReason, number>>;
}

/**
 * The push for a batch, uncompressed, in either format from one scan: `json` the JSON
 * document, `protobuf` the logproto.PushRequest carrying the same streams, values and order.
 * Pure: the same batch and options give the same bytes. `parseEveryLine` (tests): read every
 * line through JSON.parse, which must give the very same bytes.
 */
export function buildPush(batch: Batch, o: LokiEncodeOptions, format: PushFormat = 'json', parseEveryLine = false): PushBuffer {
  const builder = new BatchPushBuilder(batch, o, format, parseEveryLine);
  builder.readAll();
  const body = format === 'protobuf' ? writeProtobufPush(builder) : builder.write();
  const adjusted: Partial<Record<AdjustReason, number>> = {};
  if (builder.truncated > 0) adjusted.line_truncated = builder.truncated;
  if (builder.sanitised > 0) adjusted.label_sanitised = builder.sanitised;
  if (builder.limited > 0) adjusted.labels_limited = builder.limited;
  if (builder.badTime > 0) adjusted.timestamp_invalid = builder.badTime;
  return { body, entryCount: builder.entryCount, streamCount: builder.streamCount, adjusted };
}

/**
 * The push body of a batch: the snappy-compressed protobuf push (snappy is several times
 * cheaper than gzip level 1 here, so it runs inline, into a pooled buffer the sink gives
 * back once the push is accepted), or the gzip JSON push (compressed on the libuv pool).
 */
export async function encodePush(batch: Batch, o: LokiEncodeOptions, format: PushFormat): Promise<EncodedBatch> {
  const push = buildPush(batch, o, format);
  let body: Buffer;
  try {
    body = format === 'protobuf' ? snappyBody(push.body) : await gzip(push.body, GZIP_LEVEL);
  } finally {
    releasePushBuffer(push.body);
  }
  const adjusted = Object.keys(push.adjusted).length > 0 ? push.adjusted : undefined;
  return adjusted === undefined ? { body, entryCount: push.entryCount } : { body, entryCount: push.entryCount, adjusted };
}

export type { LokiEncodeOptions } from './labels.js';
