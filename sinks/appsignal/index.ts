// The AppSignal destination: POST <endpoint>/vector/events, bearer push API key, gzip'd JSON
// array of {"log": entry}; batches of at most 100 entries and 450,000 bytes (Vector's defaults
// for this API); start-up check GET <endpoint>/vector/healthcheck, which must answer 2xx.
import { httpRequest } from '../shared/http-request.js';
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { withPath } from '../shared/vendor-config.js';
import { describeAppsignal, readAppsignalConfig, type AppsignalConfig } from './config.js';
import { APPSIGNAL_WRAP } from './encode.js';

export const APPSIGNAL_MAX_ENTRIES = 100;
export const APPSIGNAL_MAX_BYTES = 450_000;

export function appsignalSpec(config: AppsignalConfig): VendorHttpSpec {
  const authorization = `Bearer ${config.pushApiKey}`;
  return {
    kind: 'appsignal',
    url: withPath(config.endpoint, 'vector/events'),
    headers: { authorization },
    format: 'json-array',
    gzip: true,
    wrap: APPSIGNAL_WRAP,
    // A single entry larger than a whole request can never be accepted.
    maxEntryBytes: APPSIGNAL_MAX_BYTES - 2,
    healthcheck: async (pool, signal) => {
      await httpRequest(pool, { url: withPath(config.endpoint, 'vector/healthcheck'), method: 'GET', headers: { authorization, 'user-agent': 'logferry' }, signal, timeoutMs: 10_000 });
    },
  };
}

export const plugin = vendorPlugin<AppsignalConfig>({
  kind: 'appsignal',
  envPrefix: 'APPSIGNAL',
  // maxLineBytes caps the raw size (the API's limit is on the uncompressed body); maxBytes the gzip'd one.
  defaults: vendorDefaults({ maxEntries: APPSIGNAL_MAX_ENTRIES, maxBytes: APPSIGNAL_MAX_BYTES, maxLineBytes: APPSIGNAL_MAX_BYTES - APPSIGNAL_MAX_ENTRIES * 10 }),
  readConfig: readAppsignalConfig,
  describe: describeAppsignal,
  spec: appsignalSpec,
});
