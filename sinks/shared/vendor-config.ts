// Config readers the vendor destinations share: a secret token (never echoed), an endpoint
// override, and "this variable needs that one". (Branch g-dest-vendors.)
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';

// A key or token is one printable word: a space, line break or control character is a paste mistake.
const TOKEN = /^[\x21-\x7e]+$/;

/** A secret token; undefined when unset. Malformed values are named, never shown. */
export function readToken(env: EnvReader, name: string): string | undefined {
  const v = env.raw(name);
  if (v === undefined) return undefined;
  if (!TOKEN.test(v)) throw new ConfigError(name, 'must be a single token of printable characters, without spaces or line breaks (value not shown)');
  return v;
}

/** `name` is unset but one of `dependents` is set: a half-configured destination is a mistake worth stopping for. */
export function requireFor(env: EnvReader, name: string, dependents: readonly string[]): void {
  const stray = dependents.find((d) => env.has(d));
  if (stray !== undefined) throw new ConfigError(name, `is required when ${stray} is set`);
}

/** An optional http(s) base URL (tests, proxies, private endpoints); credentials are refused, trailing '/' dropped. */
export function readEndpoint(env: EnvReader, name: string): URL | undefined {
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

/** `base` + `path` (base without a trailing slash). */
export function joinUrl(base: URL, path: string): URL {
  const u = new URL(base.href);
  u.pathname = `${u.pathname.replace(/\/$/, '')}${path}`;
  return u;
}

/** Where a URL points, without query or credentials (for describe()). */
export function where(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
