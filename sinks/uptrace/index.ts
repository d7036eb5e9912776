// The Uptrace destination: POST /api/v1/vector-logs, the DSN in uptrace-dsn, gzip'd NDJSON of
// the entries as they are.
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeUptrace, readUptraceConfig, type UptraceConfig } from './config.js';

export function uptraceSpec(config: UptraceConfig): VendorHttpSpec {
  return { kind: 'uptrace', url: config.url, headers: { 'uptrace-dsn': config.dsn }, format: 'ndjson', gzip: true };
}

export const plugin = vendorPlugin<UptraceConfig>({
  kind: 'uptrace',
  envPrefix: 'UPTRACE',
  defaults: vendorDefaults({ maxLineBytes: 10 * 1024 * 1024 }),
  readConfig: readUptraceConfig,
  describe: describeUptrace,
  spec: uptraceSpec,
});
