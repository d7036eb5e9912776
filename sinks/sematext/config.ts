// Sematext settings, as fly-log-shipper reads them: SEMATEXT_REGION (us or eu, required as
// Vector requires it) and SEMATEXT_TOKEN (the Logs App token, which is the index).
// SEMATEXT_ENDPOINT is logferry's (proxies, tests), as Vector's `endpoint`.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { BULK_FILTER_PATH } from '../shared/es-bulk.js';
import { readEndpoint, readSecret, requireFor, withPath } from '../shared/vendor-config.js';

export interface SematextConfig {
  readonly region: 'us' | 'eu';
  readonly token: string;
  readonly bulkUrl: URL;
}

const RECEIVERS = { us: 'https://logsene-receiver.sematext.com', eu: 'https://logsene-receiver.eu.sematext.com' } as const;

export function readSematextConfig(env: EnvReader): SematextConfig | undefined {
  const token = readSecret(env, 'SEMATEXT_TOKEN');
  if (token === undefined) {
    requireFor(env, 'SEMATEXT_TOKEN', ['SEMATEXT_REGION', 'SEMATEXT_ENDPOINT']);
    return undefined;
  }
  if (!env.has('SEMATEXT_REGION')) throw new ConfigError('SEMATEXT_REGION', 'is required: us or eu (where your Sematext account is)');
  const region = env.oneOf('SEMATEXT_REGION', ['us', 'eu'] as const, 'us');
  const bulkUrl = withPath(readEndpoint(env, 'SEMATEXT_ENDPOINT', { bare: true }) ?? new URL(RECEIVERS[region]), '/_bulk');
  bulkUrl.searchParams.set('filter_path', BULK_FILTER_PATH);
  return { region, token, bulkUrl };
}

export function describeSematext(c: SematextConfig): string {
  return `sematext → ${c.bulkUrl.protocol}//${c.bulkUrl.host}${c.bulkUrl.pathname} (region ${c.region})`;
}
