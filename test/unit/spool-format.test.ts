import { describe, expect, it } from 'vitest';
import {
  ACK_ENTRY_BYTES,
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
  const rec = encodeRecord(42, partition, lines);
  const header = readHeader(rec);
  expect(header).toBeDefined();
  const payload = rec.subarray(HEADER_BYTES);
  expect(payloadIntact(payload, header!)).toBe(true);
  return decodePayload(payload, header!.entries);
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
    expect(decodePayload(Buffer.from('not json\nx'), 1)).toBeUndefined();
    expect(decodePayload(Buffer.from('42\nx'), 1)).toBeUndefined();
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
