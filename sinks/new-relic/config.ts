// New Relic settings, as fly-log-shipper reads them: NEW_RELIC_LICENSE_KEY or
// NEW_RELIC_INSERT_KEY (the license key wins when both are set, as New Relic recommends),
// NEW_RELIC_REGION (us or eu, default us) and NEW_RELIC_ACCOUNT_ID (read and checked; the
// Log API itself does not use it). NEW_RELIC_ENDPOINT is logferry's (FedRAMP, proxies, tests).
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, withPath } from '../shared/vendor-config.js';

export type NewRelicKey = { readonly kind: 'license' | 'insert'; readonly value: string };

export interface NewRelicConfig {
  readonly key: NewRelicKey;
  readonly region: 'us' | 'eu';
  readonly accountId: string | undefined;
  readonly url: URL;
}

const REGION_URLS = { us: 'https://log-api.newrelic.com/log/v1', eu: 'https://log-api.eu.newrelic.com/log/v1' } as const;

export function readNewRelicConfig(env: EnvReader): NewRelicConfig | undefined {
  const license = readSecret(env, 'NEW_RELIC_LICENSE_KEY');
  const insert = readSecret(env, 'NEW_RELIC_INSERT_KEY');
  if (license === undefined && insert === undefined) {
    requireFor(env, 'NEW_RELIC_LICENSE_KEY', ['NEW_RELIC_REGION', 'NEW_RELIC_ACCOUNT_ID', 'NEW_RELIC_ENDPOINT']);
    return undefined;
  }
  const region = env.oneOf('NEW_RELIC_REGION', ['us', 'eu'] as const, 'us');
  const accountId = env.raw('NEW_RELIC_ACCOUNT_ID');
  if (accountId !== undefined && !/^\d+$/.test(accountId)) throw new ConfigError('NEW_RELIC_ACCOUNT_ID', 'expected the numeric New Relic account id');
  const endpoint = readEndpoint(env, 'NEW_RELIC_ENDPOINT', { bare: true });
  return {
    key: license !== undefined ? { kind: 'license', value: license } : { kind: 'insert', value: insert! },
    region,
    accountId,
    url: endpoint ? withPath(endpoint, '/log/v1') : new URL(REGION_URLS[region]),
  };
}

export function describeNewRelic(c: NewRelicConfig): string {
  return `new_relic → ${c.url.protocol}//${c.url.host}${c.url.pathname} (region ${c.region}, ${c.key.kind} key, gzip)`;
}
