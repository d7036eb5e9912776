// LOKI_* configuration, compatible with fly-log-shipper (LOKI_URL, LOKI_USERNAME,
// LOKI_PASSWORD) plus bearer tokens, tenants, label choice, static labels, structured
// metadata and the line format. Secrets never appear in messages or in describe().
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';

/** The labels fly-log-shipper sets, by the same names, so existing dashboards keep working. */
export const DEFAULT_LABELS = ['fly_app_name', 'fly_region', 'fly_app_instance', 'host', 'event_provider', 'level'] as const;
export type LabelField = (typeof DEFAULT_LABELS)[number];

/** Fields that can travel as structured metadata (per line, not indexed, no cardinality cost). */
export const METADATA_FIELDS = [...DEFAULT_LABELS, 'process_group', 'zone'] as const;
export type MetadataField = (typeof METADATA_FIELDS)[number];

/** The entry as Fly sent it (JSON), its message only, or logfmt as fly-log-shipper's OpsVerse sink writes it. */
export type LineFormat = 'json' | 'message' | 'logfmt';
export const LINE_FORMATS: readonly LineFormat[] = ['json', 'message', 'logfmt'];
/** Loki's native push (protobuf + snappy, as Promtail and Vector send it) or its JSON push (+ gzip). */
export type PushFormat = 'protobuf' | 'json';
export const PUSH_FORMATS: readonly PushFormat[] = ['protobuf', 'json'];

export const PUSH_PATH = '/loki/api/v1/push';
// Loki before 2.0 (and some proxies) still take the legacy path; keep it when given.
const LEGACY_PUSH_PATH = '/api/prom/push';

/** Loki's `max_line_size` default (256KB, which Loki parses as KiB). */
export const DEFAULT_MAX_LINE_BYTES = 256 * 1024;

export type LokiAuth =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string };

export interface LokiConfig {
  /** Where batches are POSTed (the documented push path). No credentials in it. */
  readonly pushUrl: URL;
  /** The Loki root, for `/ready`. */
  readonly baseUrl: URL;
  readonly auth: LokiAuth | undefined;
  /** X-Scope-OrgID, for multi-tenant Loki. */
  readonly tenant: string | undefined;
  /** Which of the default labels are sent, in priority order. */
  readonly labels: readonly LabelField[];
  /** Constant labels, in priority order after the dynamic ones. Names are as given (encode sanitises). */
  readonly staticLabels: readonly (readonly [name: string, value: string])[];
  readonly structuredMetadata: readonly MetadataField[];
  readonly lineFormat: LineFormat;
  readonly pushFormat: PushFormat;
  readonly maxLineBytes: number;
  readonly timeoutMs: number;
}

// Visible ASCII only: anything else would be refused by the HTTP client at send time,
// far from the setting that caused it.
const HEADER_SAFE = /^[\x21-\x7e]+$/;

export function pushAndBase(url: URL): { pushUrl: URL; baseUrl: URL } {
  const path = url.pathname.replace(/\/+$/, '');
  const pushUrl = new URL(url.href);
  const baseUrl = new URL(url.href);
  baseUrl.search = '';
  baseUrl.hash = '';
  pushUrl.hash = '';
  if (path.endsWith(PUSH_PATH) || path.endsWith(LEGACY_PUSH_PATH)) {
    pushUrl.pathname = path;
    baseUrl.pathname = path.slice(0, path.length - (path.endsWith(PUSH_PATH) ? PUSH_PATH.length : LEGACY_PUSH_PATH.length));
  } else {
    pushUrl.pathname = path + PUSH_PATH;
    baseUrl.pathname = path;
  }
  if (!baseUrl.pathname.endsWith('/')) baseUrl.pathname += '/';
  return { pushUrl, baseUrl };
}

