// HTTP sink settings from the environment. HTTP_URL and HTTP_TOKEN are fly-log-shipper's
// names; the rest are logferry's. URL, token, password and header values are secrets:
// no error message ever contains them.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';

export type HttpFormat = 'ndjson' | 'json';
export type HttpCompression = 'none' | 'gzip';
export type HttpMethod = 'POST' | 'PUT';

export type HttpAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string };

export interface HttpSinkConfig {
  /** Endpoint without user:password (those become basic auth). */
  readonly url: URL;
  readonly auth: HttpAuth;
  /** Extra request headers, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly format: HttpFormat;
  readonly compression: HttpCompression;
  /** gzip level 1..9. */
  readonly compressionLevel: number;
  readonly method: HttpMethod;
  readonly timeoutMs: number;
}

export const HTTP_DEFAULTS = {
  format: 'ndjson',
  compression: 'none',
  // gzip level 3: the same CPU as level 1 with slightly smaller bodies; level 6 (zlib's and
  // Vector's default) costs 1.5–2.2× the CPU for bodies 4–19 % smaller (npm run bench:codecs,
  // docs/ARCHITECTURE.md "Compression"). At tens of thousands of lines a second the CPU matters more.
  compressionLevel: 3,
  method: 'POST',
  timeoutMs: 30_000,
} as const;

// Variables that only make sense with HTTP_URL; setting one without it is a mistake worth reporting.
const DEPENDENT_VARIABLES = [
  'HTTP_TOKEN', 'HTTP_USERNAME', 'HTTP_PASSWORD', 'HTTP_HEADERS', 'HTTP_FORMAT',
  'HTTP_COMPRESSION', 'HTTP_COMPRESSION_LEVEL', 'HTTP_METHOD', 'HTTP_TIMEOUT',
] as const;

// The sink sets these itself (body framing, encoding, connection handling).
const RESERVED_HEADERS = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);
// RFC 9110 token.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Header values must not smuggle a line break or NUL into the request.
const BAD_VALUE_CHAR = /[\r\n\0]/;

export function readHttpSinkConfig(env: EnvReader): HttpSinkConfig | undefined {
  const parsedUrl = readUrl(env);
  if (parsedUrl === undefined) {
    const stray = DEPENDENT_VARIABLES.find((name) => env.has(name));
    if (stray !== undefined) throw new ConfigError('HTTP_URL', `is required when ${stray} is set`);
    return undefined;
  }
  const url = new URL(parsedUrl.href);
  const urlUser = url.username;
  const urlPassword = url.password;
  url.username = '';
  url.password = '';
  url.hash = '';

  const auth = readAuth(env, urlUser, urlPassword);
  const headers = readHeaders(env, auth);
  return {
    url,
    auth,
    headers,
    format: env.oneOf('HTTP_FORMAT', ['ndjson', 'json'] as const, HTTP_DEFAULTS.format),
    compression: env.oneOf('HTTP_COMPRESSION', ['none', 'gzip'] as const, HTTP_DEFAULTS.compression),
    compressionLevel: env.int('HTTP_COMPRESSION_LEVEL', HTTP_DEFAULTS.compressionLevel, { min: 1, max: 9 }),
    method: env.oneOf('HTTP_METHOD', ['POST', 'PUT'] as const, HTTP_DEFAULTS.method),
    timeoutMs: env.duration('HTTP_TIMEOUT', HTTP_DEFAULTS.timeoutMs, { min: 100, max: 600_000 }),
  };
}

function readUrl(env: EnvReader): URL | undefined {
  try {
    return env.url('HTTP_URL', { secret: true });
  } catch (error) {
    // The URL parser's TypeError (the ConfigError's cause) keeps the input in `input`;
    // an error logger serialising the cause would print the secret. Drop the cause.
    if (error instanceof ConfigError) throw new ConfigError(error.variable, error.message.slice(error.variable.length + 2));
    throw error;
  }
}

