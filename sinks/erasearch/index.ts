// The EraSearch destination (fly-log-shipper's erasearch sink): on when ERASEARCH_URL is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { BULK_MAX_DOCUMENTS } from '../shared/es-bulk.js';
import { describeEraSearch, readEraSearchConfig, type EraSearchConfig } from './config.js';
import { createEraSearchSink } from './sink.js';

export const plugin: SinkPlugin<EraSearchConfig> = {
  kind: 'erasearch',
  envPrefix: 'ERASEARCH',
  defaults: {
    // 500 documents keep the filtered _bulk answer (at most ~75 bytes an item) within what the transport reads.
    batch: { maxEntries: BULK_MAX_DOCUMENTS, maxBytes: 10 * 1024 * 1024, maxAgeMs: 1000 },
    maxInFlight: 4,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readEraSearchConfig,
  describe: describeEraSearch,
  create: (config, context) => createEraSearchSink(config, context.settings?.maxInFlight ?? 4),
};
