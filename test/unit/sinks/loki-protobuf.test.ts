// The protobuf push (Loki's native format) against the JSON push of the same batch: decoded
// with protobufjs against Loki's push.proto (test/support/loki-protobuf.ts), it must carry exactly what the
// JSON push carries: the same streams (labels parsed back to the same pairs), the same
// entries in the same order, the same nanosecond timestamps, lines and structured metadata.
import { describe, expect, it } from 'vitest';
import { batchFromLines, makeBatch } from '../../../src/pipeline/batch.js';
import type { Batch } from '../../../src/pipeline/sink.js';
import { buildPush, encodePush, type LokiEncodeOptions } from '../../../sinks/loki/encode.js';
import { labelText } from '../../../sinks/loki/protobuf-push.js';
import { varintSize, writeVarint } from '../../../sinks/loki/varint.js';
import { loadSampleLines, makeFlyEntries } from '../../support/fly-entries.js';
import { decodePushRequest, parseLabelText, snappyUncompress, type DecodedStream } from '../../support/loki-protobuf.js';
import { VARIANTS, defaults, generatedLines } from '../../support/loki-variants.js';
import { sampleEntries } from '../../support/sink-contract.js';

const RECEIVED_AT_MS = Date.parse('2026-11-26T20:35:00.123Z');

interface JsonPush {
  streams: Array<{ stream: Record<string, string>; values: Array<[string, string, Record<string, string>?]> }>;
}

/** Where the decoded protobuf push and the JSON push first differ; undefined when they carry the same. */
function difference(json: JsonPush, proto: readonly DecodedStream[]): string | undefined {
  if (proto.length !== json.streams.length) return `${proto.length} streams, JSON has ${json.streams.length}`;
  for (let s = 0; s < proto.length; s++) {
    const want = json.streams[s]!;
    const got = proto[s]!;
    const wantLabels = JSON.stringify(Object.entries(want.stream));
    const gotLabels = JSON.stringify(got.labels);
    if (wantLabels !== gotLabels) return `stream ${s}: labels ${got.labelText} parse to ${gotLabels}, JSON has ${wantLabels}`;
    if (got.entries.length !== want.values.length) return `stream ${s}: ${got.entries.length} entries, JSON has ${want.values.length}`;
    for (let i = 0; i < got.entries.length; i++) {
      const [ts, line, meta] = want.values[i]!;
      const e = got.entries[i]!;
      if (e.ts !== ts) return `stream ${s} entry ${i}: timestamp ${e.seconds}s ${e.nanos}ns = ${e.ts}, JSON has ${ts}`;
      // Loki decodes a JSON lone surrogate to U+FFFD; UTF-8 in protobuf can only carry that.
      if (e.line !== line.toWellFormed()) return `stream ${s} entry ${i}: line ${JSON.stringify(e.line.slice(0, 200))}, JSON has ${JSON.stringify(line.slice(0, 200))}`;
      const wantMeta = JSON.stringify(Object.entries(meta ?? {}));
      const gotMeta = JSON.stringify(e.metadata ?? []);
      if (wantMeta !== gotMeta) return `stream ${s} entry ${i}: metadata ${gotMeta}, JSON has ${wantMeta}`;
    }
  }
  return undefined;
}

function same(batch: Batch, o: LokiEncodeOptions, what: string): number {
  const json = buildPush(batch, o, 'json');
  const jsonDoc = JSON.parse(json.body.toString('utf8')) as JsonPush;
  const proto = buildPush(batch, o, 'protobuf');
  const decoded = decodePushRequest(Buffer.from(proto.body));
  const diff = difference(jsonDoc, decoded);
  if (diff !== undefined) expect.fail(`${what}: ${diff}`);
  expect(proto.entryCount, what).toBe(json.entryCount);
  expect(proto.streamCount, what).toBe(json.streamCount);
  expect(proto.adjusted, what).toEqual(json.adjusted);
  return decoded.reduce((n, s) => n + s.entries.length, 0);
}

