// The LogDNA / Mezmo destination: POST /logs/ingest?hostname=<instance>&now=<ms>, basic auth
// with the API key as user, {"lines":[…]} (see encode.ts). Batches are per Fly instance, since
// the hostname is per request. Start-up check (as Vector's): an empty POST that must not
// answer 401/403 or 5xx.
import { requestHealthcheck, vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { basicAuthorization, withPath } from '../shared/vendor-config.js';
import { describeLogdna, readLogdnaConfig, type LogdnaConfig } from './config.js';
import { logdnaBody, logdnaLine } from './encode.js';

export function logdnaSpec(config: LogdnaConfig): VendorHttpSpec {
  const ingest = withPath(config.endpoint, 'logs/ingest');
  const authorization = basicAuthorization(config.apiKey, '');
  return {
    kind: 'logdna',
    url: (batch) => {
      const url = new URL(ingest.href);
      url.searchParams.set('hostname', batch.partition === '' ? 'fly' : batch.partition);
      url.searchParams.set('now', String(Date.now()));
      return url;
    },
    headers: { authorization },
    format: { custom: logdnaBody, contentType: 'application/json' },
    gzip: false,
    mapLine: logdnaLine,
    partitionKey: (entry) => entry.instance,
    healthcheck: (pool, signal) => requestHealthcheck(pool, signal, { url: ingest, method: 'POST', headers: { authorization, 'content-type': 'application/json', 'user-agent': 'logferry' } }),
  };
}

export const plugin = vendorPlugin<LogdnaConfig>({
  kind: 'logdna',
  envPrefix: 'LOGDNA',
  defaults: vendorDefaults({}),
  readConfig: readLogdnaConfig,
  describe: describeLogdna,
  spec: logdnaSpec,
});
