// The encoder's scan against JSON.parse: every batch encoded as usual (lines read by the byte
// scan where it can) and with every line through JSON.parse must give the same bytes, with
// the same counts, for real-shaped lines and for generated lines full of edge cases.
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { FIELD_SPANS_STRIDE, NdjsonWriter, SPANS_UNKNOWN, batchFromLines, fieldSpansOf, makeBatch, splitBatch } from '../../../src/pipeline/batch.js';
import { EntryView, intake, parseSubject, scanAllFlyFieldsAtIntake } from '../../../src/intake/entry.js';
import type { Batch } from '../../../src/pipeline/sink.js';
import { buildPush, encodePush, type LokiEncodeOptions } from '../../../sinks/loki/encode.js';
import { loadSampleLines, makeFlyEntries } from '../../support/fly-entries.js';
import { VARIANTS, defaults, generatedLines } from '../../support/loki-variants.js';
import { sampleEntries } from '../../support/sink-contract.js';

const RECEIVED_AT_MS = Date.parse('2026-11-26T20:35:00.123Z');

function same(batch: Batch, o: LokiEncodeOptions, what: string): void {
  const expected = buildPush(batch, o, 'json', true);
  const actual = buildPush(batch, o);
  const want = expected.body.toString('utf8');
  const got = actual.body.toString('utf8');
  if (want !== got) {
    let at = 0;
    while (at < want.length && want[at] === got[at]) at++;
    expect.fail(`${what}: bodies differ at ${at}:\n  old …${want.slice(Math.max(0, at - 120), at + 120)}\n  new …${got.slice(Math.max(0, at - 120), at + 120)}`);
  }
  expect(Buffer.compare(actual.body, expected.body), what).toBe(0);
  expect(actual.entryCount, what).toBe(expected.entryCount);
  expect(actual.streamCount, what).toBe(expected.streamCount);
  expect(actual.adjusted, what).toEqual(expected.adjusted);
}

