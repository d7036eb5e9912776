// A real nats-server per test file, on a free port, plus a paced publisher. Core NATS
// only (no JetStream), like Fly's log stream: a message nobody is subscribed to, or that
// overruns a slow consumer, is gone, so tests wait for the agent's subscription (via the
// server's monitoring endpoint) before publishing and pace big runs with flushes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions as NodeTlsOptions } from 'node:tls';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { freePort } from './ports.js';
import { delay, waitFor } from './poll.js';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface NatsServerOptions {
  /** Client port; a free one when omitted. */
  readonly port?: number;
  /** Require user/password auth (what Fly does with ORG / ACCESS_TOKEN). */
  readonly user?: string;
  readonly pass?: string;
  /** Anything else to pass to nats-server. */
  readonly extraArgs?: readonly string[];
  /** A nats-server configuration file's text (authorization, permissions, tls…); reload() replaces it. */
  readonly config?: string;
  /** Node TLS options for the readiness probe of a server that requires TLS (a `ca`, an identity check). */
  readonly probeTls?: NodeTlsOptions;
  /** Join a cluster: listen for routes on `clusterPort` and route to `routes` (`nats://127.0.0.1:<port>`). */
  readonly cluster?: { readonly name?: string; readonly clusterPort: number; readonly routes?: readonly string[] };
}

export interface SubscriptionInfo {
  readonly cid: number;
  /** The client's connection name, when it set one. */
  readonly connectionName: string | undefined;
  /** Subscription id within the connection: a resubscription gets a new one. */
  readonly sid: string;
  readonly subject: string;
  readonly queue: string | undefined;
  /** Messages the server delivered on this subscription. */
  readonly msgs: number;
}

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` (no credentials). */
  readonly url: string;
  readonly port: number;
  /** Monitoring endpoint (`/varz`, `/connz`, `/subsz`), same port across restarts. */
  readonly monitorUrl: string;
  /** The current nats-server child (a new one after restart()). */
  readonly process: ChildProcess;
  /** Last lines nats-server wrote, for failure messages. */
  output(): string;
  /** Terminates the server (SIGTERM, SIGKILL after 5 s); resolves once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops if running and starts again on the same ports; resolves when a client can connect. */
  restart(): Promise<void>;
  varz(): Promise<Record<string, unknown>>;
  /** Every subscription the server holds right now, across connections. */
  subscriptions(): Promise<SubscriptionInfo[]>;
  /** Waits until at least `count` subscriptions on exactly `subject` (in `queue`, when given) exist. */
  waitForSubscribers(subject: string, count?: number, options?: { queue?: string; timeoutMs?: number }): Promise<SubscriptionInfo[]>;
  /** Replaces the configuration file (started with `config`) and tells the running server to reload it (SIGHUP). */
  reload(config: string): Promise<void>;
  /** Routes to other cluster members that are up. */
  routes(): Promise<number>;
}

const children = new Set<ChildProcess>();
const configDirs = new Set<string>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
});

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = options.port ?? (await freePort());
  const monitorPort = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort)];
  if (options.user !== undefined) args.push('--user', options.user);
  if (options.pass !== undefined) args.push('--pass', options.pass);
  let configDir: string | undefined;
  let configFile: string | undefined;
  if (options.config !== undefined) {
    configDir = mkdtempSync(join(tmpdir(), 'logferry-nats-conf-'));
    configFile = join(configDir, 'nats.conf');
    configDirs.add(configDir);
    writeFileSync(configFile, options.config);
    args.push('-c', configFile);
  }
  if (options.cluster !== undefined) {
    args.push('--cluster_name', options.cluster.name ?? 'logferry-test', '--cluster', `nats://127.0.0.1:${options.cluster.clusterPort}`);
    if ((options.cluster.routes ?? []).length > 0) args.push('--routes', options.cluster.routes!.join(','));
  }
  if (options.extraArgs) args.push(...options.extraArgs);

  let child: ChildProcess;
  let exited: Promise<void>;
  let lines: string[] = [];

  const output = (): string => `nats-server on port ${port} said:\n${lines.slice(-40).join('\n')}`;

  const launch = async (): Promise<void> => {
    lines = [];
    const c = spawn(NATS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    children.add(c);
    let buffered = '';
    const collect = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length > 400) lines = lines.slice(-200);
    };
    c.stdout?.on('data', collect);
    c.stderr?.on('data', collect);
    let hasExited = false;
    exited = new Promise<void>((resolve) => {
      c.once('exit', () => {
        hasExited = true;
        children.delete(c);
        resolve();
      });
    });
    await waitFor(
      async () => {
        if (hasExited) throw new Error(`nats-server exited during start (code ${c.exitCode})`);
        const probe: ConnectionOptions = { servers: url, reconnect: false, timeout: 1000 };
        if (options.user !== undefined) Object.assign(probe, { user: options.user, pass: options.pass });
        if (options.probeTls !== undefined) probe.tls = options.probeTls as ConnectionOptions['tls'];
        const nc = await connect(probe);
        await nc.close();
        return true;
      },
      { what: `nats-server to accept clients on ${url}`, timeoutMs: 15_000, intervalMs: 50, context: output },
    );
    // The monitoring listener starts alongside the client one; make sure it answers too.
    await waitFor(async () => (await fetch(`${monitorUrl}/varz`)).ok, { what: 'nats-server monitoring', timeoutMs: 10_000, context: output });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const escalate = setTimeout(() => child.kill('SIGKILL'), 5_000);
    escalate.unref();
    await exited;
    clearTimeout(escalate);
  };

  const getJson = async (path: string): Promise<Record<string, unknown>> => {
    const res = await fetch(`${monitorUrl}${path}`);
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };

  const subscriptions = async (): Promise<SubscriptionInfo[]> => {
    const connz = await getJson('/connz?subs=detail&limit=1024');
    const out: SubscriptionInfo[] = [];
    for (const conn of (connz.connections as Array<Record<string, unknown>> | undefined) ?? []) {
      const details = (conn.subscriptions_list_detail as Array<Record<string, unknown>> | undefined) ?? [];
      for (const d of details) {
        out.push({
          cid: Number(conn.cid),
          connectionName: typeof conn.name === 'string' && conn.name !== '' ? conn.name : undefined,
          sid: String(d.sid),
          subject: String(d.subject),
          queue: typeof d.qgroup === 'string' && d.qgroup !== '' ? d.qgroup : undefined,
          msgs: Number(d.msgs ?? 0),
        });
      }
    }
    return out;
  };

  await launch();

  return {
    url,
    port,
    monitorUrl,
    get process() {
      return child;
    },
    output,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    varz: () => getJson('/varz'),
    subscriptions,
    async reload(config) {
      if (configFile === undefined) throw new Error('reload() needs a server started with `config`');
      const before = (await getJson('/varz')).config_load_time;
      writeFileSync(configFile, config);
      child.kill('SIGHUP');
      await waitFor(async () => (await getJson('/varz')).config_load_time !== before, { what: 'nats-server to reload its configuration', context: output });
    },
    async routes() {
      return Number((await getJson('/routez')).num_routes ?? 0);
    },
    async waitForSubscribers(subject, count = 1, opts = {}) {
      return waitFor(
        async () => {
          const subs = (await subscriptions()).filter((s) => s.subject === subject && (opts.queue === undefined || s.queue === opts.queue));
          return subs.length >= count ? subs : undefined;
        },
        { what: `${count} subscription(s) on "${subject}"${opts.queue ? ` in queue ${opts.queue}` : ''}`, timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 50 },
      );
    },
  };
}

