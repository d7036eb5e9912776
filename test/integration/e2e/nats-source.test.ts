// The agent's NATS side against real nats-server configurations: a token that may not
// subscribe to SUBJECT (/health 503 with the reason, retried until allowed), TLS to an IP
// address (tls:// and a server that requires TLS; the CA given by NODE_EXTRA_CA_CERTS),
// and a cluster learnt from the one server in NATS_URL.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../support/agent.js';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { startHttpReceiver, type HttpReceiver } from '../../support/http-receiver.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer, type NatsServerOptions } from '../../support/nats.js';
import { freePort } from '../../support/ports.js';
import { waitFor } from '../../support/poll.js';
import { expectExactlyOnce, stopCleanly, waitForSettled } from './scenario.js';

let receiver: HttpReceiver;
const agents: Agent[] = [];
const servers: NatsServer[] = [];
const publishers: NatsConnection[] = [];
const certDir = mkdtempSync(join(tmpdir(), 'logferry-e2e-tls-'));

beforeAll(async () => {
  receiver = await startHttpReceiver();
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.kill()));
  await Promise.all(publishers.splice(0).map((p) => p.close().catch(() => undefined)));
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
  receiver.reset();
});
afterAll(async () => {
  await receiver?.close();
  rmSync(certDir, { recursive: true, force: true });
});

async function server(options: NatsServerOptions = {}): Promise<NatsServer> {
  const s = await startNatsServer(options);
  servers.push(s);
  return s;
}

async function agent(natsUrl: string, extra: Record<string, string> = {}): Promise<Agent> {
  const a = await startAgent({
    NATS_URL: natsUrl,
    HTTP_URL: `${receiver.url}/ingest`,
    HTTP_BATCH_MAX_AGE: '200ms',
    RETRY_INITIAL_BACKOFF: '100ms',
    RETRY_MAX_BACKOFF: '1s',
    ...extra,
  });
  agents.push(a);
  return a;
}

async function publisher(url: string, auth: { user?: string; pass?: string } = {}): Promise<NatsConnection> {
  const nc = await connectPublisher(url, auth);
  publishers.push(nc);
  return nc;
}

describe('e2e: /health and the subscription', () => {
  it('(d) answers 503 with subscribed: false until the subscription exists, then 200', async () => {
    const s = await server();
    await s.stop();
    const a = await agent(s.url);
    const early = await waitFor(
      async () => {
        const h = await a.health().catch(() => undefined);
        return h?.body?.nats !== undefined && h;
      },
      { what: '/health to answer', timeoutMs: 15_000, context: () => a.tail(10) },
    );
    expect(early.status).toBe(503);
    expect(early.body.nats).toMatchObject({ connected: false, subscribed: false });
    expect(await a.metric('logferry_nats_subscribed')).toBe(0);
    await s.restart();
    const ok = await waitFor(
      async () => {
        const h = await a.health();
        return h.status === 200 && h;
      },
      { what: '/health to turn 200 once subscribed', timeoutMs: 20_000, context: () => a.tail(10) },
    );
    expect(ok.body.nats).toMatchObject({ connected: true, subscribed: true });
    expect(await a.metric('logferry_nats_subscribed')).toBe(1);
    await s.waitForSubscribers('logs.>', 1);
    await stopCleanly(a);
  });
});

describe('e2e: a subscription the server refuses', () => {
  const config = (subscribeAllow: string): string => `
authorization {
  users = [
    { user: "acme-org", password: "fm2_token", permissions: { publish: { allow: [">"] }, subscribe: { allow: ["${subscribeAllow}"] } } }
  ]
}
`;

  it('(a)(d) /health answers 503 with the reason and subscribed: false, the agent retries, and ships once the permission is granted', async () => {
    const s = await server({ config: config('other.>'), user: 'acme-org', pass: 'fm2_token' });
    const a = await agent(s.url, { ORG: 'acme-org', ACCESS_TOKEN: 'fm2_token' });
    const refused = await waitFor(
      async () => {
        const h = await a.health();
        return h.body?.nats?.subscriptionError !== undefined && h;
      },
      { what: '/health to report the refused subscription', timeoutMs: 15_000, context: () => a.tail(10) },
    );
    expect(refused.status).toBe(503);
    expect(refused.body.status).toBe('failing');
    expect(refused.body.nats).toMatchObject({ connected: true, subscribed: false, subscriptionError: expect.stringMatching(/Permissions Violation for Subscription to "logs\.>"/) });
    expect(await a.metric('logferry_nats_subscribed')).toBe(0);
    // Retried (every 5 s), logged once per LOG_INTERVAL.
    await waitFor(async () => (await a.metric('logferry_nats_subscription_refusals_total')) >= 2, { what: 'a second attempt', timeoutMs: 20_000, context: () => a.tail(10) });
    expect(a.logs.filter((l) => String(l.msg).startsWith('NATS refused the subscription'))).toHaveLength(1);
    expect(a.stdoutLines.join('\n')).not.toContain('fm2_token');

    await s.reload(config('logs.>'));
    const ok = await waitFor(
      async () => {
        const h = await a.health();
        return h.status === 200 && h;
      },
      { what: '/health to turn 200 once the subscription is accepted', timeoutMs: 20_000, context: () => a.tail(10) },
    );
    expect(ok.body.nats).toMatchObject({ connected: true, subscribed: true });
    expect(ok.body.nats.subscriptionError).toBeUndefined();
    await s.waitForSubscribers('logs.>', 1);
    const entries = makeFlyEntries(500, { seed: 61 });
    await publishAll(await publisher(s.url, { user: 'acme-org', pass: 'fm2_token' }), entries);
    await receiver.waitForEntries(entries.length, 20_000);
    await waitForSettled(a, entries.length);
    expectExactlyOnce(receiver.entries(), entries);
    await stopCleanly(a);
  });
});

