// On-disk framing of spool records and acknowledgements. Pure functions, no I/O.
//
// Record = 28-byte header + payload.
//   0  magic        F7 4C 46 53  (0xF7 never occurs in UTF-8, so payload text cannot fake a record start)
//   4  u32 LE       payload length in bytes
//   8  u48 LE       seq
//  14  u16 LE       format version (1 or 2; both are read, 2 is written)
//  16  u32 LE       entry count
//  20  u32 LE       CRC32 of the payload
//  24  u32 LE       CRC32 of bytes 0..23 (a damaged length or seq is caught before it is trusted)
// Payload = UTF-8 text, lines joined by "\n": JSON string of the partition, (version 2) JSON
// array [batch key, batch receivedAtMs], then one line per entry. Entry lines never hold a raw newline
// (they are single-line JSON), so "\n" frames them.
//
// The key is the batch's durable name stem (object key / file name in the archive sinks):
// fixed when the batch was made, so every replay of the record writes the same object. A
// version-1 record (or a version-2 one written without a key) gets a key derived from its
// payload's SHA-256: as stable across restarts, and unlike a spool seq (which restarts at 1
// once the spool is emptied) it can only repeat for a byte-identical batch, whose object an
// overwrite leaves unchanged.
//
// Ack entry = 8 bytes: u48 LE seq + u16 LE check (low half of the seq bytes' CRC32), so a
// zero-filled or torn tail of an ack file is recognised and ignored.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const RECORD_MAGIC: Buffer = Buffer.from([0xf7, 0x4c, 0x46, 0x53]);
export const HEADER_BYTES = 28;
export const FORMAT_VERSION = 2;
/** The first format (no key in the payload); still read. */
export const FORMAT_VERSION_1 = 1;
/** Larger payloads could not be decoded into one string; no real batch comes close. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;
export const ACK_ENTRY_BYTES = 8;

export interface RecordHeader {
  readonly payloadBytes: number;
  readonly seq: number;
  readonly entries: number;
  readonly payloadCrc: number;
  readonly version: number;
}

/** The whole record (header and payload) in one buffer, ready for a single write. */
export function encodeRecord(seq: number, partition: string, lines: readonly string[], batch: BatchName = NO_NAME): Buffer {
  return encodeNdjsonRecord(seq, partition, Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8'), lines.length, batch);
}

/**
 * The same record from `count` lines as NDJSON bytes (each line followed by "\n", as a
 * batch holds them): the payload is the partition, "\n", then the lines, so the batch's
 * bytes are copied in once, never split into strings and joined again.
 */
export function encodeNdjsonRecord(seq: number, partition: string, ndjson: Uint8Array, count: number, batch: BatchName = NO_NAME, version: 1 | 2 = FORMAT_VERSION): Buffer {
  return Buffer.concat(encodeNdjsonRecordParts(seq, partition, ndjson, count, batch, version));
}

/**
 * The record as the pieces of one vectored write: the header with the partition and name,
 * then the batch's own bytes (a view, not a copy: it must stay unchanged until written).
 */
export function encodeNdjsonRecordParts(seq: number, partition: string, ndjson: Uint8Array, count: number, batch: BatchName = NO_NAME, version: 1 | 2 = FORMAT_VERSION): Buffer[] {
  const name = version === FORMAT_VERSION_1 ? '' : `\n${JSON.stringify([batch.key, batch.receivedAtMs ?? 0])}`;
  const head = JSON.stringify(partition) + name;
  const headBytes = Buffer.byteLength(head, 'utf8');
  // "\n" + the lines without the last "\n" is as long as the NDJSON itself.
  const lines = count === 0 ? undefined : Buffer.from(ndjson.buffer, ndjson.byteOffset, ndjson.length - 1);
  const front = Buffer.allocUnsafe(HEADER_BYTES + headBytes + (lines === undefined ? 0 : 1));
  front.write(head, HEADER_BYTES, 'utf8');
  if (lines !== undefined) front[HEADER_BYTES + headBytes] = 0x0a;
  const payloadBytes = headBytes + (lines === undefined ? 0 : lines.length + 1);
  const frontCrc = crc32(front.subarray(HEADER_BYTES));
  const payloadCrc = lines === undefined ? frontCrc : crc32(lines, frontCrc);
  RECORD_MAGIC.copy(front, 0);
  front.writeUInt32LE(payloadBytes, 4);
  front.writeUIntLE(seq, 8, 6);
  front.writeUInt16LE(version, 14);
  front.writeUInt32LE(count, 16);
  front.writeUInt32LE(payloadCrc, 20);
  front.writeUInt32LE(crc32(front.subarray(0, 24)), 24);
  return lines === undefined || lines.length === 0 ? [front] : [front, lines];
}

/** The header at `offset`, or undefined when the bytes there are not an intact header. */
export function readHeader(buf: Buffer, offset = 0): RecordHeader | undefined {
  if (buf.length - offset < HEADER_BYTES) return undefined;
  if (
    buf[offset] !== RECORD_MAGIC[0] ||
    buf[offset + 1] !== RECORD_MAGIC[1] ||
    buf[offset + 2] !== RECORD_MAGIC[2] ||
    buf[offset + 3] !== RECORD_MAGIC[3]
  ) {
    return undefined;
  }
  if (crc32(buf.subarray(offset, offset + 24)) !== buf.readUInt32LE(offset + 24)) return undefined;
  const version = buf.readUInt16LE(offset + 14);
  if (version !== FORMAT_VERSION && version !== FORMAT_VERSION_1) return undefined;
  const payloadBytes = buf.readUInt32LE(offset + 4);
  if (payloadBytes > MAX_PAYLOAD_BYTES) return undefined;
  return {
    payloadBytes,
    seq: buf.readUIntLE(offset + 8, 6),
    entries: buf.readUInt32LE(offset + 16),
    payloadCrc: buf.readUInt32LE(offset + 20),
    version,
  };
}

export function payloadIntact(payload: Buffer, header: RecordHeader): boolean {
  return payload.length === header.payloadBytes && crc32(payload) === header.payloadCrc;
}

/** What a version-2 record keeps of its batch besides the lines: its name stem and receive time (name of last resort). */
export interface BatchName {
  /** '' when the batch has none: the key is then derived from the payload. */
  readonly key: string;
  readonly receivedAtMs?: number | undefined;
}

const NO_NAME: BatchName = { key: '' };

export interface DecodedPayload {
  readonly partition: string;
  /** The batch's durable name stem (see the top of this file). */
  readonly key: string;
  /** The batch's receive time; undefined for a version-1 record (or one written without). */
  readonly receivedAtMs: number | undefined;
  readonly lines: string[];
}

/** The key of a record that carries none: from its payload's SHA-256 (64 bits, hex). */
export function payloadKey(payload: Buffer): string {
  return `spool-${createHash('sha256').update(payload).digest('hex').slice(0, 16)}`;
}

/** Partition, key and lines of a payload whose CRC matched; undefined if it does not have the promised shape. */
export function decodePayload(payload: Buffer, entries: number, version: number = FORMAT_VERSION): DecodedPayload | undefined {
  const text = payload.toString('utf8');
  const heads = version === FORMAT_VERSION_1 ? 1 : 2;
  const fields: unknown[] = [];
  let pos = 0;
  let rest: string | undefined;
  for (let i = 0; i < heads; i++) {
    const nl = text.indexOf('\n', pos);
    try {
      fields.push(JSON.parse(nl === -1 ? text.slice(pos) : text.slice(pos, nl)));
    } catch {
      return undefined;
    }
    if (nl === -1) {
      if (i < heads - 1) return undefined;
      rest = undefined;
    } else {
      pos = nl + 1;
      rest = i === heads - 1 ? text.slice(pos) : '';
    }
  }
  const [partition, name = ['', 0]] = fields;
  if (typeof partition !== 'string' || !Array.isArray(name)) return undefined;
  const [storedKey, storedMs] = name as unknown[];
  if (typeof storedKey !== 'string' || typeof storedMs !== 'number') return undefined;
  const key = storedKey === '' ? payloadKey(payload) : storedKey;
  const receivedAtMs = storedMs > 0 ? storedMs : undefined;
  if (rest === undefined) return entries === 0 ? { partition, key, receivedAtMs, lines: [] } : undefined;
  const lines = rest.split('\n');
  return lines.length === entries ? { partition, key, receivedAtMs, lines } : undefined;
}

export function encodeAck(seq: number): Buffer {
  const buf = Buffer.allocUnsafe(ACK_ENTRY_BYTES);
  buf.writeUIntLE(seq, 0, 6);
  buf.writeUInt16LE(crc32(buf.subarray(0, 6)) & 0xffff, 6);
  return buf;
}

/** Every intact ack entry in an ack file's bytes; a torn or garbled entry is ignored. */
export function decodeAcks(buf: Buffer): Set<number> {
  const seqs = new Set<number>();
  for (let off = 0; off + ACK_ENTRY_BYTES <= buf.length; off += ACK_ENTRY_BYTES) {
    if ((crc32(buf.subarray(off, off + 6)) & 0xffff) === buf.readUInt16LE(off + 6)) seqs.add(buf.readUIntLE(off, 6));
  }
  return seqs;
}

const SEGMENT_NAME = /^(\d{16})\.seg$/;
const ACK_NAME = /^(\d{16})\.ack$/;

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.seg`;
}

export function ackFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.ack`;
}

/** The first seq a segment or ack file name stands for, or undefined for other files. */
export function parseFileName(name: string): { kind: 'segment' | 'ack'; firstSeq: number } | undefined {
  let m = SEGMENT_NAME.exec(name);
  if (m) return { kind: 'segment', firstSeq: Number(m[1]) };
  m = ACK_NAME.exec(name);
  if (m) return { kind: 'ack', firstSeq: Number(m[1]) };
  return undefined;
}