function readAuth(env: EnvReader, url: URL): LokiAuth | undefined {
  // Grafana Cloud snippets often put the credentials in the URL; accept them, but move
  // them to a header so the URL can be logged.
  let username = env.raw('LOKI_USERNAME');
  let password = env.raw('LOKI_PASSWORD');
  const token = env.raw('LOKI_TOKEN');
  if (url.username !== '' || url.password !== '') {
    if (username !== undefined || password !== undefined || token !== undefined) {
      throw new ConfigError('LOKI_URL', 'carries credentials and LOKI_USERNAME/LOKI_PASSWORD/LOKI_TOKEN is also set; use one of them');
    }
    try {
      username = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch (cause) {
      throw new ConfigError('LOKI_URL', 'has credentials that are not valid percent-encoding', { cause });
    }
    url.username = '';
    url.password = '';
    if (username === '' || password === '') throw new ConfigError('LOKI_URL', 'has credentials without both a user name and a password');
  }
  if (token !== undefined) {
    if (username !== undefined || password !== undefined) {
      throw new ConfigError('LOKI_TOKEN', 'cannot be combined with LOKI_USERNAME/LOKI_PASSWORD; use basic auth or a bearer token, not both');
    }
    if (!HEADER_SAFE.test(token)) throw new ConfigError('LOKI_TOKEN', 'must be printable ASCII without spaces');
    return { kind: 'bearer', token };
  }
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined) throw new ConfigError('LOKI_USERNAME', 'is required when LOKI_PASSWORD is set (Grafana Cloud: the numeric user of the Loki data source)');
  if (password === undefined) throw new ConfigError('LOKI_PASSWORD', 'is required when LOKI_USERNAME is set (Grafana Cloud: an access policy token with logs:write)');
  if (username.includes(':')) throw new ConfigError('LOKI_USERNAME', 'must not contain ":" (basic auth cannot carry it)');
  return { kind: 'basic', username, password };
}

function readLabels(env: EnvReader, metadata: readonly MetadataField[]): LabelField[] {
  const raw = env.raw('LOKI_LABELS');
  if (raw === undefined) {
    // A field moved to structured metadata leaves the default labels: that is the point of moving it.
    return DEFAULT_LABELS.filter((l) => !(metadata as readonly string[]).includes(l));
  }
  if (raw.toLowerCase() === 'none') return [];
  const labels: LabelField[] = [];
  for (const name of env.list('LOKI_LABELS')) {
    const field = DEFAULT_LABELS.find((l) => l === name.toLowerCase());
    if (field === undefined) throw new ConfigError('LOKI_LABELS', `unknown label "${name}"; choose from ${DEFAULT_LABELS.join(', ')} (or "none")`);
    if (labels.includes(field)) throw new ConfigError('LOKI_LABELS', `lists "${field}" twice`);
    if ((metadata as readonly string[]).includes(field)) {
      throw new ConfigError('LOKI_LABELS', `"${field}" is also in LOKI_STRUCTURED_METADATA; send it as one or the other`);
    }
    labels.push(field);
  }
  return labels;
}

function readMetadata(env: EnvReader): MetadataField[] {
  const fields: MetadataField[] = [];
  for (const name of env.list('LOKI_STRUCTURED_METADATA')) {
    const field = METADATA_FIELDS.find((f) => f === name.toLowerCase());
    if (field === undefined) {
      throw new ConfigError('LOKI_STRUCTURED_METADATA', `unknown field "${name}"; choose from ${METADATA_FIELDS.join(', ')}`);
    }
    if (!fields.includes(field)) fields.push(field);
  }
  return fields;
}

function readStaticLabels(env: EnvReader, dynamic: readonly LabelField[]): Array<readonly [string, string]> {
  const pairs: Array<readonly [string, string]> = [];
  for (const item of env.list('LOKI_STATIC_LABELS')) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq).trim();
    const value = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (name === '' || value === '') throw new ConfigError('LOKI_STATIC_LABELS', `expected name=value pairs such as env=prod,team=web; "${item}" is not one`);
    if (pairs.some(([n]) => n === name)) throw new ConfigError('LOKI_STATIC_LABELS', `sets "${name}" twice`);
    if ((dynamic as readonly string[]).includes(name)) {
      throw new ConfigError('LOKI_STATIC_LABELS', `"${name}" is already a label taken from each entry; remove it from LOKI_LABELS or pick another name`);
    }
    pairs.push([name, value]);
  }
  return pairs;
}