/** A publishing client that rides out server restarts (it reconnects quickly and forever). */
export async function connectPublisher(url: string, auth: { user?: string; pass?: string } = {}): Promise<NatsConnection> {
  return connect({
    servers: url,
    ...(auth.user !== undefined ? { user: auth.user, pass: auth.pass ?? '' } : {}),
    name: 'test-publisher',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
}

export type PublishMessage =
  | { readonly subject: string; readonly data: string | Uint8Array }
  | { readonly subject: string; readonly payload: string };

export interface PublishOptions {
  /** Messages per second; unlimited (but flushed in chunks) when omitted. */
  readonly ratePerSec?: number;
  /** Flush after this many messages (default 200) or this many bytes (default 256 KiB). */
  readonly flushEvery?: number;
  readonly flushBytes?: number;
}

const encoder = new TextEncoder();

/**
 * Publishes every message in order, flushing (a round trip to the server) every chunk so
 * neither the client's buffer nor the server's per-subscriber buffer is overrun; with
 * `ratePerSec` it also sleeps between chunks to hold the rate.
 */
export async function publishAll(nc: NatsConnection, messages: readonly PublishMessage[], options: PublishOptions = {}): Promise<void> {
  const rate = options.ratePerSec;
  const flushEvery = rate !== undefined ? Math.max(1, Math.min(options.flushEvery ?? 200, Math.ceil(rate / 20))) : (options.flushEvery ?? 200);
  const flushBytes = options.flushBytes ?? 256 * 1024;
  const started = performance.now();
  let count = 0;
  let bytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const raw = 'payload' in m ? m.payload : m.data;
    const data = typeof raw === 'string' ? encoder.encode(raw) : raw;
    nc.publish(m.subject, data);
    count++;
    bytes += data.length;
    if (count >= flushEvery || bytes >= flushBytes || i === messages.length - 1) {
      await nc.flush();
      count = 0;
      bytes = 0;
      if (rate !== undefined) {
        const wait = started + ((i + 1) * 1000) / rate - performance.now();
        if (wait > 0) await delay(wait);
      }
    }
  }
  await nc.flush();
}
