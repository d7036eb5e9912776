// Environment → one frozen, typed configuration, validated once at start. Errors name
// the variable and what is expected, never a secret's value. Variable names follow
// superfly/fly-log-shipper so existing secrets keep working.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, ConfigErrors } from '../errors.js';
import { EnvReader, type Env } from './env.js';
import { defaultBufferBudget, readMemoryLimit, type MemoryLimit } from './memory-budget.js';
import type { LogLevel } from '../ops/logger.js';
import type { RetryPolicy } from '../pipeline/retry.js';
import type { PipelineSettings, SinkPlugin } from '../pipeline/sink.js';

export interface NatsConfig {
  /** `nats://host:port` or `tls://host:port`, never with credentials (they are in user/pass). */
  readonly servers: readonly string[];
  /** ORG / ACCESS_TOKEN, else the `user:password@` of NATS_URL. */
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly subject: string;
  readonly queue: string | undefined;
}

export interface ConfiguredSink {
  readonly plugin: SinkPlugin<unknown>;
  readonly config: unknown;
  readonly settings: PipelineSettings;
  /** Its buffer was set (`BUFFER_MAX_BYTES` / `<SINK>_BUFFER_MAX_BYTES`): a budget of its own instead of the shared one. */
  readonly ownBuffer: boolean;
  readonly description: string;
}

export interface SpoolConfig {
  /** Each sink spools under `<dir>/<sink name>`. */
  readonly dir: string;
  /** SPOOL_DIR was not set: the default under the data directory. */
  readonly defaultDir: boolean;
  /** Per sink; undefined: chosen at start from the free space (see spoolBoundFromFreeSpace). */
  readonly maxBytes: number | undefined;
  readonly whenFull: 'drop_oldest' | 'drop_newest';
  readonly fsync: boolean;
}

export interface AgentConfig {
  readonly logLevel: LogLevel;
  /** Running as a Fly app (FLY_APP_NAME set). */
  readonly onFly: boolean;
  readonly ownApp: string | undefined;
  readonly nats: NatsConfig;
  /** Apps whose entries are dropped at the source (counted as excluded_app). */
  readonly excludeApps: ReadonlySet<string>;
  readonly metricsPort: number;
  readonly stallTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly healthFailAfterMs: number;
  /** How often a recurring warning (drops, retries) may be logged. */
  readonly logIntervalMs: number;
  /** Settings of earlier versions that are set but no longer do anything (RETIRED_SETTINGS); main warns once. */
  readonly retiredSettings: readonly string[];
  readonly retry: RetryPolicy;
  readonly agentInstanceId: string;
  readonly sinks: readonly ConfiguredSink[];
  /** Undefined with SPOOL_DIR=off: memory only. */
  readonly spool: SpoolConfig | undefined;
  /** The memory limit the default buffers were derived from. */
  readonly memory: { readonly limit: MemoryLimit; readonly bufferBudgetBytes: number };
}

/**
 * Settings that once did something and are now accepted and ignored, so an old deployment
 * still starts; the start-up log names them once, with why.
 */
export const RETIRED_SETTINGS: Readonly<Record<string, string>> = {
  GZIP_ENCODER: 'the native gzip encoder is gone; gzip always uses node:zlib',
};

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
// What the source (nats.js over TCP) speaks: plain, or TLS (tls://, or upgraded when the server's INFO requires it).
const NATS_PROTOCOLS = ['nats:', 'tls:'];
const NATS_DEFAULT_PORT = 4222;
// What a user has to set to configure a sink, for the "no sink" error.
const SINK_SECRETS = 'HTTP_URL, LOKI_URL, AWS_BUCKET (or BUCKET_NAME), the secrets of a destination as in fly-log-shipper (DATADOG_API_KEY, AXIOM_TOKEN, BETTER_STACK_SOURCE_TOKEN, HONEYCOMB_API_KEY, …), or DATA_DIR on a Fly volume';

/** A server URL as it may be shown in an error: everything up to the last `@` masked, so an unencoded `@` in a password leaks nothing. */
function shownServer(server: string): string {
  return server.includes('@') ? server.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/i, '$1***@') : server;
}

