// The file sink plugin: gzip (or zstd, or plain) NDJSON under DATA_DIR, the local default when nothing else is configured.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { defaultFileSinkConfig, describeFileSink, readFileSinkConfig, type FileSinkConfig } from './config.js';
import { FileSink } from './sink.js';

export const plugin: SinkPlugin<FileSinkConfig> & { defaultConfig: typeof defaultFileSinkConfig } = {
  kind: 'file',
  envPrefix: 'FILE',
  defaults: {
    batch: { maxEntries: 50_000, maxBytes: 4 * 1024 * 1024, maxAgeMs: 5000 },
    // Appends to a partition's file must stay in order.
    maxInFlight: 1,
    bufferMaxBytes: 32 * 1024 * 1024,
  },
  readConfig: readFileSinkConfig,
  defaultConfig: defaultFileSinkConfig,
  describe: describeFileSink,
  create: (config, context) => new FileSink(config, context),
};

export { defaultFileSinkConfig, type FileSinkConfig } from './config.js';
export { FileSink } from './sink.js';