function readAuth(env: EnvReader, urlUser: string, urlPassword: string): HttpAuth {
  const token = env.raw('HTTP_TOKEN');
  const username = env.raw('HTTP_USERNAME');
  const password = env.raw('HTTP_PASSWORD');
  const inUrl = urlUser !== '' || urlPassword !== '';

  if (username !== undefined && password === undefined) {
    throw new ConfigError('HTTP_PASSWORD', 'is required when HTTP_USERNAME is set (basic auth needs both)');
  }
  if (password !== undefined && username === undefined) {
    throw new ConfigError('HTTP_USERNAME', 'is required when HTTP_PASSWORD is set (basic auth needs both)');
  }
  const basic = username !== undefined;
  if (token !== undefined && basic) {
    throw new ConfigError('HTTP_TOKEN', 'cannot be combined with HTTP_USERNAME/HTTP_PASSWORD: choose bearer or basic auth');
  }
  if (inUrl && (token !== undefined || basic)) {
    throw new ConfigError('HTTP_URL', `contains user:password credentials and ${token !== undefined ? 'HTTP_TOKEN' : 'HTTP_USERNAME/HTTP_PASSWORD'} is set too: use one`);
  }

  if (token !== undefined) {
    if (BAD_VALUE_CHAR.test(token)) throw new ConfigError('HTTP_TOKEN', 'must not contain line breaks or NUL characters');
    return { kind: 'bearer', token };
  }
  if (basic) return basicAuth(username, password!, 'HTTP_USERNAME', 'HTTP_PASSWORD');
  if (inUrl) {
    let user: string;
    let pass: string;
    try {
      user = decodeURIComponent(urlUser);
      pass = decodeURIComponent(urlPassword);
    } catch {
      throw new ConfigError('HTTP_URL', 'has credentials that are not valid percent-encoding');
    }
    return basicAuth(user, pass, 'HTTP_URL', 'HTTP_URL');
  }
  return { kind: 'none' };
}

function basicAuth(username: string, password: string, userVariable: string, passwordVariable: string): HttpAuth {
  // RFC 7617: the user-id cannot contain a colon.
  if (username.includes(':')) throw new ConfigError(userVariable, 'the basic auth user name must not contain ":"');
  if (BAD_VALUE_CHAR.test(username)) throw new ConfigError(userVariable, 'must not contain line breaks or NUL characters');
  if (BAD_VALUE_CHAR.test(password)) throw new ConfigError(passwordVariable, 'must not contain line breaks or NUL characters');
  return { kind: 'basic', username, password };
}

/**
 * HTTP_HEADERS: a JSON object `{"X-Api-Key":"…"}` or a list `Name=value,Name2=value2`
 * (values containing a comma need the JSON form). Items are named by position, never
 * quoted: a malformed item may be a pasted secret.
 */
function readHeaders(env: EnvReader, auth: HttpAuth): Record<string, string> {
  const text = env.raw('HTTP_HEADERS');
  if (text === undefined) return {};
  const pairs: Array<[string, string]> = [];
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // The parser's message quotes the input; keep it (and the cause) out.
      throw new ConfigError('HTTP_HEADERS', 'is not a valid JSON object; expected {"Name":"value",...} or Name=value,Name2=value2');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError('HTTP_HEADERS', 'expected a JSON object of header names to string values');
    }
    let position = 0;
    for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
      position++;
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new ConfigError('HTTP_HEADERS', `entry ${position}: the value must be a string`);
      }
      pairs.push([name, String(value)]);
    }
  } else {
    const items = text.split(',');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!.trim();
      if (item === '') continue;
      const eq = item.indexOf('=');
      if (eq <= 0) throw new ConfigError('HTTP_HEADERS', `item ${i + 1} is not Name=value (use the JSON object form for values containing a comma)`);
      pairs.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
    }
  }

  const headers: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i++) {
    const [name, value] = pairs[i]!;
    if (!HEADER_NAME.test(name)) throw new ConfigError('HTTP_HEADERS', `item ${i + 1} has an invalid header name`);
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower)) throw new ConfigError('HTTP_HEADERS', `must not set ${name}: the sink sets it`);
    if (lower === 'authorization' && auth.kind !== 'none') {
      throw new ConfigError('HTTP_HEADERS', 'sets Authorization, which HTTP_TOKEN, HTTP_USERNAME or HTTP_URL credentials already set: use one');
    }
    if (Object.hasOwn(headers, lower)) throw new ConfigError('HTTP_HEADERS', `sets ${name} twice`);
    if (BAD_VALUE_CHAR.test(value)) throw new ConfigError('HTTP_HEADERS', `the value of ${name} must not contain line breaks or NUL characters`);
    headers[lower] = value;
  }
  return headers;
}

/** `https://host:port/path (ndjson, gzip, bearer auth)`: no query, no credentials, no header values. */
export function describeHttpSink(config: HttpSinkConfig): string {
  const where = `${config.url.protocol}//${config.url.host}${config.url.pathname}`;
  const details: string[] = [config.format, config.compression === 'gzip' ? `gzip level ${config.compressionLevel}` : 'uncompressed'];
  details.push(config.auth.kind === 'none' ? 'no auth' : `${config.auth.kind} auth`);
  const extra = Object.keys(config.headers).length;
  if (extra > 0) details.push(`${extra} extra header${extra === 1 ? '' : 's'}`);
  if (config.method !== 'POST') details.push(config.method);
  return `http → ${where} (${details.join(', ')})`;
}