interface NatsServers {
  /** `nats://host:port` or `tls://host:port`, port filled in, credentials removed (so they can be logged). */
  readonly servers: string[];
  /** From `user:password@` in NATS_URL, when given. */
  readonly user: string | undefined;
  readonly pass: string | undefined;
}

function readNatsServers(env: EnvReader, onFly: boolean): NatsServers {
  const raw = env.list('NATS_URL');
  if (raw.length === 0) {
    const network = env.string('NETWORK', 'fdaa');
    if (!/^[0-9a-f:]+$/i.test(network)) throw new ConfigError('NETWORK', `expected an IPv6 prefix such as fdaa, got "${network}"`);
    return { servers: [onFly ? `nats://[${network}::3]:4223` : `nats://127.0.0.1:${NATS_DEFAULT_PORT}`], user: undefined, pass: undefined };
  }
  const servers: string[] = [];
  let user: string | undefined;
  let pass: string | undefined;
  for (const server of raw) {
    const shown = shownServer(server);
    const expected = `expected nats://host:port or tls://host:port (comma-separated for several; IPv6 as [addr]:port), got "${shown}"`;
    let url: URL;
    try {
      url = new URL(server.includes('://') ? server : `nats://${server}`);
    } catch (cause) {
      throw new ConfigError('NATS_URL', expected, { cause: cause instanceof Error ? cause.message.replace(server, shown) : undefined });
    }
    if (!NATS_PROTOCOLS.includes(url.protocol) || url.hostname === '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      throw new ConfigError('NATS_URL', expected);
    }
    servers.push(`${url.protocol}//${url.hostname}:${url.port === '' ? NATS_DEFAULT_PORT : url.port}`);
    if (url.username === '' && url.password === '') continue;
    if (url.username === '' || url.password === '') throw new ConfigError('NATS_URL', `expected user:password@host (both, percent-encoded), got "${shown}"`);
    let u: string;
    let p: string;
    try {
      u = decodeURIComponent(url.username);
      p = decodeURIComponent(url.password);
    } catch {
      throw new ConfigError('NATS_URL', `user or password is not valid percent-encoding in "${shown}"`);
    }
    // One client connects to every server with one set of credentials.
    if (user !== undefined && (u !== user || p !== pass)) throw new ConfigError('NATS_URL', 'servers carry different user:password@; give the same (or only one)');
    user = u;
    pass = p;
  }
  return { servers, user, pass };
}

/** fly-log-shipper's default organisation: the user's personal one. */
export const DEFAULT_ORG = 'personal';

function readCredentials(env: EnvReader, onFly: boolean): { user: string | undefined; pass: string | undefined } {
  let pass = env.raw('ACCESS_TOKEN');
  // `fly tokens create` prints "FlyV1 fm2_…"; NATS wants the token alone.
  if (pass !== undefined && /^FlyV1\s+/i.test(pass)) pass = pass.replace(/^FlyV1\s+/i, '');
  if (pass === '') pass = undefined;
  // As fly-log-shipper: ORG defaults to `personal` wherever a token is given.
  const user = env.raw('ORG') ?? (pass !== undefined || onFly ? DEFAULT_ORG : undefined);
  if (onFly && pass === undefined) return env.fail(new ConfigError('ACCESS_TOKEN', 'is required on Fly: fly tokens create readonly <org>'), { user: undefined, pass: undefined });
  if (user !== undefined && pass === undefined) return env.fail(new ConfigError('ACCESS_TOKEN', 'is required when ORG is set (it is the NATS password)'), { user: undefined, pass: undefined });
  return { user, pass };
}

function readSubject(env: EnvReader): string {
  const subject = env.string('SUBJECT', 'logs.>');
  // A NATS subject: dot-separated tokens, no spaces; `*` and `>` wildcards.
  if (!/^[^\s.]+(\.[^\s.]+)*$/.test(subject) || /(^|\.)>(?!$)/.test(subject)) {
    return env.fail(new ConfigError('SUBJECT', `expected a NATS subject such as logs.> or logs.my-app.>, got "${subject}"`), 'logs.>');
  }
  return subject;
}

