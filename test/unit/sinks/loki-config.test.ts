import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { EnvReader, type Env } from '../../../src/config/env.js';
import { DEFAULT_LABELS, describeLokiConfig, readLokiConfig, readOpsverseConfig, type LokiConfig } from '../../../sinks/loki/config.js';
import { plugin as opsverse } from '../../../sinks/opsverse/index.js';
import { plugin } from '../../../sinks/loki/index.js';
import { parseIgnoredCount } from '../../../sinks/loki/sink.js';
import { configErrorOf, configured } from '../../support/config-error.js';

const SECRET = 's3cr3t-Pa55';

function read(env: Env): LokiConfig | undefined {
  return readLokiConfig(new EnvReader(env));
}

function must(env: Env): LokiConfig {
  return configured(read(env));
}

/** The ConfigError a config throws; fails when it does not throw. */
function configError(env: Env): ConfigError {
  return configErrorOf(() => read(env));
}

describe('Loki config', () => {
  it('is off without LOKI_URL', () => {
    expect(read({})).toBeUndefined();
    expect(read({ LOKI_USERNAME: 'u', LOKI_PASSWORD: 'p' })).toBeUndefined();
  });

  it('appends the push path to a base URL and keeps a full push URL', () => {
    const base = must({ LOKI_URL: 'http://loki.internal:3100' });
    expect(base.pushUrl.href).toBe('http://loki.internal:3100/loki/api/v1/push');
    expect(base.baseUrl.href).toBe('http://loki.internal:3100/');
    const slash = must({ LOKI_URL: 'https://logs-prod-eu-west-0.grafana.net/' });
    expect(slash.pushUrl.href).toBe('https://logs-prod-eu-west-0.grafana.net/loki/api/v1/push');
    const full = must({ LOKI_URL: 'https://gw.example.com/tenant-a/loki/api/v1/push' });
    expect(full.pushUrl.href).toBe('https://gw.example.com/tenant-a/loki/api/v1/push');
    expect(full.baseUrl.href).toBe('https://gw.example.com/tenant-a/');
    const prefixed = must({ LOKI_URL: 'https://gw.example.com/loki-gw' });
    expect(prefixed.pushUrl.pathname).toBe('/loki-gw/loki/api/v1/push');
    expect(prefixed.baseUrl.pathname).toBe('/loki-gw/');
    const legacy = must({ LOKI_URL: 'http://old-loki:3100/api/prom/push' });
    expect(legacy.pushUrl.pathname).toBe('/api/prom/push');
    // IPv6 on Fly's private network.
    expect(must({ LOKI_URL: 'http://[fdaa:0:1::3]:3100' }).pushUrl.href).toBe('http://[fdaa:0:1::3]:3100/loki/api/v1/push');
  });

  it('reads fly-log-shipper style basic auth', () => {
    const c = must({ LOKI_URL: 'https://logs.example.com', LOKI_USERNAME: '123456', LOKI_PASSWORD: SECRET });
    expect(c.auth).toEqual({ kind: 'basic', username: '123456', password: SECRET });
  });

  it('moves credentials out of the URL', () => {
    const c = must({ LOKI_URL: `https://123456:${encodeURIComponent(SECRET)}@logs.example.com` });
    expect(c.auth).toEqual({ kind: 'basic', username: '123456', password: SECRET });
    expect(c.pushUrl.href).toBe('https://logs.example.com/loki/api/v1/push');
    expect(describeLokiConfig(c)).not.toContain(SECRET);
    const both = configError({ LOKI_URL: `https://u:${SECRET}@logs.example.com`, LOKI_PASSWORD: 'x' });
    expect(both.variable).toBe('LOKI_URL');
    expect(both.message).not.toContain(SECRET);
  });

  it('reads a bearer token and a tenant', () => {
    const c = must({ LOKI_URL: 'http://loki:3100', LOKI_TOKEN: SECRET, LOKI_TENANT: 'team-a' });
    expect(c.auth).toEqual({ kind: 'bearer', token: SECRET });
    expect(c.tenant).toBe('team-a');
  });

  it('refuses half or double auth, naming the variable and never the secret', () => {
    const cases: Array<[Env, string]> = [
      [{ LOKI_URL: 'http://loki', LOKI_USERNAME: 'u' }, 'LOKI_PASSWORD'],
      [{ LOKI_URL: 'http://loki', LOKI_PASSWORD: SECRET }, 'LOKI_USERNAME'],
      [{ LOKI_URL: 'http://loki', LOKI_USERNAME: 'u', LOKI_PASSWORD: SECRET, LOKI_TOKEN: SECRET }, 'LOKI_TOKEN'],
      [{ LOKI_URL: 'http://loki', LOKI_TOKEN: `${SECRET} with space` }, 'LOKI_TOKEN'],
      [{ LOKI_URL: 'http://loki', LOKI_TENANT: 'a b' }, 'LOKI_TENANT'],
      [{ LOKI_URL: `ftp://u:${SECRET}@loki` }, 'LOKI_URL'],
      [{ LOKI_URL: `not a url ${SECRET}` }, 'LOKI_URL'],
    ];
    for (const [env, variable] of cases) {
      const e = configError(env);
      expect(e.variable, JSON.stringify(Object.keys(env))).toBe(variable);
      expect(e.message).not.toContain(SECRET);
    }
  });

  it('sends every fly-log-shipper label by default', () => {
    const c = must({ LOKI_URL: 'http://loki' });
    expect(c.labels).toEqual(['fly_app_name', 'fly_region', 'fly_app_instance', 'host', 'event_provider', 'level']);
    expect(c.labels).toEqual([...DEFAULT_LABELS]);
    expect(c.staticLabels).toEqual([]);
    expect(c.structuredMetadata).toEqual([]);
    expect(c.lineFormat).toBe('json');
    expect(c.maxLineBytes).toBe(262_144);
  });

  it('chooses labels, adds static ones, and moves fields to structured metadata', () => {
    const c = must({ LOKI_URL: 'http://loki', LOKI_LABELS: 'fly_app_name, level', LOKI_STATIC_LABELS: 'env=prod, team=web' });
    expect(c.labels).toEqual(['fly_app_name', 'level']);
    expect(c.staticLabels).toEqual([['env', 'prod'], ['team', 'web']]);
    const m = must({ LOKI_URL: 'http://loki', LOKI_STRUCTURED_METADATA: 'fly_app_instance,process_group,zone' });
    expect(m.structuredMetadata).toEqual(['fly_app_instance', 'process_group', 'zone']);
    // Moved, not duplicated: the default labels lose the field.
    expect(m.labels).toEqual(['fly_app_name', 'fly_region', 'host', 'event_provider', 'level']);
    expect(must({ LOKI_URL: 'http://loki', LOKI_LABELS: 'none', LOKI_STATIC_LABELS: 'job=fly' }).labels).toEqual([]);
  });

  it('refuses label settings that cannot work', () => {
    const cases: Array<[Env, string, RegExp]> = [
      [{ LOKI_LABELS: 'fly_app_name,pod' }, 'LOKI_LABELS', /unknown label "pod"/],
      [{ LOKI_LABELS: 'level,level' }, 'LOKI_LABELS', /twice/],
      [{ LOKI_LABELS: 'none' }, 'LOKI_LABELS', /at least one/],
      [{ LOKI_LABELS: 'fly_app_instance', LOKI_STRUCTURED_METADATA: 'fly_app_instance' }, 'LOKI_LABELS', /one or the other/],
      [{ LOKI_STRUCTURED_METADATA: 'trace_id' }, 'LOKI_STRUCTURED_METADATA', /unknown field/],
      [{ LOKI_STATIC_LABELS: 'env' }, 'LOKI_STATIC_LABELS', /name=value/],
      [{ LOKI_STATIC_LABELS: 'env=' }, 'LOKI_STATIC_LABELS', /name=value/],
      [{ LOKI_STATIC_LABELS: 'env=a,env=b' }, 'LOKI_STATIC_LABELS', /twice/],
      [{ LOKI_STATIC_LABELS: 'level=high' }, 'LOKI_STATIC_LABELS', /already a label/],
      [{ LOKI_LINE_FORMAT: 'yaml' }, 'LOKI_LINE_FORMAT', /json, message, logfmt/],
      [{ LOKI_PUSH_FORMAT: 'msgpack' }, 'LOKI_PUSH_FORMAT', /protobuf, json/],
      [{ LOKI_MAX_LINE_BYTES: '12' }, 'LOKI_MAX_LINE_BYTES', /at least/],
    ];
    for (const [env, variable, message] of cases) {
      const e = configError({ LOKI_URL: 'http://loki', ...env });
      expect(e.variable, JSON.stringify(env)).toBe(variable);
      expect(e.message).toMatch(message);
    }
  });

  it('describes where and how it ships without any secret', () => {
    const basic = must({ LOKI_URL: 'https://logs.example.com/?key=querysecret', LOKI_USERNAME: '123', LOKI_PASSWORD: SECRET, LOKI_TENANT: 'org-1' });
    const line = describeLokiConfig(basic);
    expect(line).toBe(
      'loki → https://logs.example.com/loki/api/v1/push, basic auth, tenant org-1, labels fly_app_name,fly_region,fly_app_instance,host,event_provider,level, line json, push protobuf+snappy',
    );
    expect(line).not.toContain(SECRET);
    expect(line).not.toContain('querysecret');
    const bearer = describeLokiConfig(must({ LOKI_URL: 'http://loki:3100', LOKI_TOKEN: SECRET, LOKI_LABELS: 'fly_app_name', LOKI_STATIC_LABELS: 'env=prod', LOKI_STRUCTURED_METADATA: 'zone', LOKI_LINE_FORMAT: 'message', LOKI_PUSH_FORMAT: 'JSON' }));
    expect(bearer).toBe('loki → http://loki:3100/loki/api/v1/push, bearer token, labels fly_app_name,env, structured metadata zone, line message, push json+gzip');
    expect(bearer).toBe(describeLokiConfig({ ...must({ LOKI_URL: 'http://loki:3100', LOKI_TOKEN: SECRET, LOKI_LABELS: 'fly_app_name', LOKI_STATIC_LABELS: 'env=prod', LOKI_STRUCTURED_METADATA: 'zone', LOKI_LINE_FORMAT: 'message' }), pushFormat: 'json' }));
  });

  it('is a plugin with the Loki defaults', () => {
    expect(plugin.kind).toBe('loki');
    expect(plugin.envPrefix).toBe('LOKI');
    expect(plugin.defaults).toEqual({ batch: { maxEntries: 10_000, maxBytes: 1024 * 1024, maxAgeMs: 1000, maxLineBytes: 1024 * 1024 }, maxInFlight: 4, bufferMaxBytes: 16 * 1024 * 1024 });
    expect(plugin.readConfig(new EnvReader({}))).toBeUndefined();
  });
});