export function readLokiConfig(env: EnvReader): LokiConfig | undefined {
  // The URL may hold credentials, so it is never echoed.
  const url = env.url('LOKI_URL', { secret: true });
  if (url === undefined) return undefined;
  const auth = readAuth(env, url);
  const { pushUrl, baseUrl } = pushAndBase(url);

  const tenant = env.raw('LOKI_TENANT');
  if (tenant !== undefined && !HEADER_SAFE.test(tenant)) throw new ConfigError('LOKI_TENANT', 'must be printable ASCII without spaces');

  const structuredMetadata = readMetadata(env);
  const labels = readLabels(env, structuredMetadata);
  const staticLabels = readStaticLabels(env, labels);
  if (labels.length === 0 && staticLabels.length === 0) {
    throw new ConfigError('LOKI_LABELS', 'leaves no label at all; Loki needs at least one (keep one of the defaults or set LOKI_STATIC_LABELS)');
  }

  return {
    pushUrl,
    baseUrl,
    auth,
    tenant,
    labels,
    staticLabels,
    structuredMetadata,
    lineFormat: env.oneOf('LOKI_LINE_FORMAT', LINE_FORMATS, 'json'),
    pushFormat: env.oneOf('LOKI_PUSH_FORMAT', PUSH_FORMATS, 'protobuf'),
    maxLineBytes: env.size('LOKI_MAX_LINE_BYTES', DEFAULT_MAX_LINE_BYTES, { min: 1024, max: 64 * 1024 * 1024 }),
    timeoutMs: env.duration('LOKI_TIMEOUT', 30_000, { min: 100, max: 600_000 }),
  };
}

/**
 * fly-log-shipper's OpsVerse destination (vector-configs/sinks/opsverse.toml): its Loki sink at
 * OPSVERSE_LOGS_ENDPOINT with basic auth (OPSVERSE_USERNAME, OPSVERSE_PASSWORD), gzip, lines
 * as logfmt of the entry with `level` set from `log.level` and a JSON message's fields merged
 * in, and the same six labels. Undefined when OPSVERSE_LOGS_ENDPOINT is not set.
 */
export function readOpsverseConfig(env: EnvReader): LokiConfig | undefined {
  const url = env.url('OPSVERSE_LOGS_ENDPOINT', { secret: true });
  if (url === undefined) {
    for (const name of ['OPSVERSE_USERNAME', 'OPSVERSE_PASSWORD']) {
      if (env.raw(name) !== undefined) throw new ConfigError('OPSVERSE_LOGS_ENDPOINT', `is required when ${name} is set (the Loki endpoint OpsVerse gave you)`);
    }
    return undefined;
  }
  if (url.username !== '' || url.password !== '') throw new ConfigError('OPSVERSE_LOGS_ENDPOINT', 'must not carry credentials; set OPSVERSE_USERNAME and OPSVERSE_PASSWORD');
  const username = env.raw('OPSVERSE_USERNAME');
  const password = env.raw('OPSVERSE_PASSWORD');
  if (username === undefined || username === '') throw new ConfigError('OPSVERSE_USERNAME', 'is required with OPSVERSE_LOGS_ENDPOINT');
  if (password === undefined || password === '') throw new ConfigError('OPSVERSE_PASSWORD', 'is required with OPSVERSE_LOGS_ENDPOINT');
  if (username.includes(':')) throw new ConfigError('OPSVERSE_USERNAME', 'must not contain ":" (basic auth cannot carry it)');
  const { pushUrl, baseUrl } = pushAndBase(url);
  return {
    pushUrl,
    baseUrl,
    auth: { kind: 'basic', username, password },
    tenant: undefined,
    labels: DEFAULT_LABELS,
    staticLabels: [],
    structuredMetadata: [],
    lineFormat: 'logfmt',
    pushFormat: 'json',
    maxLineBytes: DEFAULT_MAX_LINE_BYTES,
    timeoutMs: 30_000,
  };
}

/** The start-up line: where it ships and how, never a credential (nor the query string, which may carry one). */
export function describeLokiConfig(c: LokiConfig): string {
  const auth = c.auth === undefined ? 'no auth' : c.auth.kind === 'basic' ? 'basic auth' : 'bearer token';
  const parts = [
    `${c.pushUrl.origin}${c.pushUrl.pathname}`,
    auth,
    c.tenant === undefined ? undefined : `tenant ${c.tenant}`,
    `labels ${[...c.labels, ...c.staticLabels.map(([n]) => n)].join(',') || 'none'}`,
    c.structuredMetadata.length > 0 ? `structured metadata ${c.structuredMetadata.join(',')}` : undefined,
    `line ${c.lineFormat}`,
    `push ${c.pushFormat === 'protobuf' ? 'protobuf+snappy' : 'json+gzip'}`,
  ];
  return `loki → ${parts.filter((p) => p !== undefined).join(', ')}`;
}
