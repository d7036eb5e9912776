// The EraSearch destination (fly-log-shipper's erasearch sink): on when ERASEARCH_URL is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describeEraSearch, readEraSearchConfig, type EraSearchConfig } from './config.js';
import { createEraSearchSink } from './sink.js';

export const plugin: SinkPlugin<EraSearchConfig> = {
  kind: 'erasearch',
  envPrefix: 'ERASEARCH',
  defaults: {
    // 1,000 documents keep the filtered _bulk answer (~30 bytes an item) well inside what the transport reads.
    batch: { maxEntries: 1000, maxBytes: 10 * 1024 * 1024, maxAgeMs: 1000 },
    maxInFlight: 4,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readEraSearchConfig,
  describe: describeEraSearch,
  create: (config, context) => createEraSearchSink(config, context.settings?.maxInFlight ?? 4),
};
