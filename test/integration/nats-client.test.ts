// Our core-NATS client against a real nats-server (and, for what a real server will not
// do on demand, a tiny fake one): handshake with and without credentials, refused
// credentials retried, exact bytes in order, queue groups, server restart, resubscribe,
// drain, stale connections, protocol errors and TLS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, ThrottledLog } from '../../src/ops/logger.js';
import { NatsClient, type NatsClientError, type NatsClientOptions, type NatsClientStatus } from '../../src/source/nats-client.js';
import { NatsSource } from '../../src/source/nats-source.js';
import { SourceStats } from '../../src/ops/stats.js';
import { makeFlyEntries, prng } from '../support/fly-entries.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer, type PublishMessage } from '../support/nats.js';
import { waitFor } from '../support/poll.js';

interface Received {
  readonly subject: string;
  readonly data: Buffer;
  readonly receivedAtMs: number;
}

type StatusEvent =
  | { readonly type: 'connect' | 'reconnect' | 'stale'; readonly server: string }
  | { readonly type: 'disconnect'; readonly server: string; readonly cause: NatsClientError | undefined }
  | { readonly type: 'error'; readonly error: NatsClientError };

interface TestClient {
  readonly client: NatsClient;
  readonly received: Received[];
  readonly events: StatusEvent[];
  count(type: StatusEvent['type']): number;
  errors(code?: string): NatsClientError[];
}

const clients: NatsClient[] = [];
const servers: NatsServer[] = [];
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Fast retries so tests do not wait on the production 1-2 s. */
function makeClient(options: Partial<NatsClientOptions> & Pick<NatsClientOptions, 'servers'>): TestClient {
  const received: Received[] = [];
  const events: StatusEvent[] = [];
  const status: NatsClientStatus = {
    connect: (server) => events.push({ type: 'connect', server }),
    reconnect: (server) => events.push({ type: 'reconnect', server }),
    disconnect: (server, cause) => events.push({ type: 'disconnect', server, cause }),
    error: (error) => events.push({ type: 'error', error }),
    stale: (server) => events.push({ type: 'stale', server }),
  };
  const client = new NatsClient(
    { subject: 'logs.>', reconnectWaitMs: 50, reconnectJitterMs: 50, ...options },
    (subject, buf, start, end, receivedAtMs) => received.push({ subject, data: Buffer.from(buf.subarray(start, end)), receivedAtMs }),
    status,
  );
  clients.push(client);
  return {
    client,
    received,
    events,
    count: (type) => events.filter((e) => e.type === type).length,
    errors: (code) => events.flatMap((e) => (e.type === 'error' && (code === undefined || e.error.code === code) ? [e.error] : [])),
  };
}

async function server(options: Parameters<typeof startNatsServer>[0] = {}): Promise<NatsServer> {
  const s = await startNatsServer(options);
  servers.push(s);
  return s;
}

async function publisher(url: string, auth: { user?: string; pass?: string } = {}): Promise<ReturnType<typeof connectPublisher>> {
  const nc = await connectPublisher(url, auth);
  cleanups.push(() => nc.close());
  return nc;
}

function expectSameMessages(received: readonly Received[], sent: readonly PublishMessage[]): void {
  expect(received.length).toBe(sent.length);
  const wrong: number[] = [];
  for (let i = 0; i < sent.length; i++) {
    const m = sent[i]!;
    const raw = 'payload' in m ? m.payload : m.data;
    const bytes = typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(raw);
    if (received[i]!.subject !== m.subject || !received[i]!.data.equals(bytes)) wrong.push(i);
  }
  expect(wrong.slice(0, 10), `${wrong.length} messages differ`).toEqual([]);
}

/** Fly entries, every 50th replaced by binary bytes (CRLF, NUL, invalid UTF-8) and a few empty ones. */
function mixedMessages(n: number, seed: number): PublishMessage[] {
  const rand = prng(seed);
  return makeFlyEntries(n, { seed }).map((e, i) => {
    if (i % 50 !== 7) return e;
    if (i % 500 === 7) return { subject: e.subject, data: new Uint8Array(0) };
    const bytes = new Uint8Array(1 + Math.floor(rand() * 3000));
    for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(rand() * 256);
    bytes.set([13, 10], Math.floor(bytes.length / 2));
    return { subject: e.subject, data: bytes };
  });
}

