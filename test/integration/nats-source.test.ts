// NatsSource (nats.js underneath) against real nats-servers: credentials, refused
// credentials retried, exact bytes in order, queue groups, server restart, resubscribe,
// drain, a handler that throws, a refused subscription, TLS to an IP address, and a
// cluster learnt from one server.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { checkServerIdentity } from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { healthReport } from '../../src/ops/health.js';
import { createLogger, ThrottledLog } from '../../src/ops/logger.js';
import { SourceStats } from '../../src/ops/stats.js';
import { NatsSource, type NatsSourceOptions } from '../../src/source/nats-source.js';
import { makeFlyEntries, prng } from '../support/fly-entries.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer, type NatsServerOptions, type PublishMessage } from '../support/nats.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/poll.js';

interface Received {
  readonly subject: string;
  readonly data: Buffer;
  readonly receivedAtMs: number;
}

interface TestSource {
  readonly src: NatsSource;
  readonly stats: SourceStats;
  readonly received: Received[];
  readonly lines: Array<Record<string, unknown>>;
  /** Resolves when start() returns. */
  readonly started: Promise<void>;
  messages(): string[];
}

const servers: NatsServer[] = [];
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
});

interface SourceSetup {
  readonly user?: string;
  readonly pass?: string;
  readonly subject?: string;
  readonly queue?: string;
  readonly onMessage?: (text: string) => void;
  readonly options?: NatsSourceOptions;
}

/** A source with short waits, logging into `lines`, collecting every message. */
function startSource(urls: string[], setup: SourceSetup = {}): TestSource {
  const lines: Array<Record<string, unknown>> = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger('info', out);
  const stats = new SourceStats();
  const received: Received[] = [];
  const src = new NatsSource(
    { servers: urls, user: setup.user, pass: setup.pass, subject: setup.subject ?? 'logs.>', queue: setup.queue },
    stats,
    logger,
    new ThrottledLog(logger, 60_000),
    (subject, buf, start, end, receivedAtMs) => {
      stats.messagesReceived++;
      setup.onMessage?.(buf.toString('utf8', start, end));
      received.push({ subject, data: Buffer.from(buf.subarray(start, end)), receivedAtMs });
    },
    { reconnectWaitMs: 50, reconnectJitterMs: 50, resubscribeWaitMs: 200, ...setup.options },
  );
  const started = src.start(() => undefined);
  cleanups.push(() => src.drain());
  return { src, stats, received, lines, started, messages: () => lines.map((l) => String(l.msg)) };
}

async function server(options: NatsServerOptions = {}): Promise<NatsServer> {
  const s = await startNatsServer(options);
  servers.push(s);
  return s;
}

