// The one HTTP attempt every HTTP-based sink makes (undici), against real servers on port 0.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { SinkNetworkError, SinkResponseError } from '../../src/errors.js';
import { createHttpAgent, httpRequest, type HttpPool } from '../../sinks/shared/http-request.js';
import { REPO_ROOT } from '../support/agent.js';
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
    const bodies = ['{"a":1}\n', Buffer.from('ünï\n'), new Uint8Array(Buffer.from('xyz\n')), Buffer.from('--body--\n').subarray(2, 6)];
    for (const body of bodies) {
      const answer = await httpRequest(p, { url: s.url, method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } });
      expect(answer).toMatchObject({ status: 200, body: 'ok' });
      expect(answer.headers['content-length']).toBe('2');
    }
    expect(seen.map((x) => [x.length, x.body])).toEqual([
      ['8', '{"a":1}\n'],
      [String(Buffer.byteLength('ünï\n')), 'ünï\n'],
      ['4', 'xyz\n'],
      ['4', 'body'],
    ]);
    // Keep-alive: four requests one after another on at most the pool's two connections.
    expect(new Set(seen.map((x) => x.port)).size).toBeLessThanOrEqual(2);
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

  test('TLS: a certificate no trusted CA signed is refused; NODE_EXTRA_CA_CERTS makes it trusted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logferry-undici-tls-'));
    try {
      // A CA, and a server certificate it signed for 127.0.0.1.
      const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=logferry test CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
      run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr']);
      execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > ext.cnf'], { cwd: dir });
      run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'server.pem']);
      let hits = 0;
      const server = createHttpsServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
        hits++;
        req.resume();
        req.on('end', () => res.end('tls ok'));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      try {
        // In this process: Node's default trust store does not know the CA.
        const refused = await httpRequest(pool(), { url, method: 'POST', body: 'x', timeoutMs: 5000 }).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(SinkNetworkError);
        expect((refused as Error).message).toMatch(/certificate/i);
        expect(hits).toBe(0);
        // A fresh process (NODE_EXTRA_CA_CERTS is read at start-up) with the CA added: the same request succeeds.
        const module = pathToFileURL(join(REPO_ROOT, 'dist', 'sinks', 'shared', 'http-request.js')).href;
        const script = `const m = await import(${JSON.stringify(module)}); const p = m.createHttpAgent(1);
          const a = await m.httpRequest(p, { url: ${JSON.stringify(url)}, method: 'POST', body: 'x', timeoutMs: 5000 }).catch((e) => ({ status: -1, body: e.message }));
          await p.close(); console.log(JSON.stringify({ status: a.status, body: a.body }));`;
        // Asynchronously: this process serves the request.
        const child = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') }, encoding: 'utf8', timeout: 20_000 });
        expect(JSON.parse(child.stdout)).toEqual({ status: 200, body: 'tls ok' });
        expect(hits).toBe(1);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
