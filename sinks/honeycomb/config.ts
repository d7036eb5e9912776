// Honeycomb settings: HONEYCOMB_API_KEY and HONEYCOMB_DATASET as fly-log-shipper reads
// them; HONEYCOMB_ENDPOINT is logferry's (EU: https://api.eu1.honeycomb.io; tests), as
// Vector's `endpoint` option (default https://api.honeycomb.io).
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, withPath } from '../shared/vendor-config.js';

export interface HoneycombConfig {
  readonly apiKey: string;
  readonly dataset: string;
  readonly batchUrl: URL;
  readonly authUrl: URL;
}

export function readHoneycombConfig(env: EnvReader): HoneycombConfig | undefined {
  const apiKey = readSecret(env, 'HONEYCOMB_API_KEY');
  if (apiKey === undefined) {
    requireFor(env, 'HONEYCOMB_API_KEY', ['HONEYCOMB_DATASET', 'HONEYCOMB_ENDPOINT']);
    return undefined;
  }
  const dataset = env.required('HONEYCOMB_DATASET', 'the Honeycomb dataset to send to');
  if (/[\x00-\x1f]/.test(dataset)) throw new ConfigError('HONEYCOMB_DATASET', 'must not contain control characters');
  const base = readEndpoint(env, 'HONEYCOMB_ENDPOINT', { bare: true }) ?? new URL('https://api.honeycomb.io');
  return {
    apiKey,
    dataset,
    // The dataset is one path segment: percent-encode it whole (a '/' in a name included).
    batchUrl: withPath(base, `/1/batch/${encodeURIComponent(dataset)}`),
    authUrl: withPath(base, '/1/auth'),
  };
}

export function describeHoneycomb(c: HoneycombConfig): string {
  return `honeycomb → ${c.batchUrl.protocol}//${c.batchUrl.host}/1/batch (dataset ${c.dataset}, gzip)`;
}
