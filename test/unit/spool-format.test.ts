import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  ACK_ENTRY_BYTES,
  FORMAT_VERSION,
  HEADER_BYTES,
  RECORD_MAGIC,
  ackFileName,
  decodeAcks,
  decodePayload,
  encodeAck,
  encodeNdjsonRecord,
  encodeRecord,
  parseFileName,
  payloadIntact,
  readHeader,
  segmentFileName,
} from '../../src/spool/spool-format.js';

function roundTrip(partition: string, lines: string[]): { partition: string; lines: string[] } | undefined {
  const rec = encodeRecord(42, partition, lines, { key: 'host-0a1b2c3d4e5f-000042', receivedAtMs: 1_795_725_277_253 });
  const header = readHeader(rec);
  expect(header).toBeDefined();
  expect(header!.version).toBe(FORMAT_VERSION);
  const payload = rec.subarray(HEADER_BYTES);
  expect(payloadIntact(payload, header!)).toBe(true);
  const decoded = decodePayload(payload, header!.entries, header!.version);
  if (decoded === undefined) return undefined;
  expect(decoded.key).toBe('host-0a1b2c3d4e5f-000042');
  expect(decoded.receivedAtMs).toBe(1_795_725_277_253);
  return { partition: decoded.partition, lines: decoded.lines };
}

/** Records as version 1 (before batch keys) wrote them, byte for byte (made with that version's encodeRecord). */
const V1_RECORD_TWO_LINES = Buffer.from(
  'f74c465341000000070000000000010002000000a051d166244eec1d226170703d782f64743d323032362d31312d32362f686f75723d3230220a7b226d657373616765223a226f6e65227d0a7b226d657373616765223a2274776f227d',
  'hex',
);
const V1_RECORD_EMPTY = Buffer.from('f74c4653020000000800000000000100000000003b150b33e80876362222', 'hex');

function decodeRecord(rec: Buffer) {
  const header = readHeader(rec);
  if (header === undefined) return undefined;
  const payload = rec.subarray(HEADER_BYTES, HEADER_BYTES + header.payloadBytes);
  if (!payloadIntact(payload, header)) return undefined;
  return decodePayload(payload, header.entries, header.version);
}

