// The Better Stack destination: POST /, bearer source token, a JSON array of the entries with
// `timestamp` renamed to `dt` (Better Stack's time field, as fly-log-shipper's remap does).
// Limits (Better Stack's docs): 10 MiB per request, 10 MiB per record; it answers 202.
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeBetterStack, readBetterStackConfig, type BetterStackConfig } from './config.js';

export const BETTER_STACK_MAX_RECORD_BYTES = 10 * 1024 * 1024;

export function betterStackSpec(config: BetterStackConfig): VendorHttpSpec {
  return {
    kind: 'betterstack',
    url: config.url,
    headers: { authorization: `Bearer ${config.sourceToken}` },
    format: 'json-array',
    gzip: false,
    renameTimestamp: 'dt',
    maxEntryBytes: BETTER_STACK_MAX_RECORD_BYTES,
  };
}

export const plugin = vendorPlugin<BetterStackConfig>({
  kind: 'betterstack',
  envPrefix: 'BETTER_STACK',
  defaults: vendorDefaults({}),
  readConfig: readBetterStackConfig,
  describe: describeBetterStack,
  spec: betterStackSpec,
});
