// OpenObserve from fly-log-shipper's secrets OPENOBSERVE_URI (the stream's _json URL, e.g.
// https://api.openobserve.ai/api/<org>/<stream>/_json), OPENOBSERVE_USER, OPENOBSERVE_PASSWORD.
import type { EnvReader } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';
import { readEndpoint, requireFor, shownUrl } from '../shared/vendor-config.js';

export interface OpenobserveConfig {
  readonly url: URL;
  readonly user: string;
  readonly password: string;
}

export function readOpenobserveConfig(env: EnvReader): OpenobserveConfig | undefined {
  const url = readEndpoint(env, 'OPENOBSERVE_URI');
  if (url === undefined) {
    requireFor(env, 'OPENOBSERVE_URI', ['OPENOBSERVE_USER', 'OPENOBSERVE_PASSWORD']);
    return undefined;
  }
  const user = env.raw('OPENOBSERVE_USER');
  const password = env.raw('OPENOBSERVE_PASSWORD');
  if (user === undefined) throw new ConfigError('OPENOBSERVE_USER', 'is required when OPENOBSERVE_URI is set: the user (e-mail) for basic auth');
  if (password === undefined) throw new ConfigError('OPENOBSERVE_PASSWORD', 'is required when OPENOBSERVE_URI is set: the password or ingestion token for basic auth');
  // RFC 7617: the user-id cannot contain a colon; neither may smuggle a line break into the header.
  if (user.includes(':') || /[\r\n\0]/.test(user)) throw new ConfigError('OPENOBSERVE_USER', 'must not contain ":", line breaks or NUL characters');
  if (/[\r\n\0]/.test(password)) throw new ConfigError('OPENOBSERVE_PASSWORD', 'must not contain line breaks or NUL characters');
  return { url, user, password };
}

export function describeOpenobserve(config: OpenobserveConfig): string {
  return `openobserve → ${shownUrl(config.url)} (JSON array, gzip, basic auth)`;
}
