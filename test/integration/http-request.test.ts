// The one HTTP attempt every HTTP-based sink makes (node:http), against real servers on port 0.
import { afterEach, describe, expect, test } from 'vitest';
import { SinkNetworkError, SinkResponseError } from '../../src/errors.js';
import { createHttpAgent, httpRequest, type HttpPool } from '../../sinks/shared/http-request.js';
import { listenTestServer, type TestServer } from '../support/test-server.js';

describe('httpRequest', () => {
  const servers: TestServer[] = [];
  const pools: HttpPool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  async function server(handle: Parameters<typeof listenTestServer>[0]): Promise<TestServer> {
    const s = await listenTestServer(handle);
    servers.push(s);
    return s;
  }
  function pool(): HttpPool {
    const p = createHttpAgent(2);
    pools.push(p);
    return p;
  }

  test('sends the body with its length, reuses the connection, returns status and body', async () => {
    const seen: Array<{ length: string | undefined; body: string; port: number | undefined }> = [];
    const s = await server(async (req, res) => {
      const parts: Buffer[] = [];
      for await (const part of req) parts.push(part as Buffer);
      seen.push({ length: req.headers['content-length'], body: Buffer.concat(parts).toString(), port: req.socket.remotePort });
      res.end('ok');
    });
    const p = pool();
    for (const body of ['{"a":1}\n', Buffer.from('ünï\n')]) {
      const answer = await httpRequest(p, { url: s.url, method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } });
      expect(answer).toMatchObject({ status: 200, body: 'ok' });
    }
    expect(seen.map((x) => [x.length, x.body])).toEqual([
      ['8', '{"a":1}\n'],
      [String(Buffer.byteLength('ünï\n')), 'ünï\n'],
    ]);
    expect(seen[1]!.port).toBe(seen[0]!.port); // keep-alive
  });

  test('hundreds of requests in a row on kept-alive connections all settle (none waits for an event that already passed)', async () => {
    const s = await server(async (req, res) => {
      for await (const _part of req) {
        // read the body
      }
      res.end('ok');
    });
    const p = pool();
    const body = Buffer.alloc(64 * 1024, 0x61);
    let settled = 0;
    for (let i = 0; i < 400; i++) {
      await Promise.all([
        httpRequest(p, { url: s.url, method: 'POST', body, timeoutMs: 5000 }),
        httpRequest(p, { url: s.url, method: 'POST', body: 'small', timeoutMs: 5000 }),
      ]);
      settled += 2;
    }
    expect(settled).toBe(800);
  }, 60_000);

  test('non-2xx → SinkResponseError with status, Retry-After and an excerpt', async () => {
    const s = await server(async (_req, res) => {
      res.writeHead(429, { 'retry-after': '3' });
      res.end('slow   down\n please');
    });
    const error = await httpRequest(pool(), { url: s.url, method: 'POST', body: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkResponseError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 3000 });
    expect((error as Error).message).toContain('slow down please');
  });

  test('an answer sent before the body was read still settles, only once the request is done', async () => {
    // 8 MiB the server never reads: it answers at once and closes the connection.
    const s = await server(async (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('early');
    });
    const body = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const outcome = await httpRequest(pool(), { url: s.url, method: 'POST', body, timeoutMs: 10_000 }).then(
      (a) => a.status,
      (e: unknown) => e,
    );
    // Either the answer (the request finished) or a network error (the server cut it off): never a hang.
    if (typeof outcome === 'number') expect(outcome).toBe(200);
    else expect(outcome).toBeInstanceOf(SinkNetworkError);
  });

  test('timeouts, aborts and refused connections → SinkNetworkError naming the host, not the URL', async () => {
    const hang = await server(() => new Promise<void>(() => undefined));
    const p = pool();
    const timedOut = await httpRequest(p, { url: `${hang.url}/path?token=secret`, method: 'GET', timeoutMs: 200 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(SinkNetworkError);
    expect((timedOut as Error).message).toContain('timed out after 200 ms');
    expect((timedOut as Error).message).not.toContain('secret');

    const controller = new AbortController();
    const pending = httpRequest(p, { url: hang.url, method: 'GET', signal: controller.signal, timeoutMs: 10_000 }).catch((e: unknown) => e);
    controller.abort();
    expect(await pending).toBeInstanceOf(SinkNetworkError);

    const refused = await httpRequest(p, { url: 'http://127.0.0.1:9/', method: 'GET', timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SinkNetworkError);
    expect((refused as Error).message).toContain('127.0.0.1:9');
  });
});
