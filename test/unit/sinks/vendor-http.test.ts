// The shared vendor HTTP sink's encoding (hermetic): zero-copy framing when nothing is mapped,
// mapping, per-entry size limits counted as dropped, and the partial-success readers.
import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { parseFlyMessage, type LogEntry } from '../../../src/intake/entry.js';
import { makeBatch } from '../../../src/pipeline/batch.js';
import { describedSink, renameField, type VendorHttpSpec } from '../../../sinks/shared/vendor-http.js';
import { withPath } from '../../../sinks/shared/vendor-config.js';
import { axiomPartial } from '../../../sinks/axiom/encode.js';
import { openobservePartial } from '../../../sinks/openobserve/encode.js';
import { logdnaBody, logdnaLine } from '../../../sinks/logdna/encode.js';
import { logflareLine } from '../../../sinks/logflare/encode.js';

function entry(message: string): LogEntry {
  const line = JSON.stringify({ fly: { app: { instance: 'i1', name: 'app1' }, region: 'ams' }, log: { level: 'warn' }, message, timestamp: '2026-11-26T20:35:01.123456789Z' });
  const parsed = parseFlyMessage('logs.app1.ams.i1', Buffer.from(line), 0);
  if (parsed.kind !== 'entry') throw new Error('bad');
  return parsed.entry;
}

const spec = (over: Partial<VendorHttpSpec>): VendorHttpSpec => ({ kind: 'baselime', url: new URL('http://127.0.0.1:9/x'), headers: {}, format: 'json-array', gzip: false, ...over });
const answer = (body: string) => ({ status: 200, headers: {}, body });

describe('VendorHttpSink.encode', () => {
  test('unmapped NDJSON is the batch itself; a JSON array frames the same lines', async () => {
    const batch = makeBatch(1, '', [entry('a'), entry('b')]);
    const nd = await describedSink(spec({ format: 'ndjson' })).encode(batch);
    expect(nd.body).toBe(batch.ndjson);
    const arr = await describedSink(spec({})).encode(batch);
    expect(JSON.parse(Buffer.from(arr.body).toString())).toEqual(batch.ndjson.toString().trim().split('\n').map((l) => JSON.parse(l)));
  });

  test('mapping applies to every line; gzip round-trips', async () => {
    const batch = makeBatch(1, '', [entry('a'), entry('b')]);
    const encoded = await describedSink(spec({ gzip: true, mapLine: renameField('timestamp', 'dt') })).encode(batch);
    const objects = JSON.parse(gunzipSync(encoded.body).toString()) as Array<Record<string, unknown>>;
    expect(objects.map((o) => [o.message, o.dt, 'timestamp' in o])).toEqual([['a', '2026-11-26T20:35:01.123456789Z', false], ['b', '2026-11-26T20:35:01.123456789Z', false]]);
  });

  test('entries over the vendor\'s size are left out and counted as dropped, the rest kept', async () => {
    const batch = makeBatch(1, '', [entry('small'), entry('x'.repeat(2000)), entry('also small')]);
    const encoded = await describedSink(spec({ format: 'ndjson', maxEntryBytes: 1000 })).encode(batch);
    expect(encoded).toMatchObject({ entryCount: 2, dropped: { entry_too_large: 1 } });
    expect(Buffer.from(encoded.body).toString().trim().split('\n').map((l) => JSON.parse(l).message)).toEqual(['small', 'also small']);
  });

  test('a batch whose every entry is too large sends nothing', async () => {
    const sink = describedSink(spec({ maxEntryBytes: 100 }));
    const batch = makeBatch(1, '', [entry('y'.repeat(500))]);
    const encoded = await sink.encode(batch);
    expect(encoded.entryCount).toBe(0);
    // Port 9 has no listener: a request would fail; none is made.
    await expect(sink.send(encoded, batch, new AbortController().signal)).resolves.toBeUndefined();
    await sink.close();
  });

  test('wrapping copies each line\'s bytes into the wrapper; a wrapped entry over the limit is dropped', async () => {
    const batch = makeBatch(1, '', [entry('a'), entry('z'.repeat(2000)), entry('ü')]);
    const encoded = await describedSink(spec({ wrap: { prefix: '{"log":', suffix: '}' }, maxEntryBytes: 1000 })).encode(batch);
    expect(encoded).toMatchObject({ entryCount: 2, dropped: { entry_too_large: 1 } });
    const lines = batch.ndjson.toString().trim().split('\n');
    expect(JSON.parse(Buffer.from(encoded.body).toString())).toEqual([{ log: JSON.parse(lines[0]!) }, { log: JSON.parse(lines[2]!) }]);
  });

  test('renaming the top-level timestamp in the bytes gives what renaming the parsed object gives', async () => {
    const lines = [
      entry('plain').line,
      '{"message":"spaced","timestamp" :  "2026-11-26T20:35:01.000000001Z","fly":{"timestamp":"nested stays"}}',
      '{"message":"no time here"}',
      '{"message":"has dt already","dt":"old","timestamp":"2026-11-26T20:35:02Z"}',
      '{"message":"escaped key","time\\u0073tamp":"2026-11-26T20:35:03Z"}',
      '{"message":"not a string","timestamp":12345}',
      '{"message":"quote \\"timestamp\\": inside","timestamp":"2026-11-26T20:35:04Z"}',
    ];
    const batch = { id: 1, key: 'test-000001', partition: '', ndjson: Buffer.from(`${lines.join('\n')}\n`), count: lines.length, bytes: 0, receivedAtMs: 0 };
    const encoded = await describedSink(spec({ format: 'ndjson', renameTimestamp: 'dt' })).encode(batch);
    const got = Buffer.from(encoded.body).toString().trim().split('\n').map((l) => JSON.parse(l));
    const slow = renameField('timestamp', 'dt');
    expect(got).toEqual(lines.map((l) => JSON.parse(slow(l))));
    expect(got[1]).toEqual({ message: 'spaced', dt: '2026-11-26T20:35:01.000000001Z', fly: { timestamp: 'nested stays' } });
    expect(got[3]).toEqual({ message: 'has dt already', dt: '2026-11-26T20:35:02Z' });
    // The fast path keeps Fly's bytes: only the key changed.
    expect(Buffer.from(encoded.body).toString().split('\n')[0]).toBe(lines[0]!.replace('"timestamp":', '"dt":'));
  });

  test('renamed entries over the limit are dropped', async () => {
    const batch = makeBatch(1, '', [entry('ok'), entry('q'.repeat(3000))]);
    const encoded = await describedSink(spec({ format: 'ndjson', renameTimestamp: 'ts', maxEntryBytes: 1000 })).encode(batch);
    expect(encoded).toMatchObject({ entryCount: 1, dropped: { entry_too_large: 1 } });
  });

  test('withPath joins with one slash and keeps the query', () => {
    expect(withPath(new URL('https://h/base/?a=1'), '/v1/x').href).toBe('https://h/base/v1/x?a=1');
  });
});

