// The New Relic destination (fly-log-shipper's new_relic sink): on when NEW_RELIC_LICENSE_KEY or NEW_RELIC_INSERT_KEY is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describeNewRelic, readNewRelicConfig, type NewRelicConfig } from './config.js';
import { NEW_RELIC_MAX_PAYLOAD_BYTES } from './encode.js';
import { createNewRelicSink } from './sink.js';

export const plugin: SinkPlugin<NewRelicConfig> = {
  kind: 'new_relic',
  envPrefix: 'NEW_RELIC',
  defaults: {
    // maxBytes is the gzip'd body: 90 % of the 1 MB payload limit leaves room for the
    // core's size estimate; a body over the limit anyway is split before sending.
    batch: { maxEntries: 5000, maxBytes: Math.floor(NEW_RELIC_MAX_PAYLOAD_BYTES * 0.9), maxAgeMs: 1000 },
    maxInFlight: 4,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readNewRelicConfig,
  describe: describeNewRelic,
  create: (config, context) => createNewRelicSink(config, context.settings?.maxInFlight ?? 4),
};
