// The Baselime destination: POST /v1/<dataset>, bearer API key, a JSON array of the entries as
// fly-log-shipper sends them. Start-up check: a connection to the host.
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeBaselime, readBaselimeConfig, type BaselimeConfig } from './config.js';

export function baselimeSpec(config: BaselimeConfig): VendorHttpSpec {
  return { kind: 'baselime', url: config.url, headers: { authorization: `Bearer ${config.apiKey}` }, format: 'json-array', gzip: false };
}

export const plugin = vendorPlugin<BaselimeConfig>({
  kind: 'baselime',
  envPrefix: 'BASELIME',
  defaults: vendorDefaults({}),
  readConfig: readBaselimeConfig,
  describe: describeBaselime,
  spec: baselimeSpec,
});