describe('NatsClient against nats-server', () => {
  it('connects without credentials and receives 20,000 messages in order, byte for byte', async () => {
    const s = await server();
    const t = makeClient({ servers: [s.url] });
    expect(await t.client.connect()).toBe(true);
    expect(t.client.connected).toBe(true);
    expect(t.client.server).toBe(s.url);
    const [sub] = await s.waitForSubscribers('logs.>', 1);
    expect(sub!.connectionName).toBe('logferry');

    const messages = mixedMessages(20_000, 1);
    const nc = await publisher(s.url);
    const publishedFrom = Date.now();
    await publishAll(nc, messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'all 20,000 messages', timeoutMs: 30_000, context: () => `got ${t.received.length}` });
    const receivedBy = Date.now();
    expectSameMessages(t.received, messages);
    // Each message carries the time its read arrived (one clock read per read): in order, and within the run.
    const times = t.received.map((m) => m.receivedAtMs);
    expect(times[0]).toBeGreaterThanOrEqual(publishedFrom);
    expect(times.at(-1)).toBeLessThanOrEqual(receivedBy);
    expect(times.every((ms, i) => i === 0 || ms >= times[i - 1]!)).toBe(true);
    expect(t.errors()).toEqual([]);
    expect(t.events.map((e) => e.type)).toEqual(['connect']);
  });

  it('connects with user and password, given as options or in the URL', async () => {
    const s = await server({ user: 'my-org', pass: 'fm2_tok+en/with=,chars' });
    const fromOptions = makeClient({ servers: [s.url], user: 'my-org', pass: 'fm2_tok+en/with=,chars' });
    const fromUrl = makeClient({ servers: [`nats://my-org:${encodeURIComponent('fm2_tok+en/with=,chars')}@127.0.0.1:${s.port}`] });
    expect(await fromOptions.client.connect()).toBe(true);
    expect(await fromUrl.client.connect()).toBe(true);
    // The URL's credentials never show in what the client reports.
    expect(fromUrl.client.server).toBe(`nats://127.0.0.1:${s.port}`);
    await s.waitForSubscribers('logs.>', 2);
    const messages = makeFlyEntries(100, { seed: 2 });
    await publishAll(await publisher(s.url, { user: 'my-org', pass: 'fm2_tok+en/with=,chars' }), messages);
    await waitFor(() => fromOptions.received.length >= 100 && fromUrl.received.length >= 100, { what: 'both clients to receive' });
    expectSameMessages(fromOptions.received, messages);
    expectSameMessages(fromUrl.received, messages);
  });

  it('keeps retrying when the server refuses the credentials, reporting each refusal, and never connects', async () => {
    const s = await server({ user: 'my-org', pass: 'right' });
    const t = makeClient({ servers: [s.url], user: 'my-org', pass: 'wrong' });
    let settled: boolean | undefined;
    void t.client.connect().then((c) => (settled = c));
    const refusals = await waitFor(() => t.errors('NATS_AUTH').length >= 3 && t.errors('NATS_AUTH'), { what: 'three refused attempts', timeoutMs: 10_000 });
    expect(refusals[0]!.message).toMatch(/Authorization Violation/);
    expect(refusals[0]!.message).not.toContain('wrong');
    expect(refusals[0]!.server).toBe(s.url);
    // Refusals are not reported a second time as connection failures, and nothing ever counted as connected.
    expect(t.errors('NATS_CONNECT')).toEqual([]);
    expect(t.count('connect')).toBe(0);
    expect(t.client.connected).toBe(false);
    expect(settled).toBeUndefined();
    await t.client.close();
    await waitFor(() => settled === false, { what: 'connect() to resolve false after close()' });
  });

  it('waits for a server that is not there yet, then connects', async () => {
    const s = await server();
    const port = s.port;
    await s.stop();
    const t = makeClient({ servers: [`nats://127.0.0.1:${port}`] });
    const connected = t.client.connect();
    await waitFor(() => t.errors('NATS_CONNECT').length >= 2, { what: 'refused connection attempts' });
    expect(t.errors('NATS_CONNECT')[0]!.message).toMatch(/ECONNREFUSED/);
    await s.restart();
    expect(await connected).toBe(true);
    expect(t.events.filter((e) => e.type !== 'error').map((e) => e.type)).toEqual(['connect']);
  });

  it('rotates through the servers', async () => {
    const s = await server();
    const dead = await server();
    await dead.stop();
    const t = makeClient({ servers: [dead.url, s.url] });
    expect(await t.client.connect()).toBe(true);
    expect(t.client.server).toBe(s.url);
  });

  it('splits a queue group between two clients', async () => {
    const s = await server();
    const a = makeClient({ servers: [s.url], queue: 'logferry-ha' });
    const b = makeClient({ servers: [s.url], queue: 'logferry-ha' });
    await Promise.all([a.client.connect(), b.client.connect()]);
    await s.waitForSubscribers('logs.>', 2, { queue: 'logferry-ha' });
    const messages = makeFlyEntries(4000, { seed: 3 });
    await publishAll(await publisher(s.url), messages);
    await waitFor(() => a.received.length + b.received.length >= messages.length, { what: 'all messages across the group' });
    expect(a.received.length + b.received.length).toBe(messages.length);
    expect(a.received.length).toBeGreaterThan(500);
    expect(b.received.length).toBeGreaterThan(500);
    const ids = new Set([...a.received, ...b.received].map((r) => r.data.toString()));
    expect(ids.size).toBe(messages.length);
  });

  it('reconnects and resubscribes after the server restarts on the same port', async () => {
    const s = await server();
    const t = makeClient({ servers: [s.url] });
    await t.client.connect();
    await s.waitForSubscribers('logs.>', 1);
    await s.restart();
    await waitFor(() => t.count('reconnect') >= 1, { what: 'the client to reconnect', timeoutMs: 20_000 });
    expect(t.count('disconnect')).toBe(1);
    await s.waitForSubscribers('logs.>', 1);
    const messages = makeFlyEntries(500, { seed: 4 });
    await publishAll(await publisher(s.url), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages published after the restart' });
    expectSameMessages(t.received, messages);
    expect(t.client.connected).toBe(true);
  });

  it('resubscribes with a new sid and keeps receiving, once per message', async () => {
    const s = await server();
    const t = makeClient({ servers: [s.url] });
    await t.client.connect();
    const [first] = await s.waitForSubscribers('logs.>', 1);
    t.client.resubscribe();
    const subs = await waitFor(
      async () => {
        const now = (await s.subscriptions()).filter((x) => x.subject === 'logs.>');
        return now.length === 1 && now[0]!.sid !== first!.sid && now;
      },
      { what: 'the old subscription replaced by a new one' },
    );
    expect(subs[0]!.cid).toBe(first!.cid);
    const messages = makeFlyEntries(300, { seed: 5 });
    await publishAll(await publisher(s.url), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages after resubscribing' });
    expectSameMessages(t.received, messages);
  });

  it('drain() hands over everything published before it, then closes', async () => {
    const s = await server();
    const t = makeClient({ servers: [s.url] });
    await t.client.connect();
    await s.waitForSubscribers('logs.>', 1);
    const messages = makeFlyEntries(5000, { seed: 6 });
    const nc = await publisher(s.url);
    // Published and flushed: the server holds them for the client (or has sent them) before drain starts.
    await publishAll(nc, messages, { flushEvery: 5000, flushBytes: 64 * 1024 * 1024 });
    await t.client.drain();
    expect(t.client.closed).toBe(true);
    expect(t.client.connected).toBe(false);
    expectSameMessages(t.received, messages);
    await waitFor(async () => (await s.subscriptions()).every((x) => x.connectionName !== 'logferry'), { what: 'the server to drop the connection' });
    // Nothing reported for a close we asked for, and no reconnect after it.
    expect(t.events.map((e) => e.type)).toEqual(['connect']);
  });

  it('drain() while disconnected just closes, and connect() resolves false', async () => {
    const s = await server();
    const port = s.port;
    await s.stop();
    const t = makeClient({ servers: [`nats://127.0.0.1:${port}`] });
    const connected = t.client.connect();
    await waitFor(() => t.errors('NATS_CONNECT').length >= 1, { what: 'a failed attempt' });
    await t.client.drain();
    expect(await connected).toBe(false);
    expect(t.client.closed).toBe(true);
  });
});

/** A stand-in NATS server that does only what each test scripts. */
interface FakeConnection {
  readonly socket: Socket;
  /** Protocol lines received from the client so far. */
  readonly lines: string[];
}

async function startFakeServer(onLine: (conn: FakeConnection, line: string, index: number) => void): Promise<{ url: string; connections: FakeConnection[] }> {
  const connections: FakeConnection[] = [];
  const srv: Server = createServer((socket) => {
    const conn: FakeConnection = { socket, lines: [] };
    const index = connections.push(conn) - 1;
    let pending = '';
    socket.on('error', () => undefined);
    socket.write(`INFO {"server_id":"FAKE","version":"2.10.0","max_payload":1048576}\r\n`);
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      let nl: number;
      while ((nl = pending.indexOf('\r\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 2);
        conn.lines.push(line);
        onLine(conn, line, index);
      }
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  cleanups.push(() => {
    for (const c of connections) c.socket.destroy();
    return new Promise((resolve) => srv.close(resolve));
  });
  return { url: `nats://127.0.0.1:${port}`, connections };
}

describe('NatsClient against a scripted server', () => {
  it('sends CONNECT with credentials and the SUB, and answers the server PING', async () => {
    const fake = await startFakeServer((conn, line) => {
      if (line === 'PING') conn.socket.write(conn.lines.filter((l) => l === 'PING').length === 1 ? 'PONG\r\nPING\r\n' : 'PONG\r\n');
    });
    const t = makeClient({ servers: [fake.url], user: 'u', pass: 'p', queue: 'q' });
    await t.client.connect();
    const lines = await waitFor(() => fake.connections[0]?.lines.includes('PONG') && fake.connections[0].lines, { what: 'the PONG to our PING' });
    expect(lines[0]).toMatch(/^CONNECT \{/);
    expect(JSON.parse(lines[0]!.slice('CONNECT '.length))).toMatchObject({
      verbose: false,
      pedantic: false,
      tls_required: false,
      name: 'logferry',
      lang: 'node',
      protocol: 1,
      headers: false,
      no_responders: false,
      echo: true,
      user: 'u',
      pass: 'p',
    });
    expect(lines.slice(1, 3)).toEqual(['PING', 'SUB logs.> q 1']);
  });

  it('ignores messages for an old sid after resubscribe()', async () => {
    const fake = await startFakeServer((conn, line) => {
      if (line === 'PING') conn.socket.write('PONG\r\n');
      // As soon as the new SUB arrives, send one message for the old sid and one for the new.
      if (line === 'SUB logs.> 2') conn.socket.write('MSG logs.a.b.c 1 3\r\nold\r\nMSG logs.a.b.c 2 3\r\nnew\r\n');
    });
    const t = makeClient({ servers: [fake.url] });
    await t.client.connect();
    await waitFor(() => fake.connections[0]?.lines.includes('SUB logs.> 1'), { what: 'the first SUB' });
    fake.connections[0]!.socket.write('MSG logs.a.b.c 1 5\r\nfirst\r\n');
    await waitFor(() => t.received.length === 1, { what: 'the first message' });
    t.client.resubscribe();
    await waitFor(() => t.received.length === 2, { what: 'the message for the new sid' });
    expect(t.received.map((r) => r.data.toString())).toEqual(['first', 'new']);
    expect(fake.connections[0]!.lines).toContain('UNSUB 1');
  });

  it('reports a stale connection when pings go unanswered, and reconnects', async () => {
    // Answers only the handshake PING of each connection.
    const fake = await startFakeServer((conn, line) => {
      if (line === 'PING' && conn.lines.filter((l) => l === 'PING').length === 1) conn.socket.write('PONG\r\n');
    });
    const t = makeClient({ servers: [fake.url], pingIntervalMs: 50, maxPingsOut: 2 });
    await t.client.connect();
    await waitFor(() => t.count('stale') >= 1 && t.count('reconnect') >= 1, { what: 'stale, then a reconnect', timeoutMs: 10_000 });
    const disconnect = t.events.find((e) => e.type === 'disconnect');
    expect(disconnect?.type === 'disconnect' && disconnect.cause?.code).toBe('NATS_STALE');
    expect(fake.connections.length).toBeGreaterThanOrEqual(2);
    // The stale connection had two pings outstanding besides the handshake's.
    expect(fake.connections[0]!.lines.filter((l) => l === 'PING').length).toBe(3);
  });

  it('treats garbage as a protocol error: reported, reconnected, never thrown', async () => {
    const fake = await startFakeServer((conn, line, index) => {
      if (line !== 'PING') return;
      conn.socket.write('PONG\r\n');
      if (index === 0) conn.socket.write('MSG logs.a.b.c 1 2\r\nok\r\nMSG logs.a.b.c 1 999999999999\r\nMSG logs.a.b.c 1 2\r\nno\r\n');
      if (index === 1) conn.socket.write('MSG logs.a.b.c 1 5\r\nagain\r\n');
    });
    const t = makeClient({ servers: [fake.url] });
    await t.client.connect();
    await waitFor(() => t.count('reconnect') >= 1 && t.received.length >= 2, { what: 'a reconnect after the protocol error' });
    expect(t.received.map((r) => r.data.toString())).toEqual(['ok', 'again']);
    const [protocolError] = t.errors('NATS_PROTOCOL');
    expect(protocolError!.message).toMatch(/payload size over/);
    expect(t.errors()).toHaveLength(1);
  });

  it('reports -ERR after the handshake and keeps the connection; a handler that throws skips one message', async () => {
    const fake = await startFakeServer((conn, line) => {
      if (line !== 'PING') return;
      conn.socket.write("PONG\r\n-ERR 'Permissions Violation for Subscription to \"logs.>\"'\r\nMSG logs.a.b.c 1 4\r\nboom\r\nMSG logs.a.b.c 1 2\r\nok\r\n");
    });
    const seen: string[] = [];
    const errors: NatsClientError[] = [];
    const client = new NatsClient(
      { servers: [fake.url], subject: 'logs.>' },
      (_subject, buf, start, end) => {
        const text = buf.toString('utf8', start, end);
        if (text === 'boom') throw new Error('handler bug');
        seen.push(text);
      },
      { connect: () => undefined, reconnect: () => undefined, disconnect: () => undefined, stale: () => undefined, error: (e) => errors.push(e) },
    );
    clients.push(client);
    await client.connect();
    await waitFor(() => seen.length === 1, { what: 'the message after the failing one' });
    expect(seen).toEqual(['ok']);
    expect(errors.map((e) => e.code)).toEqual(['NATS_SERVER_ERROR', 'NATS_HANDLER']);
    expect(errors[0]!.message).toMatch(/Permissions Violation/);
    expect(client.connected).toBe(true);
  });

  it('times out a server that never finishes the handshake', async () => {
    const fake = await startFakeServer(() => undefined);
    const t = makeClient({ servers: [fake.url], connectTimeoutMs: 200 });
    void t.client.connect();
    await waitFor(() => t.errors('NATS_CONNECT').length >= 1, { what: 'a handshake timeout' });
    expect(t.errors('NATS_CONNECT')[0]!.message).toMatch(/timed out after 200 ms/);
  });
});

describe('NatsClient over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logferry-nats-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const makeCerts = (): { ca: string; cert: string; key: string } => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=logferry test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\n" > san.ext'], { cwd: dir });
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
    return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
  };

  it('upgrades to TLS (tls:// or the server requiring it), verifies the certificate, and receives', async () => {
    const files = makeCerts();
    const ca = readFileSync(files.ca);
    const s = await startNatsServerWithTls(files);
    const viaScheme = makeClient({ servers: [`tls://127.0.0.1:${s.port}`], tls: { ca } });
    const viaInfo = makeClient({ servers: [`nats://localhost:${s.port}`], tls: { ca } });
    expect(await viaScheme.client.connect()).toBe(true);
    expect(await viaInfo.client.connect()).toBe(true);
    await s.waitForSubscribers('logs.>', 2);
    const nc = await connect({ servers: `127.0.0.1:${s.port}`, tls: { ca: ca.toString() } });
    cleanups.push(() => nc.close());
    const messages = makeFlyEntries(500, { seed: 12 });
    await publishAll(nc, messages);
    await waitFor(() => viaScheme.received.length >= 500 && viaInfo.received.length >= 500, { what: 'messages over TLS' });
    expectSameMessages(viaScheme.received, messages);
    expectSameMessages(viaInfo.received, messages);

    // Without the CA the certificate is refused, and the client keeps trying.
    const untrusted = makeClient({ servers: [`tls://127.0.0.1:${s.port}`] });
    void untrusted.client.connect();
    await waitFor(() => untrusted.errors('NATS_CONNECT').length >= 2, { what: 'refused certificates' });
    expect(untrusted.errors('NATS_CONNECT')[0]!.message).toMatch(/certificate/i);
    expect(untrusted.client.connected).toBe(false);
  });

  async function startNatsServerWithTls(files: { ca: string; cert: string; key: string }): Promise<NatsServer> {
    // startNatsServer probes with a plain nats.js client, which fails against a TLS-only
    // server; so the server runs with TLS, and readiness is probed here over TLS.
    const { spawn } = await import('node:child_process');
    const { freePort } = await import('../support/ports.js');
    const port = await freePort();
    const monitorPort = await freePort();
    const child = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '--tls', '--tlscert', files.cert, '--tlskey', files.key], { stdio: 'ignore' });
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    const ca = readFileSync(files.ca).toString();
    await waitFor(
      async () => {
        const nc = await connect({ servers: `127.0.0.1:${port}`, tls: { ca }, reconnect: false, timeout: 1000 });
        await nc.close();
        return true;
      },
      { what: 'nats-server with TLS to accept clients', timeoutMs: 15_000 },
    );
    const monitorUrl = `http://127.0.0.1:${monitorPort}`;
    return {
      port,
      waitForSubscribers: (subject: string, count = 1) =>
        waitFor(
          async () => {
            const connz = (await (await fetch(`${monitorUrl}/connz?subs=detail`)).json()) as { connections?: Array<{ subscriptions_list_detail?: Array<{ subject: string }> }> };
            const subs = (connz.connections ?? []).flatMap((c) => c.subscriptions_list_detail ?? []).filter((d) => d.subject === subject);
            return subs.length >= count && subs;
          },
          { what: `${count} subscriptions over TLS` },
        ),
    } as unknown as NatsServer;
  }
});

