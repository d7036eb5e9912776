// The Sematext destination (fly-log-shipper's sematext sink): on when SEMATEXT_TOKEN is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { BULK_MAX_DOCUMENTS } from '../shared/es-bulk.js';
import { describeSematext, readSematextConfig, type SematextConfig } from './config.js';
import { createSematextSink } from './sink.js';

export const plugin: SinkPlugin<SematextConfig> = {
  kind: 'sematext',
  envPrefix: 'SEMATEXT',
  defaults: {
    batch: { maxEntries: BULK_MAX_DOCUMENTS, maxBytes: 10 * 1024 * 1024, maxAgeMs: 1000 },
    maxInFlight: 4,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readSematextConfig,
  describe: describeSematext,
  create: (config, context) => createSematextSink(config, context.settings?.maxInFlight ?? 4),
};