describe('Loki protobuf push carries what the JSON push carries', () => {
  it('on the real Fly samples under every option set', () => {
    const batch = makeBatch(1, 'p', sampleEntries(RECEIVED_AT_MS));
    for (const [name, o] of VARIANTS) expect(same(batch, o, name)).toBe(batch.count);
    const raw = batchFromLines(2, 'p', loadSampleLines(), RECEIVED_AT_MS);
    for (const [name, o] of VARIANTS) expect(same(raw, o, `raw samples, ${name}`)).toBe(raw.count);
  });

  it("on the benchmark's entry mix", () => {
    const batch = batchFromLines(1, 'p', makeFlyEntries(4000, { seed: 7 }).map((e) => e.payload), RECEIVED_AT_MS);
    for (const [name, o] of VARIANTS) same(batch, o, name);
  });

  it('on generated lines with escapes, odd types, odd timestamps and long lines (seeded, random)', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const batch = batchFromLines(seed, 'p', generatedLines(seed, 1500), RECEIVED_AT_MS);
      for (const [name, o] of VARIANTS) same(batch, o, `seed ${seed}, ${name}`);
    }
  });

  it('timestamps past 2^31 seconds and in the first second, and decoded lines that shrink their length prefix', () => {
    const base = JSON.parse(makeFlyEntries(1, { seed: 5 })[0]!.payload) as Record<string, unknown>;
    const line = (timestamp: string, message: string): string => JSON.stringify({ ...base, timestamp, message });
    const lines = [
      line('2200-01-01T00:00:00.5Z', 'far future'),
      line('1970-01-01T00:00:00.000000005Z', 'first second'),
      line('1970-01-01T00:00:00Z', 'epoch'),
      // 130 raw bytes of escapes decode to 65 (a 2-byte length becomes 1), and 16,400 to 8,200.
      line('2026-11-26T20:34:37.1Z', '\n'.repeat(65)),
      line('2026-11-26T20:34:37.2Z', '"'.repeat(8200)),
      line('2026-11-26T20:34:37.3Z', `${'\t'.repeat(70)}x`),
    ];
    const batch = batchFromLines(1, 'p', lines, RECEIVED_AT_MS);
    for (const [name, o] of VARIANTS) same(batch, o, name);
    const decoded = decodePushRequest(Buffer.from(buildPush(batch, { ...defaults, lineFormat: 'message' }, 'protobuf').body));
    const entries = decoded.flatMap((s) => s.entries);
    expect(entries.find((e) => e.line === 'far future')!.seconds).toBe(BigInt(Date.UTC(2200, 0, 1) / 1000));
    expect(entries.find((e) => e.line === 'first second')).toMatchObject({ seconds: 0n, nanos: 5, ts: '5' });
    expect(entries.find((e) => e.line === '\n'.repeat(65))).toBeDefined();
  });

  it('a mismatch would be seen: the decoded push of a changed batch differs from the JSON push', () => {
    const lines = makeFlyEntries(50, { seed: 3 }).map((e) => e.payload);
    const json = JSON.parse(buildPush(batchFromLines(1, 'p', lines, RECEIVED_AT_MS), defaults, 'json').body.toString('utf8')) as JsonPush;
    const changed = [...lines];
    changed[10] = changed[10]!.replace('"message":"', '"message":"x');
    const proto = decodePushRequest(Buffer.from(buildPush(batchFromLines(1, 'p', changed, RECEIVED_AT_MS), defaults, 'protobuf').body));
    expect(difference(json, proto)).toMatch(/line/);
    const shifted = [...lines];
    shifted[10] = shifted[10]!.replace(/"timestamp":"([^"]*)\.(\d)/, (_, s: string, d: string) => `"timestamp":"${s}.${(Number(d) + 1) % 10}`);
    const protoShifted = decodePushRequest(Buffer.from(buildPush(batchFromLines(1, 'p', shifted, RECEIVED_AT_MS), defaults, 'protobuf').body));
    expect(difference(json, protoShifted)).toMatch(/timestamp|line/);
  });

  it('an empty batch is an empty PushRequest', () => {
    const push = buildPush(batchFromLines(1, 'p', [], RECEIVED_AT_MS), defaults, 'protobuf');
    expect(push.body.length).toBe(0);
    expect(push.entryCount).toBe(0);
  });

  it('encodePush with snappy sends the snappy of the protobuf push', async () => {
    const batch = makeBatch(1, 'p', sampleEntries(RECEIVED_AT_MS));
    const encoded = await encodePush(batch, defaults, 'protobuf');
    expect(snappyUncompress(Buffer.from(encoded.body)).equals(buildPush(batch, defaults, 'protobuf').body)).toBe(true);
    expect(encoded.entryCount).toBe(batch.count);
  });
});

describe('protobuf pieces', () => {
  it('the schema decoder refuses a body that does not follow push.proto', () => {
    const body = Buffer.from(buildPush(makeBatch(1, 'p', sampleEntries(RECEIVED_AT_MS)), defaults, 'protobuf').body);
    expect(decodePushRequest(body).length).toBeGreaterThan(0);
    // Cut short: a length runs past the end.
    expect(() => decodePushRequest(body.subarray(0, body.length - 7))).toThrow();
    // A stream's labels that are not UTF-8.
    const bad = Buffer.from(body);
    bad[bad.indexOf('fly_app_name')] = 0xff;
    expect(() => decodePushRequest(bad)).toThrow(/utf-8/i);
  });

  it('varints: sizes and bytes at every length boundary up to 2^53', () => {
    const buf = Buffer.alloc(16);
    for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 35, 2 ** 42, 2 ** 49, 2 ** 53 - 1]) {
      const end = writeVarint(buf, 0, v);
      expect(end, String(v)).toBe(varintSize(v));
      let got = 0n;
      for (let i = end - 1; i >= 0; i--) got = (got << 7n) | BigInt(buf[i]! & 0x7f);
      expect(got, String(v)).toBe(BigInt(v));
      for (let i = 0; i < end - 1; i++) expect(buf[i]! & 0x80).toBe(0x80);
      expect(buf[end - 1]! & 0x80).toBe(0);
    }
  });

  it('label text: the JSON label set in order, values quoted Go-style', () => {
    const text = labelText(JSON.stringify({ fly_app_name: 'app "quoted"', level: 'info', path: 'back\\slash', u: 'ünï 🦀' })).toString('utf8');
    expect(text).toBe('{fly_app_name="app \\"quoted\\"", level="info", path="back\\\\slash", u="ünï 🦀"}');
    expect(parseLabelText(text)).toEqual([['fly_app_name', 'app "quoted"'], ['level', 'info'], ['path', 'back\\slash'], ['u', 'ünï 🦀']]);
    expect(() => parseLabelText('{a="1",b="2"}')).toThrow();
    expect(() => parseLabelText('{a="1')).toThrow();
  });
});
