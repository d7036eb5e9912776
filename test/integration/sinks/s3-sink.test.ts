// The S3 sink against s3rver (a real S3 HTTP API), read back with a different client
// (test/support/s3.ts: node:http, path-style, unsigned). A recording proxy in front of
// s3rver captures headers s3rver does not keep (SSE) and plays the store going down.
import { createHash } from 'node:crypto';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { afterEach, describe, expect, test } from 'vitest';
import { parseFlyMessage, type LogEntry } from '../../../src/intake/entry.js';
import { EnvReader, type Env } from '../../../src/config/env.js';
import { SinkNetworkError, isAuthFailure } from '../../../src/errors.js';
import { createLogger, ThrottledLog } from '../../../src/ops/logger.js';
import { SinkPipeline } from '../../../src/pipeline/sink-pipeline.js';
import type { Sink } from '../../../src/pipeline/sink.js';
import { SinkStats } from '../../../src/ops/stats.js';
import { plugin } from '../../../sinks/s3/index.js';
import { S3ResponseError } from '../../../sinks/s3/errors.js';
import { makeFlyEntries, idOf } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { freePort } from '../../support/ports.js';
import { S3RVER_CREDENTIALS, getObject, readObjects, startS3Proxy, startS3rver, type S3Proxy, type S3rverHandle } from '../../support/s3.js';
import { batchesFor, sampleEntries, sinkContractSuite } from '../../support/sink-contract.js';
import { batchFromLines, batchLines } from '../../../src/pipeline/batch.js';

const BUCKET = 'fly-logs';
const logger = createLogger('silent');

function s3Env(endpoint: string, extra: Env = {}): Env {
  return {
    AWS_BUCKET: BUCKET,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    S3_ENDPOINT: endpoint,
    ...extra,
  };
}

function makeSink(env: Env, agentInstanceId = 'agent-a'): Sink {
  const config = plugin.readConfig(new EnvReader(env));
  if (config === undefined) throw new Error('s3 sink not configured');
  return plugin.create(config, { logger, agentInstanceId });
}

async function storedEntries(s3: S3rverHandle, bucket = BUCKET): Promise<Array<Record<string, unknown>>> {
  const objects = await readObjects(s3.endpoint, bucket);
  return objects.flatMap((o) => o.lines.map((l) => JSON.parse(l) as Record<string, unknown>));
}

function entriesOf(payloads: ReadonlyArray<{ subject: string; payload: string }>, receivedAtMs = Date.now()): LogEntry[] {
  return payloads.map(({ subject, payload }) => {
    const parsed = parseFlyMessage(subject, Buffer.from(payload, 'utf8'), receivedAtMs);
    if (parsed.kind !== 'entry') throw new Error('test entry did not parse');
    return parsed.entry;
  });
}

function pipelineFor(sink: Sink, batchMaxBytes: number, runId = 'agent-a'): { pipeline: SinkPipeline; stats: SinkStats } {
  const stats = new SinkStats();
  const pipeline = new SinkPipeline({
    sink,
    runId,
    settings: { ...plugin.defaults, batch: { ...plugin.defaults.batch, maxBytes: batchMaxBytes } },
    retry: { initialBackoffMs: 20, maxBackoffMs: 200 },
    stats,
    logger,
    throttled: new ThrottledLog(logger, 60_000),
  });
  return { pipeline, stats };
}

// Every test registers what it started; afterEach closes it all, failures included.
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function s3rver(buckets: readonly string[] = [BUCKET]): Promise<S3rverHandle> {
  const s3 = await startS3rver({ buckets });
  cleanups.push(() => s3.close());
  return s3;
}

async function proxyTo(target: string | undefined): Promise<S3Proxy> {
  const proxy = await startS3Proxy(target);
  cleanups.push(() => proxy.close());
  return proxy;
}

function sinkFor(env: Env, agentInstanceId?: string): Sink {
  const sink = makeSink(env, agentInstanceId);
  cleanups.push(() => sink.close?.());
  return sink;
}

// -----------------------------------------------------------------------------------------