async function publisher(url: string, auth: { user?: string; pass?: string } = {}): Promise<Awaited<ReturnType<typeof connectPublisher>>> {
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
    const bytes = Buffer.from(raw);
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

const health = (stats: SourceStats) => healthReport({ source: stats, sinks: [], failAfterMs: 60_000, stallTimeoutMs: 300_000 });

describe('NatsSource against nats-server', () => {
  it('connects, says it is subscribed only once the server holds the subscription, and receives 20,000 messages in order, byte for byte', async () => {
    const s = await server();
    const t = startSource([s.url]);
    // (d) Before the subscription exists /health fails and says why.
    expect(t.stats.subscribed).toBe(false);
    expect(health(t.stats)).toMatchObject({ httpStatus: 503, body: { nats: { subscribed: false } } });
    await t.started;
    await waitFor(() => t.stats.subscribed, { what: 'the subscription to be confirmed' });
    expect(health(t.stats)).toMatchObject({ httpStatus: 200, body: { nats: { connected: true, subscribed: true } } });
    const [sub] = await s.waitForSubscribers('logs.>', 1);
    expect(sub!.connectionName).toBe('logferry');

    const messages = mixedMessages(20_000, 1);
    const nc = await publisher(s.url);
    const publishedFrom = Date.now();
    await publishAll(nc, messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'all 20,000 messages', timeoutMs: 30_000, context: () => `got ${t.received.length}` });
    const receivedBy = Date.now();
    expectSameMessages(t.received, messages);
    const times = t.received.map((m) => m.receivedAtMs);
    expect(times[0]).toBeGreaterThanOrEqual(publishedFrom);
    expect(times.at(-1)).toBeLessThanOrEqual(receivedBy);
    expect(times.every((ms, i) => i === 0 || ms >= times[i - 1]!)).toBe(true);
    expect(t.messages()).toEqual(['connected to NATS']);
    expect(t.stats).toMatchObject({ connected: true, disconnects: 0, reconnects: 0, slowConsumer: 0, subscriptionRefusals: 0, authErrors: 0 });
  });

  it('connects with user and password (ORG / ACCESS_TOKEN)', async () => {
    const s = await server({ user: 'my-org', pass: 'fm2_tok+en/with=,chars' });
    const t = startSource([s.url], { user: 'my-org', pass: 'fm2_tok+en/with=,chars' });
    await t.started;
    await waitFor(() => t.stats.subscribed, { what: 'subscribed' });
    const messages = makeFlyEntries(100, { seed: 2 });
    await publishAll(await publisher(s.url, { user: 'my-org', pass: 'fm2_tok+en/with=,chars' }), messages);
    await waitFor(() => t.received.length >= 100, { what: 'the messages' });
    expectSameMessages(t.received, messages);
  });

  it('on refused credentials logs one error line, keeps retrying, stays unhealthy; drain() ends the wait', async () => {
    const s = await server({ user: 'my-org', pass: 'right' });
    const t = startSource([s.url], { user: 'my-org', pass: 'wrong-secret' });
    let started = false;
    void t.started.then(() => (started = true));
    await waitFor(() => t.stats.authErrors >= 3, { what: 'three refused attempts', timeoutMs: 10_000 });
    const errors = t.lines.filter((l) => l.level === 'error' || l.level === 50);
    expect(errors.map((l) => l.msg)).toEqual(['NATS refused the credentials (check ORG and ACCESS_TOKEN); retrying']);
    expect(JSON.stringify(t.lines)).not.toContain('wrong-secret');
    expect(t.stats.authError).toMatch(/Authorization Violation/i);
    expect(t.stats.connected).toBe(false);
    expect(health(t.stats)).toMatchObject({ httpStatus: 503, body: { nats: { connected: false, subscribed: false, authError: expect.stringMatching(/Authorization/i) } } });
    expect(started).toBe(false);
    await t.src.drain();
    await waitFor(() => started, { what: 'start() to return after drain()' });
  });

  it('waits for a server that is not there yet, then connects', async () => {
    const s = await server();
    await s.stop();
    const t = startSource([s.url]);
    await waitFor(() => t.messages().includes('cannot connect to NATS; retrying'), { what: 'a refused attempt' });
    await s.restart();
    await t.started;
    await waitFor(() => t.stats.subscribed, { what: 'subscribed' });
    expect(t.messages()).toEqual(['cannot connect to NATS; retrying', 'connected to NATS']);
  });

  it('goes on to the next configured server when the first is down', async () => {
    const s = await server();
    const dead = await server();
    await dead.stop();
    const t = startSource([dead.url, s.url]);
    await t.started;
    await s.waitForSubscribers('logs.>', 1);
    expect(t.lines.find((l) => l.msg === 'connected to NATS')!.server).toBe(`127.0.0.1:${s.port}`);
  });

  it('splits a queue group between two sources', async () => {
    const s = await server();
    const a = startSource([s.url], { queue: 'logferry-ha' });
    const b = startSource([s.url], { queue: 'logferry-ha' });
    await Promise.all([a.started, b.started]);
    await s.waitForSubscribers('logs.>', 2, { queue: 'logferry-ha' });
    const messages = makeFlyEntries(4000, { seed: 3 });
    await publishAll(await publisher(s.url), messages);
    await waitFor(() => a.received.length + b.received.length >= messages.length, { what: 'all messages across the group' });
    expect(a.received.length + b.received.length).toBe(messages.length);
    expect(a.received.length).toBeGreaterThan(500);
    expect(b.received.length).toBeGreaterThan(500);
    expect(new Set([...a.received, ...b.received].map((r) => r.data.toString())).size).toBe(messages.length);
  });

  it('reconnects and resubscribes after the server restarts on the same port', async () => {
    const s = await server();
    const t = startSource([s.url]);
    await t.started;
    await s.waitForSubscribers('logs.>', 1);
    await s.restart();
    await waitFor(() => t.stats.reconnects >= 1 && t.stats.subscribed, { what: 'the source to reconnect and resubscribe', timeoutMs: 20_000 });
    expect(t.stats.disconnects).toBe(1);
    await s.waitForSubscribers('logs.>', 1);
    const messages = makeFlyEntries(500, { seed: 4 });
    await publishAll(await publisher(s.url), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages published after the restart' });
    expectSameMessages(t.received, messages);
    expect(t.messages()).toEqual(['connected to NATS', 'disconnected from NATS; reconnecting', 'reconnected to NATS']);
  });

  it('subscribe() replaces the subscription with a new sid and keeps receiving, once per message', async () => {
    const s = await server();
    const t = startSource([s.url]);
    await t.started;
    const [first] = await s.waitForSubscribers('logs.>', 1);
    t.src.subscribe();
    const subs = await waitFor(
      async () => {
        const now = (await s.subscriptions()).filter((x) => x.subject === 'logs.>');
        return now.length === 1 && now[0]!.sid !== first!.sid && now;
      },
      { what: 'the old subscription replaced by a new one' },
    );
    expect(subs[0]!.cid).toBe(first!.cid);
    await waitFor(() => t.stats.subscribed, { what: 'the new subscription confirmed' });
    const messages = makeFlyEntries(300, { seed: 5 });
    await publishAll(await publisher(s.url), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages after resubscribing' });
    expectSameMessages(t.received, messages);
  });

  it('reconnect() drops the connection and comes back subscribed', async () => {
    const s = await server();
    const t = startSource([s.url]);
    await t.started;
    const [first] = await s.waitForSubscribers('logs.>', 1);
    await t.src.reconnect();
    await waitFor(async () => t.stats.reconnects >= 1 && (await s.subscriptions()).some((x) => x.subject === 'logs.>' && x.cid !== first!.cid), {
      what: 'a new connection holding the subscription',
    });
    await waitFor(() => t.stats.subscribed, { what: 'subscribed again' });
    const messages = makeFlyEntries(100, { seed: 8 });
    await publishAll(await publisher(s.url), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages after the reconnect' });
    expectSameMessages(t.received, messages);
  });

  it('drain() hands over everything published before it, then closes', async () => {
    const s = await server();
    const t = startSource([s.url]);
    await t.started;
    await s.waitForSubscribers('logs.>', 1);
    const messages = makeFlyEntries(5000, { seed: 6 });
    await publishAll(await publisher(s.url), messages, { flushEvery: 5000, flushBytes: 64 * 1024 * 1024 });
    await t.src.drain();
    expect(t.stats.connected).toBe(false);
    expect(t.stats.subscribed).toBe(false);
    expectSameMessages(t.received, messages);
    await waitFor(async () => (await s.subscriptions()).every((x) => x.connectionName !== 'logferry'), { what: 'the server to drop the connection' });
    expect(t.messages()).toEqual(['connected to NATS']);
  });

  it('drain() while reconnecting closes at once instead of waiting for the server', async () => {
    const s = await server();
    const t = startSource([s.url]);
    await t.started;
    await waitFor(() => t.stats.subscribed, { what: 'subscribed' });
    await s.stop();
    await waitFor(() => !t.stats.connected, { what: 'the disconnect to be noticed' });
    const before = Date.now();
    await t.src.drain();
    expect(Date.now() - before).toBeLessThan(2000);
    expect(t.stats).toMatchObject({ connected: false, subscribed: false });
    expect(t.stats.disconnectedSince).toBeTypeOf('number');
  });

  it('a handler that throws skips that message (logged once), and the stream goes on', async () => {
    const s = await server();
    const t = startSource([s.url], {
      onMessage: (text) => {
        if (text.startsWith('boom')) throw new Error('handler bug');
      },
    });
    await t.started;
    await waitFor(() => t.stats.subscribed, { what: 'subscribed' });
    const nc = await publisher(s.url);
    for (const text of ['one', 'boom 1', 'two', 'boom 2', 'three']) nc.publish('logs.a.b.c', text);
    await nc.flush();
    await waitFor(() => t.received.length === 3, { what: 'the messages around the failing ones' });
    expect(t.received.map((r) => r.data.toString())).toEqual(['one', 'two', 'three']);
    expect(t.messages().filter((m) => m === 'handling a NATS message failed; skipped it')).toHaveLength(1);
    expect(t.stats.connected).toBe(true);
  });
});

/** A stand-in NATS server that does only what each test scripts (for what a real one will not do on demand). */
interface FakeConnection {
  readonly socket: Socket;
  /** Protocol lines received from the client so far. */
  readonly lines: string[];
}

async function startFakeServer(onLine: (conn: FakeConnection, line: string, index: number) => void): Promise<{ url: string; connections: FakeConnection[] }> {
  const connections: FakeConnection[] = [];
  const srv = createServer((socket) => {
    const conn: FakeConnection = { socket, lines: [] };
    const index = connections.push(conn) - 1;
    let pending = '';
    socket.on('error', () => undefined);
    socket.write(`INFO {"server_id":"FAKE","version":"2.10.0","max_payload":1048576,"proto":1}\r\n`);
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

describe('NatsSource against a scripted server', () => {
  it('counts a Slow Consumer error, then the disconnect and reconnect, as stats and log lines', async () => {
    const fake = await startFakeServer((conn, line, index) => {
      if (line !== 'PING') return;
      conn.socket.write('PONG\r\n');
      // The first connection: one message once subscribed, then the server gives up on us as a slow consumer.
      if (index === 0 && conn.lines.some((l) => l.startsWith('SUB '))) conn.socket.end("MSG logs.a.b.c 1 5\r\nfirst\r\n-ERR 'Slow Consumer'\r\n");
    });
    const t = startSource([fake.url]);
    await t.started;
    await waitFor(() => t.stats.reconnects === 1 && t.stats.connected, { what: 'the source to reconnect', timeoutMs: 10_000, context: () => JSON.stringify(t.lines) });
    expect(t.received.map((r) => r.data.toString())).toEqual(['first']);
    expect(t.stats).toMatchObject({ slowConsumer: 1, disconnects: 1, reconnects: 1, connected: true });
    expect(t.messages()).toEqual(['connected to NATS', 'NATS reported an error', 'disconnected from NATS; reconnecting', 'reconnected to NATS']);
    expect(health(t.stats).body.nats).toMatchObject({ slowConsumer: 1 });
  });

  it('reports a stale connection when pings go unanswered, and reconnects', async () => {
    // Answers only the handshake PING of each connection.
    const fake = await startFakeServer((conn, line) => {
      if (line === 'PING' && conn.lines.filter((l) => l === 'PING').length === 1) conn.socket.write('PONG\r\n');
    });
    const t = startSource([fake.url], { options: { pingIntervalMs: 100, maxPingsOut: 2 } });
    await t.started;
    await waitFor(() => t.stats.reconnects >= 1, { what: 'stale, then a reconnect', timeoutMs: 10_000, context: () => JSON.stringify(t.lines) });
    expect(t.messages()).toContain('NATS connection went stale; reconnecting');
    expect(fake.connections.length).toBeGreaterThanOrEqual(2);
    // The SUB went out again on the new connection, resent by nats.js.
    await waitFor(() => fake.connections[1]!.lines.some((l) => l.startsWith('SUB logs.> ')), { what: 'the SUB on the new connection' });
  });

  it('survives garbage from the server: the connection goes stale and is replaced, the source keeps receiving', async () => {
    const fake = await startFakeServer((conn, line, index) => {
      if (line !== 'PING') return;
      const pings = conn.lines.filter((l) => l === 'PING').length;
      if (index === 0 && pings === 1) conn.socket.write('PONG\r\n');
      if (index === 0 && pings === 2) conn.socket.write('PONG\r\nMSG logs.a.b.c 1 2\r\nok\r\nGARBAGE\r\n');
      if (index > 0) conn.socket.write(pings === 2 ? 'PONG\r\nMSG logs.a.b.c 1 5\r\nagain\r\n' : 'PONG\r\n');
    });
    const t = startSource([fake.url], { options: { pingIntervalMs: 100, maxPingsOut: 2 } });
    await t.started;
    await waitFor(() => t.stats.reconnects >= 1 && t.received.length >= 2, { what: 'a reconnect after the garbage', timeoutMs: 10_000, context: () => JSON.stringify(t.lines) });
    expect(t.received.map((r) => r.data.toString()).slice(0, 2)).toEqual(['ok', 'again']);
  });
});

describe('NatsSource: a subscription the server refuses', () => {
  const config = (subscribeAllow: string): string => `
authorization {
  users = [
    { user: "my-org", password: "tok", permissions: { publish: { allow: [">"] }, subscribe: { allow: ["${subscribeAllow}"] } } }
  ]
}
`;

  it('(a) is unhealthy with the reason, keeps retrying, and receives once the permission is granted', async () => {
    const s = await server({ config: config('other.>'), user: 'my-org', pass: 'tok' });
    const t = startSource([s.url], { user: 'my-org', pass: 'tok' });
    await t.started;
    await waitFor(() => t.stats.subscriptionRefusals >= 3, { what: 'three refused subscriptions', timeoutMs: 10_000 });
    expect(t.stats.connected).toBe(true);
    expect(t.stats.subscribed).toBe(false);
    expect(t.stats.subscriptionError).toMatch(/Permissions Violation for Subscription to "logs\.>"/);
    const report = health(t.stats);
    expect(report.httpStatus).toBe(503);
    expect(report.body.nats).toMatchObject({ connected: true, subscribed: false, subscriptionError: expect.stringMatching(/Permissions Violation/) });
    // Logged once for the interval, however many retries.
    expect(t.messages().filter((m) => m.startsWith('NATS refused the subscription'))).toHaveLength(1);

    await s.reload(config('logs.>'));
    await waitFor(() => t.stats.subscribed, { what: 'the subscription to be accepted after the permission is granted', timeoutMs: 10_000 });
    expect(health(t.stats).httpStatus).toBe(200);
    expect(t.stats.subscriptionError).toBeUndefined();
    const messages = makeFlyEntries(200, { seed: 7 });
    await publishAll(await publisher(s.url, { user: 'my-org', pass: 'tok' }), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages once subscribed' });
    expectSameMessages(t.received, messages);
    expect(t.messages()).toContain('NATS accepted the subscription');
  });
});

describe('NatsSource: credentials revoked while connected', () => {
  const users = (password: string): string => `authorization { users = [ { user: "my-org", password: "${password}" } ] }\n`;

  it('keeps reconnecting through repeated refusals (nats.js would give up after two) and recovers when the token works again', async () => {
    const s = await server({ config: users('tok-1'), user: 'my-org', pass: 'tok-1' });
    const t = startSource([s.url], { user: 'my-org', pass: 'tok-1' });
    await t.started;
    await waitFor(() => t.stats.subscribed, { what: 'subscribed' });
    await s.reload(users('tok-2'));
    await waitFor(() => t.stats.authErrors >= 3, { what: 'three refused reconnects', timeoutMs: 15_000, context: () => JSON.stringify(t.lines) });
    expect(t.stats.connected).toBe(false);
    expect(t.stats.subscribed).toBe(false);
    expect(t.stats.authError).toMatch(/Authorization/i);
    expect(t.messages().filter((m) => m.startsWith('NATS refused the credentials'))).toHaveLength(1);
    await s.reload(users('tok-1'));
    await waitFor(() => t.stats.connected && t.stats.subscribed, { what: 'reconnected and subscribed with the working token', timeoutMs: 15_000 });
    expect(t.stats.authError).toBeUndefined();
    const messages = makeFlyEntries(100, { seed: 15 });
    await publishAll(await publisher(s.url, { user: 'my-org', pass: 'tok-1' }), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages after recovering' });
    expectSameMessages(t.received, messages);
  });
});

describe('NatsSource over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logferry-nats-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  /** A CA and a server certificate for the address 127.0.0.1 only (no DNS name). */
  const makeCerts = (): { ca: string; cert: string; key: string } => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=logferry test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=logferry test server');
    execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
    return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
  };

  it('(b) accepts a certificate issued for the IP address of a tls:// URL, and refuses an untrusted one', async () => {
    const files = makeCerts();
    const ca = readFileSync(files.ca, 'utf8');
    const s = await server({
      extraArgs: ['--tls', '--tlscert', files.cert, '--tlskey', files.key],
      probeTls: { ca, checkServerIdentity: (_host, cert) => checkServerIdentity('127.0.0.1', cert) },
    });
    const t = startSource([`tls://127.0.0.1:${s.port}`], { options: { tls: { ca } } });
    await t.started;
    await waitFor(() => t.stats.subscribed, { what: 'subscribed over TLS' });
    // What the source works around: plain nats.js checks this certificate against "localhost".
    const { connect } = await import('@nats-io/transport-node');
    await expect(connect({ servers: `tls://127.0.0.1:${s.port}`, tls: { ca }, reconnect: false, timeout: 2000 })).rejects.toThrow(/localhost/);
    const pub = await connect({ servers: `127.0.0.1:${s.port}`, tls: { ca, checkServerIdentity: (_h: string, cert: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity('127.0.0.1', cert) } as never });
    cleanups.push(() => pub.close());
    const messages = makeFlyEntries(500, { seed: 12 });
    await publishAll(pub, messages);
    await waitFor(() => t.received.length >= 500, { what: 'messages over TLS' });
    expectSameMessages(t.received, messages);

    // Without the CA the certificate is refused, and the source keeps trying.
    const untrusted = startSource([`tls://127.0.0.1:${s.port}`]);
    await waitFor(() => untrusted.lines.some((l) => l.msg === 'cannot connect to NATS; retrying'), { what: 'a refused certificate' });
    expect(String(untrusted.lines.find((l) => l.msg === 'cannot connect to NATS; retrying')!.err)).toMatch(/certificate/i);
    expect(untrusted.stats.connected).toBe(false);
  });
});

describe('NatsSource in a cluster', () => {
  it('(c) learns the other servers from the one it was given and moves there when it stops', async () => {
    const [routeA, routeB] = [await freePort(), await freePort()];
    const a = await server({ cluster: { clusterPort: routeA, routes: [`nats://127.0.0.1:${routeB}`] } });
    const b = await server({ cluster: { clusterPort: routeB, routes: [`nats://127.0.0.1:${routeA}`] } });
    await waitFor(async () => (await a.routes()) >= 1 && (await b.routes()) >= 1, { what: 'the two servers to form a cluster', timeoutMs: 15_000 });
    const t = startSource([a.url]);
    await t.started;
    await a.waitForSubscribers('logs.>', 1);
    await a.stop();
    await waitFor(() => t.stats.reconnects >= 1 && t.stats.subscribed, { what: 'the source to reconnect to the other server', timeoutMs: 20_000 });
    await b.waitForSubscribers('logs.>', 1);
    expect(t.lines.find((l) => l.msg === 'reconnected to NATS')!.server).toBe(`127.0.0.1:${b.port}`);
    const messages = makeFlyEntries(300, { seed: 13 });
    await publishAll(await publisher(b.url), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages through the other server' });
    expectSameMessages(t.received, messages);
  });

  it('moves to another member when its server enters lame duck mode', async () => {
    const [routeA, routeB] = [await freePort(), await freePort()];
    // 30 s is nats-server's minimum; with one client it closes it right after the grace period.
    const a = await server({ config: 'lame_duck_duration: "30s"\nlame_duck_grace_period: "500ms"\n', cluster: { clusterPort: routeA, routes: [`nats://127.0.0.1:${routeB}`] } });
    const b = await server({ cluster: { clusterPort: routeB, routes: [`nats://127.0.0.1:${routeA}`] } });
    await waitFor(async () => (await a.routes()) >= 1 && (await b.routes()) >= 1, { what: 'the two servers to form a cluster', timeoutMs: 15_000 });
    const t = startSource([a.url]);
    await t.started;
    await a.waitForSubscribers('logs.>', 1);
    a.process.kill('SIGUSR2');
    await waitFor(() => t.stats.reconnects >= 1 && t.stats.subscribed, { what: 'the source to move to the other server', timeoutMs: 20_000, context: () => JSON.stringify(t.lines) });
    expect(t.messages()).toContain('NATS server entering lame duck mode; moving to another server when it closes the connection');
    expect(t.lines.find((l) => l.msg === 'reconnected to NATS')!.server).toBe(`127.0.0.1:${b.port}`);
    await b.waitForSubscribers('logs.>', 1);
    const messages = makeFlyEntries(200, { seed: 14 });
    await publishAll(await publisher(b.url), messages);
    await waitFor(() => t.received.length >= messages.length, { what: 'messages through the other server' });
    expectSameMessages(t.received, messages);
  });
});
