// The config readers every vendor destination uses: a secret (never echoed), an endpoint
// override, "this variable needs that one", and the URL / header helpers built from them.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';

// A key or token is one printable word: a space, line break or control character is a paste
// mistake, and would break the header or URL it goes into.
const TOKEN = /^[\x21-\x7e]+$/;

/** A secret token; undefined when unset. Malformed values are named, never shown. */
export function readSecret(env: EnvReader, name: string): string | undefined {
  const value = env.raw(name);
  if (value === undefined) return undefined;
  if (!TOKEN.test(value)) throw new ConfigError(name, 'must be a single token of printable characters, without spaces or line breaks (value not shown)');
  return value;
}

/** A required companion secret, named in the error with the secret that needs it. */
export function requireSecret(env: EnvReader, name: string, neededBy: string, what: string): string {
  const value = readSecret(env, name);
  if (value === undefined) throw new ConfigError(name, `is required when ${neededBy} is set: ${what}`);
  return value;
}

/** `name` is unset but one of `dependents` is set: a half-configured destination is a mistake worth stopping for. */
export function requireFor(env: EnvReader, name: string, dependents: readonly string[]): void {
  const stray = dependents.find((d) => env.has(d));
  if (stray !== undefined) throw new ConfigError(name, `is required when ${stray} is set`);
}

/**
 * An endpoint URL (http or https); undefined when unset. The value may hold credentials or a
 * token in the query, so it is never quoted and the parser's error (which keeps the input) is
 * not kept. `bare`: a base URL to append API paths to, so credentials are refused and query,
 * fragment and a trailing '/' dropped.
 */
export function readEndpoint(env: EnvReader, name: string, options: { readonly bare?: boolean } = {}): URL | undefined {
  if (options.bare) return readBaseUrl(env, name);
  const value = env.raw(name);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, 'expected a URL such as https://host/path');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(name, 'expected an http or https URL');
  return url;
}

function readBaseUrl(env: EnvReader, name: string): URL | undefined {
  let url: URL | undefined;
  try {
    url = env.url(name, { secret: true });
  } catch (error) {
    // The URL parser's error (the cause) carries the input; keep it out.
    if (error instanceof ConfigError) throw new ConfigError(error.variable, error.message.slice(error.variable.length + 2));
    throw error;
  }
  if (url === undefined) return undefined;
  if (url.username !== '' || url.password !== '') throw new ConfigError(name, 'must not contain user:password (use the destination\'s key secrets)');
  url.hash = '';
  url.search = '';
  if (url.pathname.endsWith('/')) url.pathname = url.pathname.slice(0, -1);
  return url;
}

/** `https://host/path` of a URL, for the start-up log: no credentials, no query. */
export function shownUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** A base URL with `path` appended (one slash between them), keeping its query. */
export function withPath(base: URL, path: string): URL {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return url;
}

/** `Basic base64(user:password)`. */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}
