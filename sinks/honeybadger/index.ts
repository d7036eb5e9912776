// The Honeybadger destination: POST /v1/events, X-API-Key, NDJSON of the entries with
// `timestamp` renamed to `ts` (as fly-log-shipper's remap does). Honeybadger's events API takes
// at most 102,400 bytes per request (its 413 says so), so batches stay under that and a single
// larger entry is dropped as entry_too_large. It answers 201.
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeHoneybadger, readHoneybadgerConfig, type HoneybadgerConfig } from './config.js';

export const HONEYBADGER_MAX_REQUEST_BYTES = 102_400;

export function honeybadgerSpec(config: HoneybadgerConfig): VendorHttpSpec {
  return {
    kind: 'honeybadger',
    url: config.url,
    headers: { 'x-api-key': config.apiKey, accept: 'application/json' },
    format: 'ndjson',
    gzip: false,
    renameTimestamp: 'ts',
    // The line and its newline must fit one request.
    maxEntryBytes: HONEYBADGER_MAX_REQUEST_BYTES - 1,
  };
}

export const plugin = vendorPlugin<HoneybadgerConfig>({
  kind: 'honeybadger',
  envPrefix: 'HONEYBADGER',
  // Room under the limit: the core seals on an estimate of the encoded size; a 413 still splits.
  defaults: vendorDefaults({ maxEntries: 1000, maxBytes: 96 * 1024, maxLineBytes: 96 * 1024 }),
  readConfig: readHoneybadgerConfig,
  describe: describeHoneybadger,
  spec: honeybadgerSpec,
});
