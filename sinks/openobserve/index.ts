// The OpenObserve destination: POST to OPENOBSERVE_URI, basic auth, a gzip'd JSON array of the
// entries as they are (OpenObserve reads `timestamp`); records its 200 answer reports as failed
// are counted as rejected. fly-log-shipper turns the healthcheck off; this one only connects.
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { basicAuthorization } from '../shared/vendor-config.js';
import { describeOpenobserve, readOpenobserveConfig, type OpenobserveConfig } from './config.js';
import { openobservePartial } from './encode.js';

export function openobserveSpec(config: OpenobserveConfig): VendorHttpSpec {
  return {
    kind: 'openobserve',
    url: config.url,
    headers: { authorization: basicAuthorization(config.user, config.password) },
    format: 'json-array',
    gzip: true,
    partialSuccess: openobservePartial,
  };
}

export const plugin = vendorPlugin<OpenobserveConfig>({
  kind: 'openobserve',
  envPrefix: 'OPENOBSERVE',
  defaults: vendorDefaults({ maxLineBytes: 10 * 1024 * 1024 }),
  readConfig: readOpenobserveConfig,
  describe: describeOpenobserve,
  spec: openobserveSpec,
});
