// The Highlight destination: POST /v1/logs/json, gzip'd NDJSON of the entries as they are,
// the project in x-highlight-project. Start-up check: a connection to the host.
import { vendorDefaults, type VendorHttpSpec, vendorPlugin } from '../shared/vendor-http.js';
import { describeHighlight, readHighlightConfig, type HighlightConfig } from './config.js';

export function highlightSpec(config: HighlightConfig): VendorHttpSpec {
  return { kind: 'highlight', url: config.url, headers: { 'x-highlight-project': config.projectId }, format: 'ndjson', gzip: true };
}

export const plugin = vendorPlugin<HighlightConfig>({
  kind: 'highlight',
  envPrefix: 'HIGHLIGHT',
  defaults: vendorDefaults({ maxLineBytes: 10 * 1024 * 1024 }),
  readConfig: readHighlightConfig,
  describe: describeHighlight,
  spec: highlightSpec,
});
