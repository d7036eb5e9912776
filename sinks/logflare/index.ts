// The Logflare destination: POST /logs/vector?source=<token>, X-API-Key, a JSON array of the
// entries with `level` copied from log.level, uncompressed (as fly-log-shipper sends it).
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeLogflare, readLogflareConfig, type LogflareConfig } from './config.js';
import { logflareLine } from './encode.js';

export function logflareSpec(config: LogflareConfig): VendorHttpSpec {
  return { kind: 'logflare', url: config.url, headers: { 'x-api-key': config.apiKey }, format: 'json-array', gzip: false, mapLine: logflareLine };
}

export const plugin = vendorPlugin<LogflareConfig>({
  kind: 'logflare',
  envPrefix: 'LOGFLARE',
  defaults: vendorDefaults({}),
  readConfig: readLogflareConfig,
  describe: describeLogflare,
  spec: logflareSpec,
});
