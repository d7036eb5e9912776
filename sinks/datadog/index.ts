// The Datadog destination (fly-log-shipper's datadog sink): on when DATADOG_API_KEY is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describeDatadog, readDatadogConfig, type DatadogConfig } from './config.js';
import { DATADOG_MAX_ENTRIES, DATADOG_MAX_REQUEST_BYTES } from './encode.js';
import { createDatadogSink } from './sink.js';

export const plugin: SinkPlugin<DatadogConfig> = {
  kind: 'datadog',
  envPrefix: 'DATADOG',
  defaults: {
    // maxBytes is measured gzip'd; maxLineBytes keeps the uncompressed request (lines plus
    // ~200 bytes of Datadog fields each) under the 5 MB limit.
    batch: { maxEntries: DATADOG_MAX_ENTRIES, maxBytes: DATADOG_MAX_REQUEST_BYTES, maxAgeMs: 1000, maxLineBytes: 4 * 1024 * 1024 },
    maxInFlight: 4,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readDatadogConfig,
  describe: describeDatadog,
  create: (config, context) => createDatadogSink(config, context.settings?.maxInFlight ?? 4),
};
