// Datadog settings: DATADOG_API_KEY and DATADOG_SITE (default datadoghq.com) as
// fly-log-shipper reads them; DATADOG_ENDPOINT is logferry's (a proxy or a test receiver),
// as Vector's `endpoint` option.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, withPath } from '../shared/vendor-config.js';

export interface DatadogConfig {
  readonly apiKey: string;
  readonly site: string;
  /** Logs intake v2. */
  readonly intakeUrl: URL;
  /** The API key check used at start. */
  readonly validateUrl: URL;
}

const SITE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i;

export function readDatadogConfig(env: EnvReader): DatadogConfig | undefined {
  const apiKey = readSecret(env, 'DATADOG_API_KEY');
  if (apiKey === undefined) {
    requireFor(env, 'DATADOG_API_KEY', ['DATADOG_SITE', 'DATADOG_ENDPOINT']);
    return undefined;
  }
  const site = env.string('DATADOG_SITE', 'datadoghq.com').toLowerCase();
  if (!SITE.test(site)) throw new ConfigError('DATADOG_SITE', `expected a Datadog site such as datadoghq.com or datadoghq.eu, got "${site}"`);
  const endpoint = readEndpoint(env, 'DATADOG_ENDPOINT', { bare: true });
  return {
    apiKey,
    site,
    intakeUrl: endpoint ? withPath(endpoint, '/api/v2/logs') : new URL(`https://http-intake.logs.${site}/api/v2/logs`),
    validateUrl: endpoint ? withPath(endpoint, '/api/v1/validate') : new URL(`https://api.${site}/api/v1/validate`),
  };
}

export function describeDatadog(c: DatadogConfig): string {
  return `datadog → ${c.intakeUrl.protocol}//${c.intakeUrl.host}${c.intakeUrl.pathname} (site ${c.site}, gzip)`;
}
