// Honeybadger Insights from fly-log-shipper's secret HONEYBADGER_API_KEY. HONEYBADGER_ENDPOINT
// (logferry's) replaces https://api.honeybadger.io/v1/events, e.g. for a test receiver.
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, shownUrl } from '../shared/vendor-config.js';

export interface HoneybadgerConfig {
  readonly apiKey: string;
  readonly url: URL;
}

export const HONEYBADGER_DEFAULT_URL = 'https://api.honeybadger.io/v1/events';

export function readHoneybadgerConfig(env: EnvReader): HoneybadgerConfig | undefined {
  const apiKey = readSecret(env, 'HONEYBADGER_API_KEY');
  if (apiKey === undefined) {
    requireFor(env, 'HONEYBADGER_API_KEY', ['HONEYBADGER_ENDPOINT']);
    return undefined;
  }
  return { apiKey, url: readEndpoint(env, 'HONEYBADGER_ENDPOINT') ?? new URL(HONEYBADGER_DEFAULT_URL) };
}

export function describeHoneybadger(config: HoneybadgerConfig): string {
  return `honeybadger → ${shownUrl(config.url)} (NDJSON, "ts" as the time field, X-API-Key)`;
}