describe('Loki encoding: the byte scan gives what JSON.parse gives', () => {
  it('on the real Fly samples, as the intake batches them, under every option set', () => {
    const entries = sampleEntries(RECEIVED_AT_MS);
    const batch = makeBatch(1, 'p', entries);
    for (const [name, o] of VARIANTS) same(batch, o, name);
    // The sample lines as they are (old entries without process_group or zone, JSON-in-message, ANSI, traces, unicode).
    const raw = batchFromLines(2, 'p', loadSampleLines(), RECEIVED_AT_MS);
    for (const [name, o] of VARIANTS) same(raw, o, `raw samples, ${name}`);
  });

  it("on the benchmark's entry mix", () => {
    const lines = makeFlyEntries(4000, { seed: 7 }).map((e) => e.payload);
    const batch = batchFromLines(1, 'p', lines, RECEIVED_AT_MS);
    for (const [name, o] of VARIANTS) same(batch, o, name);
  });

  it('on generated lines with escapes, odd types, duplicates, odd timestamps and long lines (seeded, random)', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const batch = batchFromLines(seed, 'p', generatedLines(seed, 1500), RECEIVED_AT_MS);
      for (const [name, o] of VARIANTS) same(batch, o, `seed ${seed}, ${name}`);
    }
  });

  it('the generator reaches both paths and every adjustment (so the comparison is not vacuous)', () => {
    const batch = batchFromLines(1, 'p', generatedLines(3, 1500), RECEIVED_AT_MS);
    const json = buildPush(batch, { ...defaults, maxLineBytes: 1024 });
    expect(Object.keys(json.adjusted).sort()).toEqual(['label_sanitised', 'line_truncated', 'timestamp_invalid']);
    const limited = buildPush(batch, { ...defaults, staticLabels: Array.from({ length: 12 }, (_, i) => [`s${i}`, 'v'] as const) });
    expect(limited.adjusted.labels_limited).toBeGreaterThan(0);
    // Some streams come out of order and get sorted: the values of a stream are in time order.
    const doc = JSON.parse(json.body.toString('utf8')) as { streams: Array<{ values: Array<[string, string]> }> };
    let sortedStreams = 0;
    const lines = batch.ndjson.toString('utf8').split('\n');
    for (const s of doc.streams) {
      const ts = s.values.map((v) => BigInt(v[0]));
      for (let i = 1; i < ts.length; i++) expect(ts[i]! >= ts[i - 1]!).toBe(true);
      const positions = s.values.map((v) => lines.indexOf(v[1]));
      if (positions.some((p, i) => i > 0 && p >= 0 && positions[i - 1]! >= 0 && p < positions[i - 1]!)) sortedStreams++;
    }
    expect(sortedStreams).toBeGreaterThan(0);
  });

  it('a mismatch would be seen: an entry changed in the batch changes the body', () => {
    const lines = makeFlyEntries(50, { seed: 3 }).map((e) => e.payload);
    const a = buildPush(batchFromLines(1, 'p', lines, RECEIVED_AT_MS), defaults).body.toString('utf8');
    lines[10] = lines[10]!.replace('"level":"info"', '"level":"error"').replace('"level":"warn"', '"level":"error"');
    const b = buildPush(batchFromLines(1, 'p', lines, RECEIVED_AT_MS), defaults).body.toString('utf8');
    expect(a).not.toBe(b);
  });

  it('a stream far out of order (past the insertion sort) and one slightly out of order, with equal timestamps', () => {
    const base = makeFlyEntries(1, { seed: 5 })[0]!.payload;
    const at = (ms: number, digits: string): string => base.replace(/"timestamp":"[^"]*"/, `"timestamp":"${new Date(ms).toISOString().slice(0, 19)}.${digits}Z"`);
    const reversed = Array.from({ length: 600 }, (_, i) => at(Date.UTC(2026, 0, 1) + (600 - i) * 7, String(i % 3).padStart(9, '0')));
    const jittered = Array.from({ length: 600 }, (_, i) => at(Date.UTC(2026, 0, 1) + i * 5 - (i % 4) * 3, i % 5 === 0 ? '000000001' : '000000000'));
    same(batchFromLines(1, 'p', reversed, RECEIVED_AT_MS), defaults, 'reversed');
    same(batchFromLines(2, 'p', jittered, RECEIVED_AT_MS), defaults, 'jittered');
  });

  it('an empty batch and empty lines', () => {
    same(batchFromLines(1, 'p', [], RECEIVED_AT_MS), defaults, 'empty');
    const lines = makeFlyEntries(3, { seed: 1 }).map((e) => e.payload);
    same({ id: 1, key: 'k', partition: 'p', ndjson: Buffer.from(`${lines[0]}\n\n${lines[1]}\n${lines[2]}`), count: 3, bytes: 0, receivedAtMs: RECEIVED_AT_MS }, defaults, 'empty line, no final newline');
  });

  it('encodePush gzips the same body', async () => {
    const batch = makeBatch(1, 'p', sampleEntries(RECEIVED_AT_MS));
    const encoded = await encodePush(batch, defaults, 'json');
    expect(gunzipSync(encoded.body).toString('utf8')).toBe(buildPush(batch, defaults).body.toString('utf8'));
    expect(encoded.entryCount).toBe(batch.count);
  });
});

/**
 * The payloads as the agent batches them: one buffer like a NATS read (each payload at an
 * offset), each through the intake (every Fly field scanned) into a writer that keeps the spans.
 */
function intakeBatch(payloads: readonly string[]): Batch {
  scanAllFlyFieldsAtIntake(true);
  const parts = payloads.map((p) => Buffer.from(p, 'utf8'));
  const read = Buffer.concat([Buffer.from('MSG logs.x 1 0\r\n'), ...parts.flatMap((p) => [p, Buffer.from('\r\n')])]);
  const writer = new NdjsonWriter(1024, undefined, 0, true);
  const view = new EntryView();
  const subject = parseSubject('logs.app.ord.instance1');
  let at = Buffer.byteLength('MSG logs.x 1 0\r\n');
  for (const p of parts) {
    if (intake(subject, read, at, at + p.length, RECEIVED_AT_MS, view) !== 'empty_payload') writer.append(view);
    at += p.length + 2;
  }
  return { id: 1, key: 'k', partition: 'p', ndjson: writer.finish(), count: writer.count, bytes: writer.lineBytes, receivedAtMs: RECEIVED_AT_MS };
}

