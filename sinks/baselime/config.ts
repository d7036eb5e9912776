// Baselime from fly-log-shipper's secrets BASELIME_API_KEY and BASELIME_DATASET (default flyio).
// BASELIME_ENDPOINT (logferry's) replaces https://events.baselime.io, e.g. for a test receiver.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, shownUrl, withPath } from '../shared/vendor-config.js';

export interface BaselimeConfig {
  readonly apiKey: string;
  readonly dataset: string;
  readonly url: URL;
}

export const BASELIME_DEFAULT_ENDPOINT = 'https://events.baselime.io';

export function readBaselimeConfig(env: EnvReader): BaselimeConfig | undefined {
  const apiKey = readSecret(env, 'BASELIME_API_KEY');
  if (apiKey === undefined) {
    requireFor(env, 'BASELIME_API_KEY', ['BASELIME_DATASET', 'BASELIME_ENDPOINT']);
    return undefined;
  }
  const dataset = env.string('BASELIME_DATASET', 'flyio');
  if (!/^[A-Za-z0-9._-]+$/.test(dataset)) throw new ConfigError('BASELIME_DATASET', `expected a dataset name (letters, digits, ".", "_", "-"), got "${dataset}"`);
  const base = readEndpoint(env, 'BASELIME_ENDPOINT') ?? new URL(BASELIME_DEFAULT_ENDPOINT);
  return { apiKey, dataset, url: withPath(base, `v1/${dataset}`) };
}

export function describeBaselime(config: BaselimeConfig): string {
  return `baselime → ${shownUrl(config.url)} (JSON array, bearer auth)`;
}