describe('e2e: TLS to an IP address', () => {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: certDir, stdio: 'ignore' });
  };

  it('(b) accepts the certificate issued for 127.0.0.1, by tls:// and when the server requires TLS on nats://', async () => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=logferry e2e CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=logferry e2e server');
    execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: certDir });
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
    const caFile = join(certDir, 'ca.pem');
    const ca = readFileSync(caFile, 'utf8');
    const checkIp = (_host: string, cert: PeerCertificate): Error | undefined => checkServerIdentity('127.0.0.1', cert);
    const s = await server({ extraArgs: ['--tls', '--tlscert', join(certDir, 'server.pem'), '--tlskey', join(certDir, 'server.key')], probeTls: { ca, checkServerIdentity: checkIp } });
    const pub = await connect({ servers: `127.0.0.1:${s.port}`, tls: { ca, checkServerIdentity: checkIp } as never, maxReconnectAttempts: -1 });
    publishers.push(pub);

    for (const [i, url] of [`tls://127.0.0.1:${s.port}`, `nats://127.0.0.1:${s.port}`].entries()) {
      receiver.reset();
      // The private CA the way a user adds one: Node's NODE_EXTRA_CA_CERTS.
      const a = await agent(url, { NODE_EXTRA_CA_CERTS: caFile });
      await a.waitForReady();
      await s.waitForSubscribers('logs.>', 1);
      const entries = makeFlyEntries(300, { seed: 70 + i });
      await publishAll(pub, entries);
      await receiver.waitForEntries(entries.length, 20_000);
      await waitForSettled(a, entries.length);
      expectExactlyOnce(receiver.entries(), entries);
      expect(a.logs.some((l) => l.msg === 'cannot connect to NATS; retrying'), `${url}\n${a.tail(10)}`).toBe(false);
      // On nats:// nats.js upgrades when asked but checks the certificate against "localhost"; the source then insists on TLS.
      expect(a.logs.some((l) => String(l.msg).startsWith('NATS server requires TLS')), a.tail(10)).toBe(url.startsWith('nats://'));
      await stopCleanly(a);
      agents.splice(agents.indexOf(a), 1);
      await waitFor(async () => (await s.subscriptions()).every((x) => x.connectionName !== 'logferry'), { what: 'the agent to leave' });
    }
  });
});

describe('e2e: a NATS cluster', () => {
  it('(c) given one server, the agent learns the other, moves there when the first stops, and still ships', async () => {
    const [routeA, routeB] = [await freePort(), await freePort()];
    const a = await server({ cluster: { clusterPort: routeA, routes: [`nats://127.0.0.1:${routeB}`] } });
    const b = await server({ cluster: { clusterPort: routeB, routes: [`nats://127.0.0.1:${routeA}`] } });
    await waitFor(async () => (await a.routes()) >= 1 && (await b.routes()) >= 1, { what: 'the two servers to form a cluster', timeoutMs: 15_000 });
    const ag = await agent(a.url);
    await ag.waitForReady();
    await a.waitForSubscribers('logs.>', 1);

    const before = makeFlyEntries(500, { seed: 81, idPrefix: 'before-' });
    await publishAll(await publisher(a.url), before);
    await receiver.waitForEntries(before.length, 20_000);

    await a.stop();
    await waitFor(
      async () => {
        const h = await ag.health();
        return h.body?.nats?.reconnects >= 1 && h.body.nats.subscribed === true && h;
      },
      { what: 'the agent to reconnect to the other server', timeoutMs: 20_000, context: () => ag.tail(10) },
    );
    await b.waitForSubscribers('logs.>', 1);
    expect(ag.logs.find((l) => l.msg === 'reconnected to NATS')?.server).toBe(`127.0.0.1:${b.port}`);
    const after = makeFlyEntries(500, { seed: 82, idPrefix: 'after-' });
    await publishAll(await publisher(b.url), after);
    await receiver.waitForEntries(before.length + after.length, 20_000);
    await waitForSettled(ag, before.length + after.length);
    expectExactlyOnce(receiver.entries(), [...before, ...after]);
    await stopCleanly(ag);
  });
});
