// The Honeycomb destination (fly-log-shipper's honeycomb sink): on when HONEYCOMB_API_KEY is set.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describeHoneycomb, readHoneycombConfig, type HoneycombConfig } from './config.js';
import { HONEYCOMB_MAX_EVENTS, HONEYCOMB_MAX_REQUEST_BYTES } from './encode.js';
import { createHoneycombSink } from './sink.js';

export const plugin: SinkPlugin<HoneycombConfig> = {
  kind: 'honeycomb',
  envPrefix: 'HONEYCOMB',
  defaults: {
    // Lines plus ~60 bytes of wrapping each stay under the 5 MB request limit; 1,000 events
    // keep the per-event answer (15-60 bytes each) within what the transport reads (64 KiB).
    batch: { maxEntries: HONEYCOMB_MAX_EVENTS, maxBytes: HONEYCOMB_MAX_REQUEST_BYTES, maxAgeMs: 1000, maxLineBytes: 4 * 1024 * 1024 },
    maxInFlight: 4,
    bufferMaxBytes: 16 * 1024 * 1024,
  },
  readConfig: readHoneycombConfig,
  describe: describeHoneycomb,
  create: (config, context) => createHoneycombSink(config, context.settings?.maxInFlight ?? 4),
};
