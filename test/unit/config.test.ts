import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type SinkCatalogue } from '../../src/config/config.js';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { configErrorOf } from '../support/config-error.js';

const defaults = { batch: { maxEntries: 100, maxBytes: 1_000_000, maxAgeMs: 1000 }, maxInFlight: 2, bufferMaxBytes: 8 * 1024 * 1024 };

function fakePlugin(kind: 'http' | 'file', variable: string): SinkPlugin<{ target: string }> {
  return {
    kind,
    envPrefix: kind.toUpperCase(),
    defaults,
    readConfig: (env) => (env.has(variable) ? { target: env.raw(variable)! } : undefined),
    describe: (c) => `${kind} → ${c.target}`,
    create: () => {
      throw new Error('not used');
    },
  };
}

const http = fakePlugin('http', 'HTTP_URL');
const file = fakePlugin('file', 'DATA_DIR');
const catalogue: SinkCatalogue = {
  plugins: [http, file] as unknown as SinkPlugin<unknown>[],
  fallback: { plugin: file as unknown as SinkPlugin<unknown>, config: () => ({ target: './data' }) },
};

function errorOf(env: Record<string, string>): ConfigError {
  return configErrorOf(() => loadConfig(env, catalogue));
}

describe('loadConfig', () => {
  it('has local defaults and falls back to the file sink', () => {
    const c = loadConfig({}, catalogue);
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(c.nats.subject).toBe('logs.>');
    expect(c.metricsPort).toBe(9598);
    expect(c.stallTimeoutMs).toBe(300_000);
    expect(c.retiredSettings).toEqual([]);
    expect(c.sinks.map((s) => s.description)).toEqual(['file → ./data']);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('derives the Fly NATS address from NETWORK and requires credentials on Fly', () => {
    const c = loadConfig({ FLY_APP_NAME: 'logferry', ORG: 'acme', ACCESS_TOKEN: 'FlyV1 fm2_secret', HTTP_URL: 'https://x' }, catalogue);
    expect(c.nats.servers).toEqual(['nats://[fdaa::3]:4223']);
    expect(c.nats.user).toBe('acme');
    expect(c.nats.pass).toBe('fm2_secret');
    expect(c.excludeApps.has('logferry')).toBe(true);
    expect(loadConfig({ FLY_APP_NAME: 'lf', ORG: 'a', ACCESS_TOKEN: 't', HTTP_URL: 'x', NETWORK: 'fdab', SHIP_OWN_LOGS: 'true' }, catalogue)).toMatchObject({
      nats: { servers: ['nats://[fdab::3]:4223'] },
    });
    expect(loadConfig({ FLY_APP_NAME: 'lf', ORG: 'a', ACCESS_TOKEN: 't', HTTP_URL: 'x', SHIP_OWN_LOGS: 'true' }, catalogue).excludeApps.has('lf')).toBe(false);
    // ORG defaults to `personal` (as fly-log-shipper), so on Fly only ACCESS_TOKEN is required.
    expect(errorOf({ FLY_APP_NAME: 'lf', HTTP_URL: 'x' }).variable).toBe('ACCESS_TOKEN');
    expect(errorOf({ FLY_APP_NAME: 'lf', ORG: 'a', HTTP_URL: 'x' }).variable).toBe('ACCESS_TOKEN');
    expect(loadConfig({ FLY_APP_NAME: 'lf', ACCESS_TOKEN: 'FlyV1 fm2_t', HTTP_URL: 'x' }, catalogue).nats).toMatchObject({ user: 'personal', pass: 'fm2_t' });
  });

  it('refuses to start on Fly with no sink, naming the secrets to set', () => {
    const e = errorOf({ FLY_APP_NAME: 'lf', ORG: 'a', ACCESS_TOKEN: 't' });
    expect(e.message).toMatch(/HTTP_URL.*LOKI_URL.*AWS_BUCKET/);
  });

  it('accepts IPv6 and several NATS servers, fills in the port, rejects other schemes', () => {
    expect(loadConfig({ NATS_URL: 'nats://[fdaa::3]:4223,nats://[fdaa::4]:4223' }, catalogue).nats.servers).toEqual(['nats://[fdaa::3]:4223', 'nats://[fdaa::4]:4223']);
    expect(loadConfig({ NATS_URL: 'nats://nats.internal, tls://nats.example.com:4443,[fdaa::5],10.0.0.7:4224' }, catalogue).nats.servers).toEqual([
      'nats://nats.internal:4222',
      'tls://nats.example.com:4443',
      'nats://[fdaa::5]:4222',
      'nats://10.0.0.7:4224',
    ]);
    for (const bad of ['ftp://x', 'ws://nats.internal:8080', 'wss://nats.example.com', 'nats://', 'nats://host:99999', 'nats://host:4222/path', 'nats://host?x=1', 'http://host']) {
      const e = errorOf({ NATS_URL: bad });
      expect(e.variable, bad).toBe('NATS_URL');
      expect(e.message, bad).toMatch(/nats:\/\/host:port or tls:\/\/host:port/);
    }
  });

  it('takes the NATS user and password from the URL unless ORG and ACCESS_TOKEN are set', () => {
    const fromUrl = loadConfig({ NATS_URL: 'nats://my-org:fm2_s%40cret%2Ftok@[fdaa::3]:4223,nats://[fdaa::4]:4223' }, catalogue).nats;
    expect(fromUrl).toMatchObject({ user: 'my-org', pass: 'fm2_s@cret/tok', servers: ['nats://[fdaa::3]:4223', 'nats://[fdaa::4]:4223'] });
    const fromEnv = loadConfig({ NATS_URL: 'nats://url-user:url-pass@127.0.0.1', ORG: 'acme', ACCESS_TOKEN: 'FlyV1 fm2_tok' }, catalogue).nats;
    expect(fromEnv).toMatchObject({ user: 'acme', pass: 'fm2_tok', servers: ['nats://127.0.0.1:4222'] });
    expect(loadConfig({}, catalogue).nats).toMatchObject({ user: undefined, pass: undefined });
  });

  it('refuses half or conflicting URL credentials and never echoes a password', () => {
    expect(errorOf({ NATS_URL: 'nats://only-user@127.0.0.1' }).variable).toBe('NATS_URL');
    expect(errorOf({ NATS_URL: 'nats://:hunter2@127.0.0.1' }).message).not.toContain('hunter2');
    const conflicting = errorOf({ NATS_URL: 'nats://a:hunter2@h1,nats://a:hunter3@h2' });
    expect(conflicting.variable).toBe('NATS_URL');
    expect(conflicting.message).not.toMatch(/hunter/);
    for (const bad of ['ws://u:hunter2@host', 'wss://u:hun@ter2@host', 'nats://u:hunter2@host/x', 'u:hun@ter2@host:x']) {
      const e = errorOf({ NATS_URL: bad });
      expect(e.variable, bad).toBe('NATS_URL');
      expect(e.message, bad).not.toMatch(/hun|ter2/);
      expect(String(e.cause ?? ''), bad).not.toMatch(/hun|ter2/);
    }
  });

  it('names the variable and never echoes the token', () => {
    const e = errorOf({ ACCESS_TOKEN: 'super-secret-token', STALL_TIMEOUT: 'soon' });
    expect(e.variable).toBe('STALL_TIMEOUT');
    expect(e.message).not.toContain('super-secret-token');
    // Without ORG the token is the password of the `personal` organisation.
    expect(loadConfig({ ACCESS_TOKEN: 'super-secret-token' }, catalogue).nats).toMatchObject({ user: 'personal', pass: 'super-secret-token' });
  });

  it('collects every problem of one start, one per variable, without secrets', () => {
    const e = errorOf({ FLY_APP_NAME: 'lf', STALL_TIMEOUT: 'soon', METRICS_PORT: '99999', HTTP_URL: 'x', HTTP_BATCH_MAX_ENTRIES: '0', SUBJECT: 'a b' });
    expect(e).toBeInstanceOf(ConfigErrors);
    const problems = (e as ConfigErrors).problems.map((p) => p.variable);
    expect(problems.sort()).toEqual(['ACCESS_TOKEN', 'HTTP_BATCH_MAX_ENTRIES', 'METRICS_PORT', 'STALL_TIMEOUT', 'SUBJECT']);
    expect(e.message.split('\n')).toHaveLength(5);
    // On Fly with neither a token nor a sink: both named.
    const both = errorOf({ FLY_APP_NAME: 'lf', ORG: 'acme' }) as ConfigErrors;
    expect(both.problems.map((p) => p.variable)).toEqual(['ACCESS_TOKEN', 'no sink configured']);
    const secret = errorOf({ FLY_APP_NAME: 'lf', ACCESS_TOKEN: 'FlyV1 fm2_SECRET', HTTP_URL: 'x', LOG_LEVEL: 'loud', RETRY_INITIAL_BACKOFF: 'x' });
    expect(secret.message).not.toContain('fm2_SECRET');
    expect((secret as ConfigErrors).problems).toHaveLength(2);
  });

  it('derives the default buffers from the memory limit, shared by the sinks, and lets the variables override', () => {
    const MiB = 1024 * 1024;
    const vm = { memoryLimit: { bytes: 256 * MiB, source: 'cgroup v2' as const } };
    const one = loadConfig({ HTTP_URL: 'x' }, catalogue, vm);
    expect(one.memory.bufferBudgetBytes).toBe(32 * MiB);
    expect(one.sinks.map((s) => s.settings.bufferMaxBytes)).toEqual([32 * MiB]);
    expect(one.sinks.map((s) => s.ownBuffer)).toEqual([false]);
    // Two sinks draw on the one 32 MiB budget, not on halves of it.
    const two = loadConfig({ HTTP_URL: 'x', DATA_DIR: '/data' }, catalogue, vm);
    expect(two.sinks.map((s) => [s.settings.bufferMaxBytes, s.ownBuffer])).toEqual([[32 * MiB, false], [32 * MiB, false]]);
    const over = loadConfig({ HTTP_URL: 'x', DATA_DIR: '/data', BUFFER_MAX_BYTES: '4MiB', FILE_BUFFER_MAX_BYTES: '2MiB' }, catalogue, vm);
    expect(over.sinks.map((s) => [s.settings.bufferMaxBytes, s.ownBuffer])).toEqual([[4 * MiB, true], [2 * MiB, true]]);
    const onlyFile = loadConfig({ HTTP_URL: 'x', DATA_DIR: '/data', FILE_BUFFER_MAX_BYTES: '2MiB' }, catalogue, vm);
    expect(onlyFile.sinks.map((s) => [s.settings.bufferMaxBytes, s.ownBuffer])).toEqual([[32 * MiB, false], [2 * MiB, true]]);
  });

  it('spools by default under the data directory; SPOOL_DIR=off is memory only', () => {
    expect(loadConfig({}, catalogue).spool).toMatchObject({ dir: resolve('data/spool'), defaultDir: true, maxBytes: undefined, whenFull: 'drop_oldest', fsync: true });
    expect(loadConfig({ DATA_DIR: '/data', HTTP_URL: 'x' }, catalogue).spool).toMatchObject({ dir: '/data/spool', defaultDir: true });
    expect(loadConfig({ SPOOL_DIR: '/var/spool/lf', SPOOL_MAX_BYTES: '1GiB' }, catalogue).spool).toMatchObject({ dir: '/var/spool/lf', defaultDir: false, maxBytes: 1024 ** 3 });
    expect(loadConfig({ SPOOL_DIR: 'off' }, catalogue).spool).toBeUndefined();
  });

  it('reads per-sink pipeline settings with a global buffer fallback', () => {
    const c = loadConfig({ HTTP_URL: 'x', HTTP_BATCH_MAX_ENTRIES: '5', HTTP_BATCH_MAX_AGE: '200ms', BUFFER_MAX_BYTES: '16MiB' }, catalogue);
    expect(c.sinks[0]!.settings).toEqual({ batch: { maxEntries: 5, maxBytes: 1_000_000, maxAgeMs: 200 }, maxInFlight: 2, bufferMaxBytes: 16 * 1024 * 1024 });
    expect(errorOf({ HTTP_URL: 'x', HTTP_BATCH_MAX_ENTRIES: '0' }).variable).toBe('HTTP_BATCH_MAX_ENTRIES');
  });

  it('validates every knob', () => {
    expect(errorOf({ METRICS_PORT: '99999' }).variable).toBe('METRICS_PORT');
    expect(errorOf({ STALL_TIMEOUT: 'soon' }).variable).toBe('STALL_TIMEOUT');
    expect(errorOf({ LOG_LEVEL: 'loud' }).variable).toBe('LOG_LEVEL');
    expect(errorOf({ SUBJECT: 'logs. x' }).variable).toBe('SUBJECT');
    expect(errorOf({ SUBJECT: 'logs.>.x' }).variable).toBe('SUBJECT');
    expect(errorOf({ SHIP_OWN_LOGS: 'perhaps' }).variable).toBe('SHIP_OWN_LOGS');
    expect(errorOf({ RETRY_INITIAL_BACKOFF: '10s', RETRY_MAX_BACKOFF: '1s' }).variable).toBe('RETRY_MAX_BACKOFF');
    expect(errorOf({ NETWORK: 'zz!' }).variable).toBe('NETWORK');
    // Retired settings: any value of an old deployment still starts, and is named for the start-up warning.
    expect(loadConfig({ GZIP_ENCODER: 'zlib' }, catalogue).retiredSettings).toEqual(['GZIP_ENCODER']);
    expect(loadConfig({ GZIP_ENCODER: 'anything' }, catalogue).retiredSettings).toEqual(['GZIP_ENCODER']);
  });

  it('gives each agent a distinct instance id', () => {
    const a = loadConfig({ FLY_MACHINE_ID: '148e272f6e7d89' }, catalogue).agentInstanceId;
    const b = loadConfig({ FLY_MACHINE_ID: '148e272f6e7d89' }, catalogue).agentInstanceId;
    expect(a).toMatch(/^148e272f6e7d89-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
  });
});
