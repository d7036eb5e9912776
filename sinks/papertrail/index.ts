// The Papertrail destination (fly-log-shipper's papertrail sink): on when PAPERTRAIL_ENDPOINT is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describePapertrail, readPapertrailConfig, type PapertrailConfig } from './config.js';
import { PapertrailSink } from './sink.js';

export const plugin: SinkPlugin<PapertrailConfig> = {
  kind: 'papertrail',
  envPrefix: 'PAPERTRAIL',
  defaults: {
    batch: { maxEntries: 2000, maxBytes: 1024 * 1024, maxAgeMs: 500 },
    // One connection, written in order.
    maxInFlight: 1,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readPapertrailConfig,
  describe: describePapertrail,
  create: (config) => new PapertrailSink(config),
};