describe("Loki's partial rejection message", () => {
  it('sums "total ignored" over the streams named', () => {
    const body = [
      "entry with timestamp 2022-09-27 20:34:37.253080674 +0000 UTC ignored, reason: 'entry too far behind' for stream: {fly_app_name=\"a\"},",
      "user 'fake', total ignored: 2 out of 5 for stream: {fly_app_name=\"a\"}",
      "user 'fake', total ignored: 3 out of 3 for stream: {fly_app_name=\"b\"}",
    ].join('\n');
    expect(parseIgnoredCount(body)).toBe(5);
    // Loki before 2.4 ended with just the totals.
    expect(parseIgnoredCount("entry ... ignored, reason: 'entry out of order' for stream: {job=\"x\"},\ntotal ignored: 1 out of 1")).toBe(1);
    expect(parseIgnoredCount("entry for stream '{a=\"b\"}' has timestamp too old")).toBeUndefined();
  });
});

describe('OpsVerse (fly-log-shipper vector-configs/sinks/opsverse.toml)', () => {
  const env = { OPSVERSE_LOGS_ENDPOINT: 'https://loki.opsverse.example/', OPSVERSE_USERNAME: 'ops-user', OPSVERSE_PASSWORD: SECRET };

  it('is off without OPSVERSE_LOGS_ENDPOINT, and the Loki sink with logfmt lines, gzip JSON and basic auth with it', () => {
    expect(readOpsverseConfig(new EnvReader({}))).toBeUndefined();
    const c = configured(readOpsverseConfig(new EnvReader(env)));
    expect(c.pushUrl.href).toBe('https://loki.opsverse.example/loki/api/v1/push');
    expect(c.auth).toEqual({ kind: 'basic', username: 'ops-user', password: SECRET });
    expect(c.lineFormat).toBe('logfmt');
    expect(c.pushFormat).toBe('json');
    expect(c.labels).toEqual(DEFAULT_LABELS);
    expect(opsverse.describe(c)).toMatch(/^opsverse → https:\/\/loki\.opsverse\.example\/loki\/api\/v1\/push, basic auth, .*line logfmt, push json\+gzip$/);
    expect(opsverse.describe(c)).not.toContain(SECRET);
  });

  it('missing or malformed secrets name the variable and never the secret', () => {
    const cases: Array<[Env, string]> = [
      [{ ...env, OPSVERSE_PASSWORD: undefined }, 'OPSVERSE_PASSWORD'],
      [{ ...env, OPSVERSE_USERNAME: undefined }, 'OPSVERSE_USERNAME'],
      [{ OPSVERSE_PASSWORD: SECRET }, 'OPSVERSE_LOGS_ENDPOINT'],
      [{ ...env, OPSVERSE_LOGS_ENDPOINT: `not a url ${SECRET}` }, 'OPSVERSE_LOGS_ENDPOINT'],
      [{ ...env, OPSVERSE_LOGS_ENDPOINT: `https://u:${SECRET}@loki.opsverse.example` }, 'OPSVERSE_LOGS_ENDPOINT'],
      [{ ...env, OPSVERSE_USERNAME: 'a:b' }, 'OPSVERSE_USERNAME'],
    ];
    for (const [e, variable] of cases) {
      const error = configErrorOf(() => readOpsverseConfig(new EnvReader(Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as Env)));
      expect(error.variable).toBe(variable);
      expect(error.message).not.toContain(SECRET);
    }
  });

  it('LOKI_LINE_FORMAT takes logfmt', () => {
    expect(must({ LOKI_URL: 'http://loki:3100', LOKI_LINE_FORMAT: 'logfmt' }).lineFormat).toBe('logfmt');
    expect(configError({ LOKI_URL: 'http://loki:3100', LOKI_LINE_FORMAT: 'xml' }).variable).toBe('LOKI_LINE_FORMAT');
  });
});
