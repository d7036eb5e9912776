// Encoding (gzip NDJSON, payload hash), object keys, and how S3 error answers are read
// and classified. No server: the sink's send and healthcheck are covered against s3rver.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { entryFromLine, type LogEntry } from '../../../src/intake/entry.js';
import { EnvReader, type Env } from '../../../src/config/env.js';
import { SinkIoError, SinkNetworkError, SinkResponseError } from '../../../src/errors.js';
import { createLogger } from '../../../src/ops/logger.js';
import type { Batch, Sink } from '../../../src/pipeline/sink.js';
import { S3DigestError, S3ResponseError, classifyS3Failure, parseS3Error, toS3Error } from '../../../sinks/s3/errors.js';
import { gzipNdjson } from '../../../sinks/s3/encode.js';
import { plugin } from '../../../sinks/s3/index.js';
import { batchFromLines, batchLines, makeBatch, splitBatch } from '../../../src/pipeline/batch.js';

const logger = createLogger('silent');
const env: Env = { AWS_BUCKET: 'logs', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', S3_ENDPOINT: 'http://127.0.0.1:1' };

function sink(extra: Env = {}, agentInstanceId = 'machine1-1764189277-ab12'): Sink {
  const config = plugin.readConfig(new EnvReader({ ...env, ...extra }))!;
  return plugin.create(config, { logger, agentInstanceId });
}

function entry(app: string, timestamp: string, message: string, region = 'ams'): LogEntry {
  const line = JSON.stringify({ event: { provider: 'app' }, fly: { app: { instance: 'e2865', name: app }, region }, host: 'f1', log: { level: 'info' }, message, timestamp });
  return entryFromLine(line, Date.parse('2026-11-26T21:00:00Z'));
}

function batch(entries: LogEntry[], partition: string, key = 'machine1-0a1b2c3d4e5f-000001'): Batch {
  return makeBatch(1, partition, entries, key);
}

describe('S3 encode', () => {
  test('a gzip NDJSON body, one line per entry, byte-identical, and its SHA-256 and base64 MD5 (Content-MD5) in meta', async () => {
    const s = sink();
    const entries = [entry('web', '2026-11-26T20:34:37.253123456Z', 'first'), entry('web', '2026-11-26T20:34:38.000000000Z', 'ünïcødé 🚀 "quoted"\tline')];
    const encoded = await s.encode(batch(entries, s.partitionKey!(entries[0]!)));
    expect(encoded.entryCount).toBe(2);
    const text = gunzipSync(encoded.body).toString('utf8');
    expect(text).toBe(`${entries[0]!.line}\n${entries[1]!.line}\n`);
    expect(encoded.meta?.sha256).toBe(createHash('sha256').update(encoded.body).digest('hex'));
    expect(encoded.meta?.md5).toBe(createHash('md5').update(encoded.body).digest('base64'));
  });

  test('large batches are compressed in chunks and still come out whole and in order', async () => {
    const entries: LogEntry[] = [];
    for (let i = 0; i < 3000; i++) entries.push(entry('web', '2026-11-26T20:34:37.000000000Z', `${i} ${'x'.repeat(300)}`));
    const body = await gzipNdjson(makeBatch(1, '', entries));
    const lines = gunzipSync(body).toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toEqual(entries.map((e) => e.line));
    expect(body.length).toBeLessThan(entries.reduce((n, e) => n + e.bytes, 0) / 10);
  });

  test('keys: prefix, Hive partition, then first-entry time and the batch key', async () => {
    const s = sink({ S3_KEY_PREFIX: 'fly' });
    const entries = [entry('shop-api', '2026-11-26T20:34:37.253123456Z', 'a'), entry('shop-api', '2026-11-26T20:59:59.999Z', 'b')];
    const partition = s.partitionKey!(entries[0]!);
    expect(partition).toBe('app=shop-api/dt=2026-11-26/hour=20');
    const first = await s.encode(batch(entries, partition));
    const second = await s.encode(batch(entries, partition, 'machine1-0a1b2c3d4e5f-000002'));
    expect(first.meta?.key).toBe('fly/app=shop-api/dt=2026-11-26/hour=20/20261126T203437.253Z-machine1-0a1b2c3d4e5f-000001.ndjson.gz');
    expect(second.meta?.key).toBe('fly/app=shop-api/dt=2026-11-26/hour=20/20261126T203437.253Z-machine1-0a1b2c3d4e5f-000002.ndjson.gz');
    expect(Buffer.from(second.body).equals(Buffer.from(first.body))).toBe(true);
  });

  test('encode is deterministic: the same batch gets the same key and body on every attempt, by any process (a replay after a restart)', async () => {
    const entries = [entry('web', '2026-11-26T20:34:37Z', 'a'), entry('web', '2026-11-26T20:34:38Z', 'b')];
    const original = batch(entries, 'app=web/dt=2026-11-26/hour=20', 'host-aaaaaaaaaaaa-000042');
    const a = await sink({}, 'host-aaaaaaaaaaaa').encode(original);
    const again = await sink({}, 'host-aaaaaaaaaaaa').encode(original);
    // The next process reads the record back from the spool: a batch with the same lines, key and receive time.
    const replay = batchFromLines(7, original.partition, batchLines(original), original.receivedAtMs, original.key, true);
    const b = await sink({}, 'host-bbbbbbbbbbbb').encode(replay);
    expect(again.meta).toEqual(a.meta);
    expect(b.meta).toEqual(a.meta);
    expect(Buffer.from(b.body).equals(Buffer.from(a.body))).toBe(true);
    // Two batches (of two agents, or two runs) never share a key, even with the same entries.
    const other = await sink({}, 'host-bbbbbbbbbbbb').encode(batch(entries, original.partition, 'host-bbbbbbbbbbbb-000042'));
    expect(other.meta?.key).not.toBe(a.meta?.key);
  });

  test('split halves get keys of their own, the same every time the batch is split', async () => {
    const entries = [entry('web', '2026-11-26T20:34:37Z', 'a'), entry('web', '2026-11-26T20:34:38Z', 'b'), entry('web', '2026-11-26T20:34:39Z', 'c')];
    const whole = batch(entries, 'app=web/dt=2026-11-26/hour=20', 'host-aaaaaaaaaaaa-000042');
    const [h1, h2] = splitBatch(whole, 2, 3);
    const [again1, again2] = splitBatch(whole, 8, 9);
    expect([h1.key, h2.key]).toEqual(['host-aaaaaaaaaaaa-000042-h1', 'host-aaaaaaaaaaaa-000042-h2']);
    expect([again1.key, again2.key]).toEqual([h1.key, h2.key]);
    const s = sink();
    expect((await s.encode(h1)).meta?.key).toBe('app=web/dt=2026-11-26/hour=20/20261126T203437.000Z-host-aaaaaaaaaaaa-000042-h1.ndjson.gz');
    expect((await s.encode(h2)).meta?.key).toBe('app=web/dt=2026-11-26/hour=20/20261126T203439.000Z-host-aaaaaaaaaaaa-000042-h2.ndjson.gz');
  });

  test('a documented custom template; a batch without a partition is placed by its first entry', async () => {
    const s = sink({ S3_PARTITION_TEMPLATE: '{region}/{year}/{month}/{day}/{app}' });
    const e = entry('Weird App!', '2026-01-02T03:04:05.600Z', 'x', 'syd');
    expect(s.partitionKey!(e)).toBe('syd/2026/01/02/Weird_App_');
    const encoded = await s.encode(batch([e], ''));
    expect(encoded.meta?.key).toBe('syd/2026/01/02/Weird_App_/20260102T030405.600Z-machine1-0a1b2c3d4e5f-000001.ndjson.gz');
  });

  test('an unparseable timestamp names the object by the receive time', async () => {
    const s = sink({ S3_PARTITION_TEMPLATE: '{app}' });
    const e = { ...entry('web', 'not a time', 'x'), timestamp: 'not a time' };
    const encoded = await s.encode(batch([e], 'web'));
    expect(encoded.meta?.key).toBe('web/20261126T210000.000Z-machine1-0a1b2c3d4e5f-000001.ndjson.gz');
  });

  test('the sink states its expected compression ratio for the core', () => {
    expect(sink().initialEncodedRatio).toBe(0.15);
  });

  test('send refuses a batch without an object key, permanently', async () => {
    const s = sink();
    const e = [entry('web', '2026-11-26T20:34:37Z', 'a')];
    const error = await s.send({ body: new Uint8Array(1), entryCount: 1 }, batch(e, ''), new AbortController().signal).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(error).toBeInstanceOf(SinkIoError);
    expect(s.classify(error)).toBe('permanent');
    await s.close?.();
  });
});

describe('S3 error answers', () => {
  const xml = (code: string, message: string): string =>
    `<?xml version="1.0" encoding="UTF-8"?> <Error><Code>${code}</Code><Message>${message}</Message><BucketName>logs</BucketName></Error>`;

  test('S3 XML code and message are read from the answer', () => {
    expect(parseS3Error(xml('NoSuchBucket', 'The specified bucket does not exist'))).toEqual({ code: 'NoSuchBucket', message: 'The specified bucket does not exist' });
    expect(parseS3Error('<html>bad gateway</html>')).toEqual({ code: '', message: '' });
  });

  test('a SinkResponseError becomes an S3ResponseError naming the code, keeping status and Retry-After', () => {
    const raw = new SinkResponseError(503, xml('SlowDown', 'Please reduce your request rate.'), { retryAfterMs: 2000 });
    const e = toS3Error(raw, 'PUT k in bucket "logs" at h') as S3ResponseError;
    expect(e).toBeInstanceOf(S3ResponseError);
    expect(e).toBeInstanceOf(SinkResponseError);
    expect(e.code).toBe('SINK_HTTP_STATUS');
    expect(e.status).toBe(503);
    expect(e.retryAfterMs).toBe(2000);
    expect(e.s3Code).toBe('SlowDown');
    expect(e.bodyExcerpt).toBe('SlowDown: Please reduce your request rate.');
    expect(e.message).toBe('S3 PUT k in bucket "logs" at h answered HTTP 503: SlowDown (Please reduce your request rate.)');
    expect(e.cause).toBe(raw);
    // Non-XML answers keep their excerpt; other errors pass through untouched.
    expect((toS3Error(new SinkResponseError(502, 'bad gateway'), 'x') as Error).message).toBe('S3 x answered HTTP 502: bad gateway');
    const net = new SinkNetworkError('refused');
    expect(toS3Error(net, 'x')).toBe(net);
  });

  test('classification: 5xx, 429, 408 and retryable S3 codes retry; 403, 404 and other 4xx do not; 413 splits', () => {
    const s3 = (status: number, code: string): unknown => toS3Error(new SinkResponseError(status, code === '' ? '' : xml(code, 'm')), 'x');
    const cases: Array<[unknown, string]> = [
      [s3(500, 'InternalError'), 'retry'],
      [s3(503, 'SlowDown'), 'retry'],
      [s3(502, ''), 'retry'],
      [s3(429, ''), 'retry'],
      [s3(408, ''), 'retry'],
      [s3(400, 'RequestTimeout'), 'retry'],
      [s3(400, 'IncompleteBody'), 'retry'],
      [s3(403, 'RequestTimeTooSkewed'), 'retry'],
      [s3(409, 'OperationAborted'), 'retry'],
      [s3(400, 'BadDigest'), 'permanent'],
      // What send makes of a checksum mismatch: the first for a body is retried, a second is not.
      [new S3DigestError('BadDigest', true), 'retry'],
      [new S3DigestError('BadDigest again', false), 'permanent'],
      [s3(400, 'InvalidArgument'), 'permanent'],
      [s3(403, 'InvalidAccessKeyId'), 'permanent'],
      [s3(403, 'SignatureDoesNotMatch'), 'permanent'],
      [s3(403, 'AccessDenied'), 'permanent'],
      [s3(404, 'NoSuchBucket'), 'permanent'],
      [s3(413, 'EntityTooLarge'), 'split'],
      [new SinkNetworkError('reset'), 'retry'],
      [new Error('unknown'), 'retry'],
    ];
    for (const [error, action] of cases) expect(classifyS3Failure(error), (error as Error).message).toBe(action);
  });
});
