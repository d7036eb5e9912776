// The HTTP sink against a real node:http receiver (and a real TLS server for certificate checks).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { SinkNetworkError, SinkResponseError } from '../../../src/errors.js';
import type { Sink } from '../../../src/pipeline/sink.js';
import { plugin } from '../../../sinks/http/index.js';
import type { HttpSinkConfig } from '../../../sinks/http/config.js';
import { startHttpReceiver, type HttpReceiver } from '../../support/http-receiver.js';
import { freePort } from '../../support/ports.js';
import { waitFor } from '../../support/poll.js';
import { makeBatch, sampleEntries, sinkContractSuite } from '../../support/sink-contract.js';

const context = { logger: undefined as never, agentInstanceId: 'test-agent' };

function config(env: Record<string, string>): HttpSinkConfig {
  const c = plugin.readConfig(new EnvReader(env));
  if (c === undefined) throw new Error('HTTP sink not configured');
  return c;
}

function harnessFor(extraEnv: Record<string, string>) {
  return async () => {
    const rx = await startHttpReceiver();
    const sink = plugin.create(config({ HTTP_URL: `${rx.url}/ingest`, ...extraEnv }), context);
    return {
      sink,
      stored: async () => rx.entries(),
      failNext: (status: number) => rx.failNext(status, status === 429 ? { retryAfter: 1 } : {}),
      refusedSink: async () => plugin.create(config({ HTTP_URL: `http://127.0.0.1:${await freePort()}/ingest`, ...extraEnv }), context),
      close: async () => {
        await sink.close?.();
        await rx.close();
      },
    };
  };
}

sinkContractSuite('http (ndjson)', harnessFor({}));
sinkContractSuite('http (json array, gzip)', harnessFor({ HTTP_FORMAT: 'json', HTTP_COMPRESSION: 'gzip' }));

