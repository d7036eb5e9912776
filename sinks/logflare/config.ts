// Logflare from fly-log-shipper's secrets LOGFLARE_API_KEY and LOGFLARE_SOURCE_TOKEN (both are
// needed, as there). LOGFLARE_ENDPOINT (logferry's) replaces https://api.logflare.app.
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, requireSecret, shownUrl, withPath } from '../shared/vendor-config.js';

export interface LogflareConfig {
  readonly apiKey: string;
  readonly sourceToken: string;
  /** `<endpoint>/logs/vector?source=<token>`. */
  readonly url: URL;
}

export const LOGFLARE_DEFAULT_ENDPOINT = 'https://api.logflare.app';

export function readLogflareConfig(env: EnvReader): LogflareConfig | undefined {
  const apiKey = readSecret(env, 'LOGFLARE_API_KEY');
  if (apiKey === undefined) {
    requireFor(env, 'LOGFLARE_API_KEY', ['LOGFLARE_SOURCE_TOKEN', 'LOGFLARE_ENDPOINT']);
    return undefined;
  }
  const sourceToken = requireSecret(env, 'LOGFLARE_SOURCE_TOKEN', 'LOGFLARE_API_KEY', 'the source\'s uuid from the Logflare dashboard');
  const url = withPath(readEndpoint(env, 'LOGFLARE_ENDPOINT') ?? new URL(LOGFLARE_DEFAULT_ENDPOINT), 'logs/vector');
  url.searchParams.set('source', sourceToken);
  return { apiKey, sourceToken, url };
}

export function describeLogflare(config: LogflareConfig): string {
  return `logflare → ${shownUrl(config.url)} (JSON array, "level" from log.level, X-API-Key)`;
}
