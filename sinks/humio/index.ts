// The Humio / Falcon LogScale destination (fly-log-shipper's humio sink): on when HUMIO_TOKEN is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describeHumio, readHumioConfig, type HumioConfig } from './config.js';
import { createHumioSink } from './sink.js';

export const plugin: SinkPlugin<HumioConfig> = {
  kind: 'humio',
  envPrefix: 'HUMIO',
  defaults: {
    batch: { maxEntries: 10_000, maxBytes: 2 * 1024 * 1024, maxAgeMs: 1000, maxLineBytes: 8 * 1024 * 1024 },
    maxInFlight: 4,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readHumioConfig,
  describe: describeHumio,
  create: (config, context) => createHumioSink(config, context.settings?.maxInFlight ?? 4),
};
