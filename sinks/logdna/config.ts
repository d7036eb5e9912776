// LogDNA / Mezmo from fly-log-shipper's secret LOGDNA_API_KEY (Vector's `logdna` sink, with
// hostname = the Fly instance). LOGDNA_ENDPOINT (logferry's) replaces https://logs.mezmo.com.
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, shownUrl } from '../shared/vendor-config.js';

export interface LogdnaConfig {
  readonly apiKey: string;
  /** Base URL; batches go to `<endpoint>/logs/ingest`. */
  readonly endpoint: URL;
}

export const LOGDNA_DEFAULT_ENDPOINT = 'https://logs.mezmo.com';

export function readLogdnaConfig(env: EnvReader): LogdnaConfig | undefined {
  const apiKey = readSecret(env, 'LOGDNA_API_KEY');
  if (apiKey === undefined) {
    requireFor(env, 'LOGDNA_API_KEY', ['LOGDNA_ENDPOINT']);
    return undefined;
  }
  return { apiKey, endpoint: readEndpoint(env, 'LOGDNA_ENDPOINT') ?? new URL(LOGDNA_DEFAULT_ENDPOINT) };
}

export function describeLogdna(config: LogdnaConfig): string {
  return `logdna → ${shownUrl(config.endpoint)} (/logs/ingest, one request per Fly instance as hostname, basic auth)`;
}