describe('HTTP sink requests', () => {
  let rx: HttpReceiver;
  const sinks: Sink[] = [];
  const entries = sampleEntries();
  const lines = entries.map((e) => e.line);

  beforeAll(async () => {
    rx = await startHttpReceiver();
  });
  afterEach(async () => {
    rx.reset();
    await Promise.all(sinks.splice(0).map((s) => s.close?.()));
  });
  afterAll(async () => {
    await rx.close();
  });

  function sinkWith(env: Record<string, string>): Sink {
    const sink = plugin.create(config({ HTTP_URL: `${rx.url}/v1/logs?tenant=a&key=q-secret`, ...env }), context);
    sinks.push(sink);
    return sink;
  }

  async function ship(sink: Sink): Promise<void> {
    const batch = makeBatch(entries);
    await sink.send(await sink.encode(batch), batch, new AbortController().signal);
  }

  test('ndjson: lines joined by newlines with a trailing newline, POSTed to the path and query', async () => {
    await ship(sinkWith({}));
    const [req] = rx.requests;
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/v1/logs?tenant=a&key=q-secret');
    expect(req!.headers['content-type']).toBe('application/x-ndjson');
    expect(req!.headers['content-encoding']).toBeUndefined();
    expect(req!.headers['user-agent']).toBe('logferry');
    expect(req!.headers.authorization).toBeUndefined();
    expect(req!.body.toString('utf8')).toBe(`${lines.join('\n')}\n`);
    expect(Number(req!.headers['content-length'])).toBe(req!.body.length);
    expect(rx.entries()).toEqual(lines.map((l) => JSON.parse(l)));
  });

  test('json + gzip: one gzip body holding [line,line,...]', async () => {
    await ship(sinkWith({ HTTP_FORMAT: 'json', HTTP_COMPRESSION: 'gzip', HTTP_COMPRESSION_LEVEL: '9' }));
    const [req] = rx.requests;
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(req!.body).toString('utf8')).toBe(`[${lines.join(',')}]`);
    expect(req!.body.length).toBeLessThan(req!.decoded.length);
    expect(rx.entries()).toEqual(lines.map((l) => JSON.parse(l)));
  });

  test('ndjson + gzip', async () => {
    await ship(sinkWith({ HTTP_COMPRESSION: 'gzip' }));
    const [req] = rx.requests;
    expect(req!.headers['content-type']).toBe('application/x-ndjson');
    expect(gunzipSync(req!.body).toString('utf8')).toBe(`${lines.join('\n')}\n`);
  });

  test('PUT when HTTP_METHOD=PUT', async () => {
    await ship(sinkWith({ HTTP_METHOD: 'put' }));
    expect(rx.requests[0]!.method).toBe('PUT');
  });

  test('bearer token arrives as Authorization: Bearer', async () => {
    await ship(sinkWith({ HTTP_TOKEN: 'tok-123' }));
    expect(rx.requests[0]!.headers.authorization).toBe('Bearer tok-123');
  });

  test('basic auth arrives as Authorization: Basic', async () => {
    await ship(sinkWith({ HTTP_USERNAME: 'shipper', HTTP_PASSWORD: 'p@ss:wörd' }));
    expect(rx.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('shipper:p@ss:wörd').toString('base64')}`);
  });

  test('credentials in HTTP_URL become basic auth and leave the URL', async () => {
    const sink = plugin.create(config({ HTTP_URL: `http://ship%40per:s%3Acret@127.0.0.1:${rx.port}/in` }), context);
    sinks.push(sink);
    await ship(sink);
    const [req] = rx.requests;
    expect(req!.headers.authorization).toBe(`Basic ${Buffer.from('ship@per:s:cret').toString('base64')}`);
    expect(req!.path).toBe('/in');
    expect(req!.headers.host).toBe(`127.0.0.1:${rx.port}`);
  });

  test('custom headers arrive (JSON object and Name=value list)', async () => {
    await ship(sinkWith({ HTTP_HEADERS: '{"X-Api-Key":"k-1","DD-EVP-ORIGIN":"logferry","Content-Type":"text/plain"}' }));
    await ship(sinkWith({ HTTP_HEADERS: 'X-Api-Key=k=2, X-Scope-OrgID = tenant-7', HTTP_TOKEN: 't' }));
    const [first, second] = rx.requests;
    expect(first!.headers['x-api-key']).toBe('k-1');
    expect(first!.headers['dd-evp-origin']).toBe('logferry');
    expect(first!.headers['content-type']).toBe('text/plain');
    expect(second!.headers['x-api-key']).toBe('k=2');
    expect(second!.headers['x-scope-orgid']).toBe('tenant-7');
    expect(second!.headers.authorization).toBe('Bearer t');
  });

  test('a non-2xx answer carries the status, Retry-After and a body excerpt, never the token', async () => {
    const sink = sinkWith({ HTTP_TOKEN: 'tok-secret-9' });
    rx.failNext(503, { retryAfter: 7, body: 'upstream\n  overloaded' });
    const batch = makeBatch(entries);
    const error = await sink.send(await sink.encode(batch), batch, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkResponseError);
    const e = error as SinkResponseError;
    expect(e.status).toBe(503);
    expect(e.retryAfterMs).toBe(7000);
    expect(e.bodyExcerpt).toBe('upstream overloaded');
    expect(e.message).not.toContain('tok-secret-9');
    expect(sink.classify(e)).toBe('retry');
  });

  test('an HTTP-date Retry-After is honoured too', async () => {
    const sink = sinkWith({});
    rx.failNext(429, { retryAfter: new Date(Date.now() + 60_000).toUTCString() });
    const batch = makeBatch(entries);
    const error = (await sink.send(await sink.encode(batch), batch, new AbortController().signal).catch((e: unknown) => e)) as SinkResponseError;
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBeGreaterThan(50_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  test('a body over the endpoint limit is answered 413 and classified split', async () => {
    const small = await startHttpReceiver({ maxBodyBytes: 100 });
    const sink = plugin.create(config({ HTTP_URL: small.url }), context);
    try {
      const batch = makeBatch(entries);
      const error = await sink.send(await sink.encode(batch), batch, new AbortController().signal).catch((e: unknown) => e);
      expect((error as SinkResponseError).status).toBe(413);
      expect(sink.classify(error)).toBe('split');
    } finally {
      await sink.close?.();
      await small.close();
    }
  });

  test('a server that never answers times out after HTTP_TIMEOUT as a retryable network error', async () => {
    const sink = sinkWith({ HTTP_TIMEOUT: '300ms' });
    rx.respondWith(() => ({ status: 200, hang: true }));
    const batch = makeBatch(entries);
    const started = Date.now();
    const error = await sink.send(await sink.encode(batch), batch, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkNetworkError);
    expect((error as Error).message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(sink.classify(error)).toBe('retry');
  });

  test('aborting an attempt in flight rejects it promptly', async () => {
    const sink = sinkWith({ HTTP_TIMEOUT: '60s' });
    rx.respondWith(() => ({ status: 200, hang: true }));
    const batch = makeBatch(entries);
    const controller = new AbortController();
    const sending = sink.send(await sink.encode(batch), batch, controller.signal).catch((e: unknown) => e);
    await waitFor(() => rx.requests.length === 1, { what: 'the request to reach the receiver' });
    const abortedAt = Date.now();
    controller.abort(new Error('shutdown'));
    expect(await sending).toBeInstanceOf(Error);
    expect(Date.now() - abortedAt).toBeLessThan(2000);
  });

  test('requests reuse the pooled connection', async () => {
    const sink = sinkWith({});
    for (let i = 0; i < 6; i++) await ship(sink);
    expect(rx.requests).toHaveLength(6);
    // Kept-alive connections are reused: fewer client ports than requests.
    expect(new Set(rx.requests.map((r) => r.remotePort)).size).toBeLessThan(4);
  });

  test('healthcheck connects without sending a request', async () => {
    const sink = sinkWith({});
    await sink.healthcheck!(new AbortController().signal);
    expect(rx.requests).toHaveLength(0);
  });

  test('healthcheck names the endpoint when nothing listens', async () => {
    const port = await freePort();
    const sink = plugin.create(config({ HTTP_URL: `http://127.0.0.1:${port}/x?token=q-secret` }), context);
    sinks.push(sink);
    const error = await sink.healthcheck!(new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkNetworkError);
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).not.toContain('q-secret');
  });
});

describe('HTTP sink TLS', () => {
  let dir: string;
  let server: HttpsServer;
  let url: string;
  let hits = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'logferry-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
      hits++;
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('a self-signed certificate is refused by send and by the healthcheck', async () => {
    const sink = plugin.create(config({ HTTP_URL: url }), context);
    try {
      const batch = makeBatch(sampleEntries());
      const error = await sink.send(await sink.encode(batch), batch, new AbortController().signal).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SinkNetworkError);
      expect(sink.classify(error)).toBe('retry');
      const health = await sink.healthcheck!(new AbortController().signal).catch((e: unknown) => e);
      expect(health).toBeInstanceOf(SinkNetworkError);
      expect((health as Error).message).toMatch(/self[- ]signed|certificate/i);
      expect(hits).toBe(0);
    } finally {
      await sink.close?.();
    }
  });
});

describe('HTTP receiver (test support)', () => {
  let rx: HttpReceiver;
  beforeAll(async () => {
    rx = await startHttpReceiver();
  });
  afterEach(() => rx.reset());
  afterAll(async () => {
    await rx.close();
  });

  async function post(body: string | Buffer, headers: Record<string, string> = {}): Promise<number> {
    const res = await fetch(`${rx.url}/p`, { method: 'POST', body, headers });
    await res.arrayBuffer();
    return res.status;
  }

  test('parses NDJSON, a JSON array and a gzip body; counts only 2xx answers', async () => {
    expect(await post('{"a":1}\n{"a":2}\n')).toBe(200);
    expect(await post('[{"b":1},{"b":2}]', { 'content-type': 'application/json' })).toBe(200);
    expect(await post(gzipSync('{"c":1}\n'), { 'content-encoding': 'gzip' })).toBe(200);
    rx.failNext(500, { times: 2 });
    expect(await post('{"d":1}\n')).toBe(500);
    expect(await post('{"d":2}\n')).toBe(500);
    expect(await post('{"e":1}\n')).toBe(200);
    expect(rx.entries()).toEqual([{ a: 1 }, { a: 2 }, { b: 1 }, { b: 2 }, { c: 1 }, { e: 1 }]);
    expect(rx.stats()).toMatchObject({ requests: 6, accepted: 4, entries: 6 });
    expect(rx.requests.map((r) => r.status)).toEqual([200, 200, 200, 500, 500, 200]);
  });

  test('an unparseable body is answered 400 with the reason recorded', async () => {
    expect(await post('{"a":')).toBe(400);
    expect(await post('x', { 'content-encoding': 'gzip' })).toBe(400);
    expect(await post('x', { 'content-encoding': 'compress' })).toBe(415);
    expect(rx.requests.every((r) => r.parseError !== undefined)).toBe(true);
    expect(rx.entries()).toEqual([]);
  });

  test('respondWith scripts answers from what arrived', async () => {
    rx.respondWith((req) => (req.entries.length > 1 ? { status: 413, body: 'too big' } : undefined));
    expect(await post('{"a":1}\n{"a":2}\n')).toBe(413);
    expect(await post('{"a":3}\n')).toBe(200);
    expect(rx.entries()).toEqual([{ a: 3 }]);
    await expect(rx.waitForEntries(1)).resolves.toEqual([{ a: 3 }]);
  });

  test('counters only, for benchmarks', async () => {
    const lean = await startHttpReceiver({ keepBodies: false, keepEntries: false });
    try {
      const res = await fetch(lean.url, { method: 'POST', body: '{"a":1}\n{"a":2}\n' });
      expect(res.status).toBe(200);
      expect(lean.stats()).toEqual({ requests: 1, accepted: 1, entries: 2, rawBytes: 16, decodedBytes: 16 });
      expect(lean.requests[0]!.body.length).toBe(0);
      expect(lean.entries()).toEqual([]);
    } finally {
      await lean.close();
    }
  });

  test('close() ends a hanging answer', async () => {
    const hanging = await startHttpReceiver();
    hanging.respondWith(() => ({ status: 200, hang: true }));
    const answer = fetch(hanging.url, { method: 'POST', body: '{}' }).then(
      () => 'answered',
      () => 'failed',
    );
    await waitFor(() => hanging.requests.length === 1, { what: 'the request to arrive' });
    await hanging.close();
    expect(await answer).toBe('failed');
  });
});