/** How many of the batch's entries carry the intake's spans. */
function withSpans(batch: Batch): number {
  const spans = fieldSpansOf(batch.ndjson);
  let n = 0;
  for (let e = 0; spans !== undefined && e < batch.count; e++) if (spans[e * FIELD_SPANS_STRIDE] !== SPANS_UNKNOWN) n++;
  return n;
}

describe("Loki encoding from the intake's spans gives what the encoder's own scan gives", () => {
  afterEach(() => scanAllFlyFieldsAtIntake(false));

  function sameAsScanned(batch: Batch, what: string): void {
    // The same bytes in a buffer of their own carry no spans: the encoder scans them.
    const scanned: Batch = { ...batch, ndjson: Buffer.from(batch.ndjson) };
    expect(fieldSpansOf(scanned.ndjson)).toBeUndefined();
    for (const [name, o] of VARIANTS) {
      for (const format of ['json', 'protobuf'] as const) {
        const want = buildPush(scanned, o, format);
        const got = buildPush(batch, o, format);
        expect(Buffer.compare(got.body, want.body), `${what}, ${name}, ${format}`).toBe(0);
        expect(got.entryCount).toBe(want.entryCount);
        expect(got.adjusted).toEqual(want.adjusted);
      }
      same(batch, o, `${what}, ${name}, against JSON.parse`);
    }
  }

  it('on the real Fly samples, the benchmark mix and generated edge cases', () => {
    const samples = intakeBatch(loadSampleLines());
    expect(withSpans(samples)).toBeGreaterThan(samples.count / 2);
    sameAsScanned(samples, 'samples');
    const mix = intakeBatch(makeFlyEntries(3000, { seed: 11 }).map((e) => e.payload));
    expect(withSpans(mix)).toBe(mix.count);
    sameAsScanned(mix, 'benchmark mix');
    for (let seed = 1; seed <= 6; seed++) {
      const generated = intakeBatch(generatedLines(seed, 1500));
      // Duplicates and multi-line JSON go the intake's slow way: those lines have no spans.
      const kept = withSpans(generated);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(generated.count);
      sameAsScanned(generated, `generated, seed ${seed}`);
    }
  });

  it('a split half, a copy or a routing-only intake carries no spans', () => {
    const batch = intakeBatch(makeFlyEntries(20, { seed: 2 }).map((e) => e.payload));
    expect(withSpans(batch)).toBe(20);
    const [head, tail] = splitBatch(batch, 100, 101);
    expect(fieldSpansOf(head.ndjson)).toBeUndefined();
    expect(fieldSpansOf(tail.ndjson)).toBeUndefined();
    same(head, defaults, 'split half');
    scanAllFlyFieldsAtIntake(false);
    const writer = new NdjsonWriter(1024, undefined, 0, true);
    const view = new EntryView();
    const payload = Buffer.from(makeFlyEntries(1, { seed: 2 })[0]!.payload);
    intake(parseSubject('logs.a.r.i'), payload, 0, payload.length, RECEIVED_AT_MS, view);
    writer.append(view);
    expect(fieldSpansOf(writer.finish())?.[0]).toBe(SPANS_UNKNOWN);
  });
});

describe('the line scan', () => {
  it('finds the end of a long message past escaped quotes and backslashes', () => {
    const message = `${'x'.repeat(400)} "quoted" \\ and a trailing backslash \\`;
    const line = JSON.stringify({ fly: { app: { name: 'a', instance: 'i' }, region: 'r' }, message, timestamp: '2026-11-26T20:34:37.1Z' });
    for (const lineFormat of ['json', 'message'] as const) {
      const push = buildPush(batchFromLines(1, 'p', [line], RECEIVED_AT_MS), { ...defaults, lineFormat });
      const doc = JSON.parse(push.body.toString('utf8')) as { streams: Array<{ values: Array<[string, string]> }> };
      expect(doc.streams[0]!.values[0]).toEqual(['1795725277100000000', lineFormat === 'json' ? line : message]);
    }
  });
});