export function readPipelineSettings(env: EnvReader, prefix: string, defaults: PipelineSettings): PipelineSettings {
  const p = prefix;
  const batch = {
    maxEntries: env.int(`${p}_BATCH_MAX_ENTRIES`, defaults.batch.maxEntries, { min: 1, max: 10_000_000 }),
    maxBytes: env.size(`${p}_BATCH_MAX_BYTES`, defaults.batch.maxBytes, { min: 1024 }),
    maxAgeMs: env.duration(`${p}_BATCH_MAX_AGE`, defaults.batch.maxAgeMs, { min: 10 }),
    ...(defaults.batch.maxLineBytes !== undefined ? { maxLineBytes: defaults.batch.maxLineBytes } : {}),
  };
  const maxInFlight = env.int(`${p}_MAX_IN_FLIGHT`, defaults.maxInFlight, { min: 1, max: 256 });
  const bufferVar = env.has(`${p}_BUFFER_MAX_BYTES`) ? `${p}_BUFFER_MAX_BYTES` : 'BUFFER_MAX_BYTES';
  const bufferMaxBytes = env.size(bufferVar, defaults.bufferMaxBytes, { min: 64 * 1024 });
  return Object.freeze({ batch: Object.freeze(batch), maxInFlight, bufferMaxBytes });
}

/** Where the spool goes without SPOOL_DIR: under the data directory (DATA_DIR, else ./data, as the file sink). */
export const DEFAULT_SPOOL_SUBDIR = 'spool';

function readSpool(env: EnvReader): SpoolConfig | undefined {
  const dir = env.raw('SPOOL_DIR');
  const maxBytes = env.has('SPOOL_MAX_BYTES') ? env.size('SPOOL_MAX_BYTES', 1024 ** 3, { min: 1024 * 1024 }) : undefined;
  const whenFull = env.oneOf('SPOOL_WHEN_FULL', ['drop_oldest', 'drop_newest'] as const, 'drop_oldest');
  const fsync = env.bool('SPOOL_FSYNC', true);
  if (dir !== undefined && ['off', 'none', 'false', '0'].includes(dir.toLowerCase())) return undefined;
  const resolved = resolve(dir ?? join(env.raw('DATA_DIR') ?? './data', DEFAULT_SPOOL_SUBDIR));
  return Object.freeze({ dir: resolved, defaultDir: dir === undefined, maxBytes, whenFull, fsync });
}

function makeAgentInstanceId(env: EnvReader): string {
  const machine = env.raw('FLY_MACHINE_ID') ?? env.raw('FLY_ALLOC_ID') ?? hostname();
  // The random part keeps a restarted process from reusing its predecessor's object names: a
  // repeat would overwrite another run's objects, so 48 bits (no repeat in a lifetime of restarts).
  return `${machine.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'agent'}-${randomBytes(6).toString('hex')}`;
}

export interface SinkCatalogue {
  readonly plugins: readonly SinkPlugin<unknown>[];
  /** The local default when nothing is configured (the file sink under ./data). */
  readonly fallback: { readonly plugin: SinkPlugin<unknown>; readonly config: (env: EnvReader) => unknown };
}

/** What loadConfig reads off the machine; tests pass their own. */
export interface MachineFacts {
  readonly memoryLimit: MemoryLimit;
}

