// The SigNoz destination: POST to SIGNOZ_URI (its Vector endpoint), the ingestion key in
// signoz-access-token, a JSON array of the entries as fly-log-shipper sends them.
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeSignoz, readSignozConfig, type SignozConfig } from './config.js';

export function signozSpec(config: SignozConfig): VendorHttpSpec {
  return { kind: 'signoz', url: config.url, headers: { 'signoz-access-token': config.ingestionKey }, format: 'json-array', gzip: false };
}

export const plugin = vendorPlugin<SignozConfig>({
  kind: 'signoz',
  envPrefix: 'SIGNOZ',
  defaults: vendorDefaults({}),
  readConfig: readSignozConfig,
  describe: describeSignoz,
  spec: signozSpec,
});