describe('vendor mappings and answers', () => {
  test('Logflare copies log.level, null when there is none', () => {
    expect(JSON.parse(logflareLine('{"log":{"level":"warn"},"message":"m"}')).level).toBe('warn');
    expect(JSON.parse(logflareLine('{"message":"m"}')).level).toBeNull();
  });

  test('LogDNA lines: message as line, ms timestamp, app, env, the rest in meta', () => {
    const line = JSON.parse(logdnaLine(entry('hello').line));
    expect(line).toEqual({ line: 'hello', timestamp: Date.parse('2026-11-26T20:35:01.123Z'), app: 'app1', env: 'production', meta: { fly: { app: { instance: 'i1', name: 'app1' }, region: 'ams' }, log: { level: 'warn' }, timestamp: '2026-11-26T20:35:01.123456789Z' } });
    expect(JSON.parse(logdnaBody(['{"line":"a"}', '{"line":"b"}']).toString())).toEqual({ lines: [{ line: 'a' }, { line: 'b' }] });
  });

  test('Axiom and OpenObserve partial answers; anything else means the request was taken whole', () => {
    expect(axiomPartial(answer('{"ingested":8,"failed":2,"failures":[{"error":"x"}]}'))).toEqual({ rejected: 2, reason: 'axiom_failed' });
    expect(axiomPartial(answer('{"ingested":8,"failed":0,"failures":[]}'))).toBeUndefined();
    expect(axiomPartial(answer('not json'))).toBeUndefined();
    expect(axiomPartial(answer('{"failed":"3"}'))).toBeUndefined();
    // An answer cut at the transport's 64 KiB: the count at its head still counts.
    const long = `{"ingested":9000,"failed":1000,"failures":[${Array.from({ length: 1000 }, () => '{"timestamp":"2026-11-26T20:35:01Z","error":"field limit exceeded"}').join(',')}]}`;
    expect(axiomPartial(answer(long.slice(0, 64 * 1024)))).toEqual({ rejected: 1000, reason: 'axiom_failed' });
    expect(axiomPartial(answer('{"failures":[{"failed":5}'))).toBeUndefined();
    expect(openobservePartial(answer('{"code":200,"status":[{"name":"a","successful":1,"failed":2},{"name":"b","successful":0,"failed":1}]}'))).toEqual({ rejected: 3, reason: 'openobserve_failed' });
    expect(openobservePartial(answer('{"code":200,"status":[{"name":"a","successful":3,"failed":0}]}'))).toBeUndefined();
    expect(openobservePartial(answer(''))).toBeUndefined();
  });
});