describe('NatsSource on our client', () => {
  function source(servers: string[], auth: { user?: string; pass?: string } = {}) {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger('info', sink);
    const stats = new SourceStats();
    const received: string[] = [];
    const src = new NatsSource({ servers, user: auth.user, pass: auth.pass, subject: 'logs.>', queue: undefined }, stats, logger, new ThrottledLog(logger, 60_000), (_subject, buf, start, end) => {
      stats.messagesReceived++;
      received.push(buf.toString('utf8', start, end));
    });
    cleanups.push(() => src.drain());
    return { src, stats, lines, received };
  }

  it('turns connect, server errors, disconnect and reconnect into SourceStats and log lines', async () => {
    const fake = await startFakeServer((conn, line, index) => {
      if (line !== 'PING') return;
      conn.socket.write('PONG\r\n');
      // The first connection: one message, then the server gives up on us as a slow consumer.
      if (index === 0) conn.socket.end("MSG logs.a.b.c 1 5\r\nfirst\r\n-ERR 'Slow Consumer'\r\n");
    });
    const { src, stats, lines, received } = source([fake.url]);
    expect(stats.connected).toBe(false);
    const before = Date.now();
    await src.start(() => undefined);
    expect(stats.lastMessageAt).toBeGreaterThanOrEqual(before);
    await waitFor(() => stats.reconnects === 1 && stats.connected, { what: 'the source to reconnect', timeoutMs: 10_000 });
    expect(received).toEqual(['first']);
    expect(stats).toMatchObject({ slowConsumer: 1, disconnects: 1, reconnects: 1, connected: true, disconnectedSince: undefined });
    expect(lines.map((l) => l.msg)).toEqual(['connected to NATS', 'NATS reported an error', 'disconnected from NATS; reconnecting', 'reconnected to NATS']);
    await src.drain();
    expect(stats.connected).toBe(false);
    expect(stats.disconnectedSince).toBeTypeOf('number');
  });

  it('on refused credentials logs one error line, keeps retrying and stays disconnected; drain() ends the wait', async () => {
    const s = await server({ user: 'my-org', pass: 'right' });
    const { src, stats, lines } = source([s.url], { user: 'my-org', pass: 'wrong-secret' });
    let started = false;
    void src.start(() => undefined).then(() => (started = true));
    await waitFor(async () => Number((await s.varz()).connections) === 0 && lines.some((l) => l.level === 'error'), { what: 'the refusal to be logged' });
    // Retried (the server counts the attempts), still one line: the rest is throttled.
    await waitFor(async () => Number((await s.varz()).total_connections) >= 2, { what: 'a second attempt', timeoutMs: 10_000 });
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toBe('NATS refused the credentials (check ORG and ACCESS_TOKEN); retrying');
    expect(JSON.stringify(lines)).not.toContain('wrong-secret');
    expect(stats.connected).toBe(false);
    expect(stats.disconnects).toBe(0);
    expect(started).toBe(false);
    await src.drain();
    await waitFor(() => started, { what: 'start() to return after drain()' });
  });
});