export function loadConfig(rawEnv: Env, catalogue: SinkCatalogue, machine: MachineFacts = { memoryLimit: readMemoryLimit() }): AgentConfig {
  // Every problem is collected and thrown together at the end, so one start names them all.
  const env = new EnvReader(rawEnv, { collect: true });
  const ownApp = env.raw('FLY_APP_NAME');
  const onFly = ownApp !== undefined;
  const logLevel = env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info');
  const fromUrl = env.attempt(() => readNatsServers(env, onFly), { servers: ['nats://127.0.0.1:4222'], user: undefined, pass: undefined });
  const credentials = readCredentials(env, onFly);
  // ORG / ACCESS_TOKEN win over credentials in NATS_URL.
  const user = credentials.pass !== undefined ? credentials.user : fromUrl.user;
  const pass = credentials.pass !== undefined ? credentials.pass : fromUrl.pass;
  const nats: NatsConfig = Object.freeze({ servers: Object.freeze(fromUrl.servers), user, pass, subject: readSubject(env), queue: env.raw('QUEUE') });

  const excludeApps = new Set(env.list('EXCLUDE_APPS'));
  // The agent's own lines come back through the stream; shipping them would echo every warning.
  if (ownApp !== undefined && !env.bool('SHIP_OWN_LOGS', false)) excludeApps.add(ownApp);
  else if (ownApp === undefined) env.bool('SHIP_OWN_LOGS', false); // still validated

  const chosen: Array<{ plugin: SinkPlugin<unknown>; config: unknown }> = [];
  const problemsBeforeSinks = env.problems.length;
  for (const plugin of catalogue.plugins) {
    const config = env.attempt(() => plugin.readConfig(env), undefined);
    if (config !== undefined) chosen.push({ plugin, config });
  }
  // A sink whose settings were wrong is not "no sink": its own problem says what to fix.
  if (chosen.length === 0 && env.problems.length === problemsBeforeSinks) {
    if (onFly) env.fail(new ConfigError('no sink configured', `on Fly the local disk is ephemeral; set ${SINK_SECRETS}`), undefined);
    else {
      const { plugin, config } = catalogue.fallback;
      const c = env.attempt(() => config(env), undefined);
      if (c !== undefined) chosen.push({ plugin, config: c });
    }
  }
  // One memory budget shared by all sinks; BUFFER_MAX_BYTES / <SINK>_BUFFER_MAX_BYTES give a sink a buffer of its own.
  const bufferBudgetBytes = defaultBufferBudget(machine.memoryLimit);
  const sinks: ConfiguredSink[] = chosen.map(({ plugin, config }) =>
    Object.freeze({
      plugin,
      config,
      settings: readPipelineSettings(env, plugin.envPrefix, { ...plugin.defaults, bufferMaxBytes: bufferBudgetBytes }),
      ownBuffer: env.has(`${plugin.envPrefix}_BUFFER_MAX_BYTES`) || env.has('BUFFER_MAX_BYTES'),
      description: env.attempt(() => plugin.describe(config), plugin.kind),
    }),
  );

  const retry: RetryPolicy = Object.freeze({
    initialBackoffMs: env.duration('RETRY_INITIAL_BACKOFF', 500, { min: 1, max: 3_600_000 }),
    maxBackoffMs: env.duration('RETRY_MAX_BACKOFF', 60_000, { min: 1, max: 3_600_000 }),
  });
  if (retry.maxBackoffMs < retry.initialBackoffMs) env.fail(new ConfigError('RETRY_MAX_BACKOFF', 'must not be shorter than RETRY_INITIAL_BACKOFF'), undefined);

  const config: AgentConfig = Object.freeze({
    logLevel,
    onFly,
    ownApp,
    nats,
    excludeApps,
    metricsPort: env.int('METRICS_PORT', 9598, { min: 1, max: 65_535 }),
    stallTimeoutMs: env.duration('STALL_TIMEOUT', 5 * 60_000, { min: 100 }),
    shutdownTimeoutMs: env.duration('SHUTDOWN_TIMEOUT', 25_000, { min: 0 }),
    healthFailAfterMs: env.duration('HEALTH_FAIL_AFTER', 60_000, { min: 0 }),
    logIntervalMs: env.duration('LOG_INTERVAL', 30_000, { min: 100 }),
    retiredSettings: Object.keys(RETIRED_SETTINGS).filter((name) => env.has(name)),
    retry,
    agentInstanceId: makeAgentInstanceId(env),
    sinks: Object.freeze(sinks),
    spool: readSpool(env),
    memory: Object.freeze({ limit: machine.memoryLimit, bufferBudgetBytes }),
  });
  // One problem per variable (a bad HTTP_URL may also make a dependent check complain about it).
  const seen = new Set<string>();
  const problems = env.problems.filter((p) => !seen.has(p.variable) && seen.add(p.variable) !== undefined);
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new ConfigErrors(problems);
  return config;
}