describe('spool record format', () => {
  it('round-trips partition and lines, including empty and non-ASCII ones', () => {
    expect(roundTrip('app/2026-01-01/00', ['{"a":1}', '{"b":"ü€😀"}'])).toEqual({ partition: 'app/2026-01-01/00', lines: ['{"a":1}', '{"b":"ü€😀"}'] });
    expect(roundTrip('', [])).toEqual({ partition: '', lines: [] });
    expect(roundTrip('', [''])).toEqual({ partition: '', lines: [''] });
    expect(roundTrip('', ['', ''])).toEqual({ partition: '', lines: ['', ''] });
    expect(roundTrip('odd\npartition"', ['x'])).toEqual({ partition: 'odd\npartition"', lines: ['x'] });
  });

  it('writes the same record from a batch\'s NDJSON bytes as from its lines', () => {
    for (const lines of [[], [''], ['{"a":1}'], ['{"m":"ünï 🚀"}', '', '{"b":2}']]) {
      const ndjson = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
      expect(encodeNdjsonRecord(9, 'app=x/dt=2026-11-26', ndjson, lines.length).equals(encodeRecord(9, 'app=x/dt=2026-11-26', lines))).toBe(true);
    }
  });

  it('puts seq, entry count and length in the header', () => {
    const rec = encodeRecord(2 ** 40 + 7, 'p', ['a', 'bb', 'ccc']);
    expect(rec.subarray(0, 4).equals(RECORD_MAGIC)).toBe(true);
    expect(readHeader(rec)).toMatchObject({ seq: 2 ** 40 + 7, entries: 3, payloadBytes: rec.length - HEADER_BYTES });
  });

  it('rejects a header with any single flipped byte', () => {
    const rec = encodeRecord(9, 'p', ['{"x":1}']);
    for (let i = 0; i < HEADER_BYTES; i++) {
      const copy = Buffer.from(rec);
      copy[i] = copy[i]! ^ 0x10;
      expect(readHeader(copy), `byte ${i}`).toBeUndefined();
    }
  });

  it('detects a flipped payload byte through the payload checksum', () => {
    const rec = encodeRecord(9, 'p', ['{"x":1}', '{"y":2}']);
    const header = readHeader(rec)!;
    rec[HEADER_BYTES + 5] = rec[HEADER_BYTES + 5]! ^ 0x01;
    expect(payloadIntact(rec.subarray(HEADER_BYTES), header)).toBe(false);
  });

  it('refuses a payload whose line count disagrees with the header', () => {
    const rec = encodeRecord(1, 'p', ['a', 'b']);
    expect(decodePayload(rec.subarray(HEADER_BYTES), 3)).toBeUndefined();
    expect(decodePayload(Buffer.from('not json\nx'), 1, 1)).toBeUndefined();
    expect(decodePayload(Buffer.from('42\nx'), 1, 1)).toBeUndefined();
    expect(decodePayload(Buffer.from('"p"\n"no array"\nx'), 1, 2)).toBeUndefined();
    expect(decodePayload(Buffer.from('"p"'), 0, 2)).toBeUndefined();
  });

  it('writes version 2 with the batch key and receive time, still reads version 1 records', () => {
    const v2 = encodeRecord(7, 'app=x/dt=2026-11-26/hour=20', ['{"message":"one"}', '{"message":"two"}'], { key: 'm1-aabbccddeeff-000007', receivedAtMs: 5 });
    expect(v2.readUInt16LE(14)).toBe(2);
    expect(decodeRecord(v2)).toEqual({ partition: 'app=x/dt=2026-11-26/hour=20', key: 'm1-aabbccddeeff-000007', receivedAtMs: 5, lines: ['{"message":"one"}', '{"message":"two"}'] });
    expect(decodeRecord(encodeRecord(8, '', [], { key: 'k', receivedAtMs: 9 }))).toEqual({ partition: '', key: 'k', receivedAtMs: 9, lines: [] });

    expect(readHeader(V1_RECORD_TWO_LINES)).toMatchObject({ version: 1, seq: 7, entries: 2 });
    const old = decodeRecord(V1_RECORD_TWO_LINES);
    expect(old).toMatchObject({ partition: 'app=x/dt=2026-11-26/hour=20', receivedAtMs: undefined, lines: ['{"message":"one"}', '{"message":"two"}'] });
    expect(old!.key).toMatch(/^spool-[0-9a-f]{16}$/);
    expect(decodeRecord(V1_RECORD_EMPTY)).toMatchObject({ partition: '', lines: [] });
    // The version-1 encoder here writes what the old one did.
    expect(encodeNdjsonRecord(7, 'app=x/dt=2026-11-26/hour=20', Buffer.from('{"message":"one"}\n{"message":"two"}\n'), 2, { key: '' }, 1).equals(V1_RECORD_TWO_LINES)).toBe(true);
    // Unknown versions are refused like any damaged header.
    const v3 = Buffer.from(V1_RECORD_TWO_LINES);
    v3.writeUInt16LE(3, 14);
    v3.writeUInt32LE(crc32(v3.subarray(0, 24)), 24);
    expect(readHeader(v3)).toBeUndefined();
  });

  it('derives a key for a record without one from its content alone: the same for every replay, different for another batch under a reused seq', () => {
    const a = decodeRecord(V1_RECORD_TWO_LINES)!.key;
    expect(decodeRecord(Buffer.from(V1_RECORD_TWO_LINES))!.key).toBe(a);
    // The same batch under another seq (the spool was emptied and its seqs restarted): same content, same key.
    const sameBatch = encodeNdjsonRecord(1, 'app=x/dt=2026-11-26/hour=20', Buffer.from('{"message":"one"}\n{"message":"two"}\n'), 2, { key: '' }, 1);
    expect(decodeRecord(sameBatch)!.key).toBe(a);
    // Another batch under the same seq: another key, so it can never overwrite the first one's object.
    const other = encodeNdjsonRecord(7, 'app=x/dt=2026-11-26/hour=20', Buffer.from('{"message":"one"}\n{"message":"three"}\n'), 2, { key: '' }, 1);
    expect(decodeRecord(other)!.key).not.toBe(a);
    // A version-2 record appended without a key is named the same way.
    expect(decodeRecord(encodeRecord(7, 'p', ['x']))!.key).toBe(decodeRecord(encodeRecord(99, 'p', ['x']))!.key);
    expect(decodeRecord(encodeRecord(7, 'p', ['x']))!.key).not.toBe(decodeRecord(encodeRecord(7, 'p', ['y']))!.key);
  });

  it('never lets payload text contain the record magic', () => {
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ i, s: String.fromCodePoint(i * 37 + 1) }));
    const rec = encodeRecord(1, 'p', lines);
    expect(rec.subarray(HEADER_BYTES).indexOf(RECORD_MAGIC)).toBe(-1);
  });
});

describe('spool ack entries', () => {
  it('decodes intact entries and ignores a torn or zeroed tail', () => {
    const bytes = Buffer.concat([encodeAck(1), encodeAck(2 ** 33), Buffer.alloc(ACK_ENTRY_BYTES), encodeAck(5).subarray(0, 5)]);
    expect([...decodeAcks(bytes)]).toEqual([1, 2 ** 33]);
  });

  it('ignores a garbled entry', () => {
    const bad = encodeAck(7);
    bad[2] = bad[2]! ^ 0xff;
    expect([...decodeAcks(Buffer.concat([encodeAck(3), bad, encodeAck(4)]))]).toEqual([3, 4]);
  });
});

describe('spool file names', () => {
  it('name segments and sidecars by first seq, sortable as text', () => {
    expect(segmentFileName(12)).toBe('0000000000000012.seg');
    expect(ackFileName(12)).toBe('0000000000000012.ack');
    expect(parseFileName('0000000000000012.seg')).toEqual({ kind: 'segment', firstSeq: 12 });
    expect(parseFileName('0000000000000012.ack')).toEqual({ kind: 'ack', firstSeq: 12 });
    expect(parseFileName('.probe-1')).toBeUndefined();
    expect(parseFileName('12.seg')).toBeUndefined();
  });
});
