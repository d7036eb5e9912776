// The HyperDX destination: POST /?hdx_platform=flyio, bearer API key, a JSON array of the
// entries as fly-log-shipper sends them. Start-up check: a connection to the host.
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeHyperdx, readHyperdxConfig, type HyperdxConfig } from './config.js';

export function hyperdxSpec(config: HyperdxConfig): VendorHttpSpec {
  return { kind: 'hyperdx', url: config.url, headers: { authorization: `Bearer ${config.apiKey}` }, format: 'json-array', gzip: false };
}

export const plugin = vendorPlugin<HyperdxConfig>({
  kind: 'hyperdx',
  envPrefix: 'HYPERDX',
  defaults: vendorDefaults({}),
  readConfig: readHyperdxConfig,
  describe: describeHyperdx,
  spec: hyperdxSpec,
});
