// On-disk framing of spool records and acknowledgements. Pure functions, no I/O.
//
// Record = 28-byte header + payload.
//   0  magic        F7 4C 46 53  (0xF7 never occurs in UTF-8, so payload text cannot fake a record start)
//   4  u32 LE       payload length in bytes
//   8  u48 LE       seq
//  14  u16 LE       format version
//  16  u32 LE       entry count
//  20  u32 LE       CRC32 of the payload
//  24  u32 LE       CRC32 of bytes 0..23 (a damaged length or seq is caught before it is trusted)
// Payload = UTF-8 text: JSON string of the partition, then one line per entry, joined by "\n".
// Entry lines never hold a raw newline (they are single-line JSON), so "\n" frames them.
//
// Ack entry = 8 bytes: u48 LE seq + u16 LE check (low half of the seq bytes' CRC32), so a
// zero-filled or torn tail of an ack file is recognised and ignored.
import { crc32 } from 'node:zlib';

export const RECORD_MAGIC: Buffer = Buffer.from([0xf7, 0x4c, 0x46, 0x53]);
export const HEADER_BYTES = 28;
export const FORMAT_VERSION = 1;
/** Larger payloads could not be decoded into one string; no real batch comes close. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;
export const ACK_ENTRY_BYTES = 8;

export interface RecordHeader {
  readonly payloadBytes: number;
  readonly seq: number;
  readonly entries: number;
  readonly payloadCrc: number;
}

/** The whole record (header and payload) in one buffer, ready for a single write. */
export function encodeRecord(seq: number, partition: string, lines: readonly string[]): Buffer {
  return encodeNdjsonRecord(seq, partition, Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8'), lines.length);
}

/**
 * The same record from `count` lines as NDJSON bytes (each line followed by "\n", as a
 * batch holds them): the payload is the partition, "\n", then the lines, so the batch's
 * bytes are copied in once, never split into strings and joined again.
 */
export function encodeNdjsonRecord(seq: number, partition: string, ndjson: Uint8Array, count: number): Buffer {
  const head = Buffer.from(JSON.stringify(partition), 'utf8');
  // "\n" + the lines without the last "\n" is as long as the NDJSON itself.
  const payloadBytes = head.length + (count === 0 ? 0 : ndjson.length);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes);
  head.copy(buf, HEADER_BYTES);
  if (count > 0) {
    buf[HEADER_BYTES + head.length] = 0x0a;
    buf.set(ndjson.subarray(0, ndjson.length - 1), HEADER_BYTES + head.length + 1);
  }
  const payloadCrc = crc32(buf.subarray(HEADER_BYTES));
  RECORD_MAGIC.copy(buf, 0);
  buf.writeUInt32LE(payloadBytes, 4);
  buf.writeUIntLE(seq, 8, 6);
  buf.writeUInt16LE(FORMAT_VERSION, 14);
  buf.writeUInt32LE(count, 16);
  buf.writeUInt32LE(payloadCrc, 20);
  buf.writeUInt32LE(crc32(buf.subarray(0, 24)), 24);
  return buf;
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
  if (buf.readUInt16LE(offset + 14) !== FORMAT_VERSION) return undefined;
  const payloadBytes = buf.readUInt32LE(offset + 4);
  if (payloadBytes > MAX_PAYLOAD_BYTES) return undefined;
  return {
    payloadBytes,
    seq: buf.readUIntLE(offset + 8, 6),
    entries: buf.readUInt32LE(offset + 16),
    payloadCrc: buf.readUInt32LE(offset + 20),
  };
}

export function payloadIntact(payload: Buffer, header: RecordHeader): boolean {
  return payload.length === header.payloadBytes && crc32(payload) === header.payloadCrc;
}

/** Partition and lines of a payload whose CRC matched; undefined if it does not have the promised shape. */
export function decodePayload(payload: Buffer, entries: number): { partition: string; lines: string[] } | undefined {
  const text = payload.toString('utf8');
  const nl = text.indexOf('\n');
  const head = nl === -1 ? text : text.slice(0, nl);
  let partition: unknown;
  try {
    partition = JSON.parse(head);
  } catch {
    return undefined;
  }
  if (typeof partition !== 'string') return undefined;
  if (nl === -1) return entries === 0 ? { partition, lines: [] } : undefined;
  const lines = text.slice(nl + 1).split('\n');
  return lines.length === entries ? { partition, lines } : undefined;
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