sinkContractSuite('s3', async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  const proxy = await startS3Proxy(s3.endpoint);
  const sink = makeSink(s3Env(proxy.endpoint));
  return {
    sink,
    stored: () => storedEntries(s3),
    failNext: (status) => proxy.failNext(status, status === 429 ? { retryAfter: 1 } : {}),
    refusedSink: async () => makeSink(s3Env(`http://127.0.0.1:${await freePort()}`)),
    async close() {
      await sink.close?.();
      await proxy.close();
      await s3.close();
    },
  };
});

sinkContractSuite('s3 (S3_COMPRESSION=zstd)', async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  const proxy = await startS3Proxy(s3.endpoint);
  const sink = makeSink(s3Env(proxy.endpoint, { S3_COMPRESSION: 'zstd' }));
  return {
    sink,
    stored: () => storedEntries(s3),
    failNext: (status) => proxy.failNext(status, status === 429 ? { retryAfter: 1 } : {}),
    async close() {
      await sink.close?.();
      await proxy.close();
      await s3.close();
    },
  };
});

const KEY = /^archive\/app=([a-z-]+)\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/(\d{8}T\d{6}\.\d{3}Z)-(agent-[ab])-(\d{6})\.ndjson\.gz$/;

describe('s3 sink against s3rver', () => {
  test('S3_COMPRESSION=zstd: .ndjson.zst objects, application/zstd with no Content-Encoding, read back by zstd line for line', async () => {
    const s3 = await s3rver();
    const sink = sinkFor(s3Env(s3.endpoint, { S3_COMPRESSION: 'zstd' }));
    const fly = makeFlyEntries(3000, { apps: ['shop-api', 'edge-cache'], seed: 17, startMs: Date.UTC(2026, 10, 26, 20, 10) });
    const { pipeline, stats } = pipelineFor(sink, 32 * 1024);
    for (const e of entriesOf(fly)) pipeline.accept(e);
    pipeline.flush();
    expect(await pipeline.whenIdle(60_000)).toBe(true);
    expect(stats.delivered).toBe(3000);

    const objects = await readObjects(s3.endpoint, BUCKET);
    expect(objects.length).toBeGreaterThan(2);
    const stored: string[] = [];
    for (const object of objects) {
      expect(object.key).toMatch(/^app=(shop-api|edge-cache)\/dt=2026-11-26\/hour=20\/\d{8}T\d{6}\.\d{3}Z-agent-a-\d{6}\.ndjson\.zst$/);
      expect(object.headers['content-type']).toBe('application/zstd');
      expect(object.headers['content-encoding']).toBeUndefined();
      // The raw stored bytes are one zstd frame (magic 28 B5 2F FD) that zlib's zstd reads back.
      const raw = await getObject(s3.endpoint, BUCKET, object.key);
      expect(raw.body.readUInt32LE(0)).toBe(0xfd2fb528);
      expect(zstdDecompressSync(raw.body).toString('utf8')).toBe(object.lines.map((l) => `${l}\n`).join(''));
      stored.push(...object.lines);
    }
    expect(stored.sort()).toEqual(fly.map((f) => f.payload).sort());
  });

  test('20,000 mixed entries across apps and hours land under the documented keys, each exactly once and byte-identical', async () => {
    const s3 = await s3rver();
    const sink = sinkFor(s3Env(s3.endpoint, { S3_KEY_PREFIX: 'archive' }));
    const apps = ['shop-api', 'edge-cache', 'billing-worker', 'terrateam-app-production', 'docs'];
    // Starts ten seconds before an hour boundary, so batches split by hour as well as by app.
    const fly = makeFlyEntries(20_000, { apps, seed: 7, startMs: Date.UTC(2026, 10, 26, 20, 59, 50) });
    const entries = entriesOf(fly);
    // Small objects, so there are many per partition and the sequence and ratio learning get exercised.
    const { pipeline, stats } = pipelineFor(sink, 64 * 1024);
    for (const e of entries) pipeline.accept(e);
    pipeline.flush();
    expect(await pipeline.whenIdle(60_000)).toBe(true);
    expect(stats.delivered).toBe(20_000);

    const objects = await readObjects(s3.endpoint, BUCKET);
    expect(objects.length).toBeGreaterThan(2 * apps.length);
    const byId = new Map(fly.map((f) => [f.id, f]));
    const seen = new Set<string>();
    const hours = new Set<string>();
    for (const object of objects) {
      const m = KEY.exec(object.key);
      expect(m, object.key).not.toBeNull();
      const [, app, date, hour, stamp] = m!;
      hours.add(hour!);
      expect(object.headers['content-type']).toBe('application/gzip');
      expect(object.headers['content-encoding']).toBeUndefined();
      let firstMs: number | undefined;
      for (const line of object.lines) {
        const body = JSON.parse(line) as { timestamp: string; fly: { app: { name: string } } };
        const id = idOf(body)!;
        expect(seen.has(id), `entry ${id} stored twice`).toBe(false);
        seen.add(id);
        // Byte-identical: the stored line is exactly what Fly published.
        expect(line).toBe(byId.get(id)!.payload);
        expect(body.fly.app.name).toBe(app);
        expect(body.timestamp.slice(0, 10)).toBe(date);
        expect(body.timestamp.slice(11, 13)).toBe(hour);
        firstMs ??= Date.parse(body.timestamp);
      }
      // The file name sorts by the time of the object's first entry.
      expect(stamp).toBe(new Date(firstMs!).toISOString().replace(/[-:]/g, ''));
    }
    expect(seen.size).toBe(20_000);
    expect([...hours].sort()).toEqual(['20', '21']);
  });

  test('the store is unreachable for a while, then comes back: every attempt is classified retry and nothing is lost', async () => {
    const s3 = await s3rver();
    const proxy = await proxyTo(s3.endpoint);
    const sink = sinkFor(s3Env(proxy.endpoint));
    await proxy.down();

    // One attempt, as the core makes it: a connection the store resets is a network error worth retrying.
    const [batch] = batchesFor(sink, sampleEntries());
    const encoded = await sink.encode(batch!);
    const unreachable = await sink.send(encoded, batch!, new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(unreachable).toBeInstanceOf(SinkNetworkError);
    expect(sink.classify(unreachable)).toBe('retry');

    const fly = makeFlyEntries(3_000, { seed: 11 });
    const { pipeline, stats } = pipelineFor(sink, 32 * 1024);
    for (const e of entriesOf(fly)) pipeline.accept(e);
    pipeline.flush();
    await waitFor(() => stats.retries >= 3, { what: 'the pipeline to retry against the unreachable store' });
    expect(stats.delivered).toBe(0);

    await proxy.up();
    expect(await pipeline.whenIdle(30_000)).toBe(true);
    expect(stats.delivered).toBe(3_000);
    const ids = (await storedEntries(s3)).map((o) => idOf(o));
    expect(ids.length).toBe(3_000);
    expect(new Set(ids)).toEqual(new Set(fly.map((f) => f.id)));
  });

  test('503 SlowDown and 400 RequestTimeout are retried; 404 NoSuchBucket and 403 AccessDenied are not', async () => {
    const s3 = await s3rver();
    const proxy = await proxyTo(s3.endpoint);
    const sink = sinkFor(s3Env(proxy.endpoint));
    const [batch] = batchesFor(sink, sampleEntries());
    const encoded = await sink.encode(batch!);
    const cases: Array<[number, string, string]> = [
      [503, 'SlowDown', 'retry'],
      [400, 'RequestTimeout', 'retry'],
      [500, 'InternalError', 'retry'],
      [404, 'NoSuchBucket', 'permanent'],
      [403, 'AccessDenied', 'permanent'],
      [400, 'InvalidStorageClass', 'permanent'],
    ];
    for (const [status, code, action] of cases) {
      proxy.failNext(status, { code, message: `scripted ${code}` });
      const error = await sink.send(encoded, batch!, new AbortController().signal).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, code).toBeInstanceOf(S3ResponseError);
      expect((error as S3ResponseError).s3Code).toBe(code);
      expect((error as Error).message).toContain(`HTTP ${status}: ${code} (scripted ${code})`);
      expect(sink.classify(error), code).toBe(action);
    }
  });

  test('every PUT carries a signed Content-MD5 of its body; a body altered after it was hashed is refused (BadDigest), counted rejected and never stored', async () => {
    const s3 = await s3rver();
    const proxy = await proxyTo(s3.endpoint);
    const sink = sinkFor(s3Env(proxy.endpoint));
    const [batch] = batchesFor(sink, sampleEntries());
    const encoded = await sink.encode(batch!);
    await sink.send(encoded, batch!, new AbortController().signal);
    const put = proxy.requests.find((r) => r.method === 'PUT')!;
    expect(put.status).toBe(200);
    expect(put.headers['content-md5']).toBe(createHash('md5').update(encoded.body).digest('base64'));
    expect(String(put.headers.authorization)).toMatch(/SignedHeaders=[^,]*content-md5/);

    // A sink whose bytes change between encode (which hashed them) and the wire.
    const corrupting: Sink = {
      name: sink.name,
      kind: sink.kind,
      partitionKey: (e) => sink.partitionKey!(e),
      encode: async (b) => {
        const e = await sink.encode(b);
        const body = Buffer.from(e.body);
        const at = body.length >> 1;
        body[at] = body[at]! ^ 0x20;
        return { ...e, body };
      },
      send: (e, b, signal) => sink.send(e, b, signal),
      classify: (error) => sink.classify(error),
    };
    const { pipeline, stats } = pipelineFor(corrupting, 64 * 1024, 'corrupting-run');
    const fly = makeFlyEntries(500, { seed: 21 });
    for (const e of entriesOf(fly)) pipeline.accept(e);
    pipeline.flush();
    expect(await pipeline.whenIdle(30_000)).toBe(true);
    const refused = proxy.requests.filter((r) => r.method === 'PUT' && r.status === 400);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    // The first refusal of a body is retried once (a flaky link); the second is final.
    expect(stats.retries).toBe(refused.length / 2);
    expect(stats.delivered).toBe(0);
    expect(Object.fromEntries(stats.rejected)).toEqual({ s3_bad_digest: 500 });
    // Nothing corrupt was stored: the bucket holds only the first, intact object.
    const objects = await readObjects(s3.endpoint, BUCKET);
    expect(objects.map((o) => o.key)).toEqual([encoded.meta!.key]);
  });

  test('a replayed batch is looked up first: a replay of a stored object replaces it (one copy) and says it overwrote', async () => {
    const s3 = await s3rver();
    const proxy = await proxyTo(s3.endpoint);
    const sink = sinkFor(s3Env(proxy.endpoint));
    const [batch] = batchesFor(sink, sampleEntries());
    const live = new AbortController().signal;
    // A first batch is not a replay: one PUT, no HEAD.
    expect(await sink.send(await sink.encode(batch!), batch!, live)).toBeUndefined();
    expect(proxy.requests.map((r) => r.method)).toEqual(['PUT']);
    // The same batch read back from the spool (its ack was lost): HEAD finds it, the PUT replaces it.
    const replay = batchFromLines(50, batch!.partition, batchLines(batch!), batch!.receivedAtMs, batch!.key, true);
    const encoded = await sink.encode(replay);
    expect(await sink.send(encoded, replay, live)).toEqual({ overwrote: true });
    // A replay of a batch never stored: HEAD answers 404, no overwrite.
    const [, other] = batchesFor(sink, sampleEntries());
    const otherReplay = batchFromLines(51, other!.partition, batchLines(other!), other!.receivedAtMs, other!.key, true);
    expect(await sink.send(await sink.encode(otherReplay), otherReplay, live)).toBeUndefined();
    expect(proxy.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 200', 'HEAD 200', 'PUT 200', 'HEAD 404', 'PUT 200']);
    const objects = await readObjects(s3.endpoint, BUCKET);
    expect(objects.map((o) => o.key).sort()).toEqual([encoded.meta!.key, (await sink.encode(otherReplay)).meta!.key].sort());
    expect(objects.find((o) => o.key === encoded.meta!.key)!.lines).toEqual(batchLines(batch!));
  });

  test('two instances in one queue group write disjoint keys, and neither overwrites the other', async () => {
    const s3 = await s3rver();
    const a = sinkFor(s3Env(s3.endpoint), 'agent-a');
    const b = sinkFor(s3Env(s3.endpoint), 'agent-b');
    // The same entries at the same times: same partitions, same first-entry times, same batch numbers.
    const fly = makeFlyEntries(2_000, { seed: 3 });
    const entries = entriesOf(fly);
    for (const [sink, runId] of [[a, 'agent-a'], [b, 'agent-b']] as const) {
      const { pipeline, stats } = pipelineFor(sink, 16 * 1024, runId);
      for (const e of entries) pipeline.accept(e);
      pipeline.flush();
      expect(await pipeline.whenIdle(30_000)).toBe(true);
      expect(stats.delivered).toBe(2_000);
    }
    const objects = await readObjects(s3.endpoint, BUCKET);
    const keysOf = (agent: string): string[] => objects.filter((o) => o.key.includes(`-${agent}-`)).map((o) => o.key);
    const keysA = keysOf('agent-a');
    const keysB = keysOf('agent-b');
    expect(keysA.length).toBeGreaterThan(1);
    expect(keysB.length).toBeGreaterThan(1);
    expect(keysA.length + keysB.length).toBe(objects.length);
    // Same partitions and first-entry times on both sides; only the agent part tells them apart.
    const withoutAgentAndSeq = (k: string): string => k.replace(/-agent-[ab]-\d{6}\.ndjson\.gz$/, '');
    expect(new Set(keysB.map(withoutAgentAndSeq))).toEqual(new Set(keysA.map(withoutAgentAndSeq)));
    // Both instances' entries are all there: nothing was overwritten.
    const count = new Map<string, number>();
    for (const o of objects) for (const l of o.lines) count.set(idOf(JSON.parse(l))!, (count.get(idOf(JSON.parse(l))!) ?? 0) + 1);
    expect(count.size).toBe(2_000);
    expect([...count.values()].every((n) => n === 2)).toBe(true);
  });

  test('SSE (aws:kms with a key id) and the storage class are sent on every PUT, and the request is SigV4-signed', async () => {
    const s3 = await s3rver();
    const proxy = await proxyTo(s3.endpoint);
    const kmsKey = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const sink = sinkFor(s3Env(proxy.endpoint, { S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: kmsKey, S3_STORAGE_CLASS: 'standard_ia', AWS_SESSION_TOKEN: 'session-token-value' }));
    for (const batch of batchesFor(sink, sampleEntries())) {
      await sink.send(await sink.encode(batch), batch, new AbortController().signal);
    }
    const puts = proxy.requests.filter((r) => r.method === 'PUT');
    expect(puts.length).toBeGreaterThan(0);
    const objects = await readObjects(s3.endpoint, BUCKET);
    for (const put of puts) {
      expect(put.status).toBe(200);
      expect(put.headers['x-amz-server-side-encryption']).toBe('aws:kms');
      expect(put.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(kmsKey);
      expect(put.headers['x-amz-storage-class']).toBe('STANDARD_IA');
      expect(put.headers['x-amz-security-token']).toBe('session-token-value');
      expect(put.headers['content-type']).toBe('application/gzip');
      expect(put.headers['content-encoding']).toBeUndefined();
      const auth = String(put.headers.authorization);
      expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=S3RVER\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);
      for (const h of ['content-type', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token', 'x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-storage-class']) {
        expect(auth).toContain(h);
      }
      // The payload hash header is the SHA-256 of the body that was stored.
      const key = decodeURIComponent(put.path.replace(`/${BUCKET}/`, ''));
      const object = objects.find((o) => o.key === key)!;
      expect(object, key).toBeDefined();
      expect(object.headers['x-amz-storage-class']).toBe('STANDARD_IA');
    }
    expect(objects.length).toBe(puts.length);
  });

  test('SSE AES256 alone sends no KMS key header; the payload hash matches the stored bytes', async () => {
    const s3 = await s3rver();
    const proxy = await proxyTo(s3.endpoint);
    const sink = sinkFor(s3Env(proxy.endpoint, { S3_SSE: 'AES256' }));
    const [batch] = batchesFor(sink, sampleEntries());
    await sink.send(await sink.encode(batch!), batch!, new AbortController().signal);
    const [put] = proxy.requests.filter((r) => r.method === 'PUT');
    expect(put!.headers['x-amz-server-side-encryption']).toBe('AES256');
    expect(put!.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBeUndefined();
    expect(put!.headers['x-amz-storage-class']).toBeUndefined();
    const [object] = await readObjects(s3.endpoint, BUCKET);
    const raw = await getObject(s3.endpoint, BUCKET, object!.key);
    expect(put!.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(raw.body).digest('hex'));
    expect(gunzipSync(raw.body).toString('utf8').split('\n').filter((l) => l !== '')).toEqual(batchLines(batch!));
  });

  test('healthcheck passes against an existing bucket', async () => {
    const s3 = await s3rver();
    const sink = sinkFor(s3Env(s3.endpoint));
    await expect(sink.healthcheck!(new AbortController().signal)).resolves.toBeUndefined();
  });

  test('a missing bucket gives one clear line at healthcheck, and uploads are rejected, not retried', async () => {
    const s3 = await s3rver();
    const sink = sinkFor(s3Env(s3.endpoint, { AWS_BUCKET: 'no-such-bucket' }));
    const host = new URL(s3.endpoint).host;
    const error = await sink.healthcheck!(new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(S3ResponseError);
    expect((error as Error).message).toBe(`bucket "no-such-bucket" does not exist at ${host} (NoSuchBucket, HTTP 404); create it or fix AWS_BUCKET/BUCKET_NAME`);

    const [batch] = batchesFor(sink, sampleEntries());
    const sendError = await sink.send(await sink.encode(batch!), batch!, new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((sendError as S3ResponseError).s3Code).toBe('NoSuchBucket');
    expect(sink.classify(sendError)).toBe('permanent');
    // The core logs the rejection once and goes on: the sink itself stays usable.
    expect(await readObjects(s3.endpoint, BUCKET)).toEqual([]);
  });

  test('an access key the store does not know (s3rver checks the key id) gives one clear line; the secret is never shown', async () => {
    const s3 = await s3rver();
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const sink = sinkFor(s3Env(s3.endpoint, { AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY', AWS_SECRET_ACCESS_KEY: secret }));
    const error = await sink.healthcheck!(new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toBe(`S3 at ${new URL(s3.endpoint).host} does not know the access key in AWS_ACCESS_KEY_ID (InvalidAccessKeyId, HTTP 403)`);
    expect(isAuthFailure(error)).toBe(true);
    expect(JSON.stringify(error)).not.toContain(secret);
    expect(String((error as Error).stack)).not.toContain(secret);
  });

  test('a wrong secret (SignatureDoesNotMatch, which s3rver cannot detect) gives one clear line', async () => {
    const proxy = await proxyTo(undefined);
    proxy.failAll({ status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' });
    const sink = sinkFor(s3Env(proxy.endpoint));
    const error = await sink.healthcheck!(new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toBe(`S3 at 127.0.0.1:${proxy.port} refused the signature: AWS_SECRET_ACCESS_KEY does not belong to AWS_ACCESS_KEY_ID (SignatureDoesNotMatch, HTTP 403)`);
    expect(isAuthFailure(error)).toBe(true);
    // The check listed the bucket, signed, with nothing written.
    expect(proxy.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /${BUCKET}?list-type=2&max-keys=1`]);
    expect(proxy.requests[0]!.headers['x-amz-content-sha256']).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  test('a bucket in another region names the region problem; a write-only key (AccessDenied on listing) passes the check', async () => {
    const proxy = await proxyTo(undefined);
    proxy.failNext(400, { code: 'AuthorizationHeaderMalformed', message: "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'" });
    const sink = sinkFor(s3Env(proxy.endpoint));
    const error = await sink.healthcheck!(new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain(`is not in region "us-east-1"`);
    expect((error as Error).message).toContain("expecting 'eu-west-1'");
    expect((error as Error).message).toContain('set AWS_REGION');

    proxy.failNext(403, { code: 'AccessDenied', message: 'Access Denied' });
    await expect(sink.healthcheck!(new AbortController().signal)).resolves.toBeUndefined();
  });

  test('an unreachable endpoint at healthcheck says so', async () => {
    const port = await freePort();
    const sink = sinkFor(s3Env(`http://127.0.0.1:${port}`));
    const error = await sink.healthcheck!(new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SinkNetworkError);
    expect((error as Error).message).toMatch(new RegExp(`^S3 endpoint 127\\.0\\.0\\.1:${port} is unreachable: `));
  });
});
