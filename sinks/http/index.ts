// The HTTP sink plugin: any endpoint that takes NDJSON or a JSON array by POST/PUT.
import type { PipelineSettings, SinkContext, SinkPlugin } from '../../src/pipeline/sink.js';
import { describeHttpSink, readHttpSinkConfig, type HttpSinkConfig } from './config.js';
import { HttpSink } from './sink.js';

const DEFAULTS = {
  batch: { maxEntries: 10_000, maxBytes: 1024 * 1024, maxAgeMs: 1000 },
  maxInFlight: 4,
  // Three sinks' buffers, the runtime and the heap must fit a 256 MB VM; the spool takes longer outages.
  bufferMaxBytes: 16 * 1024 * 1024,
} as const;

export const plugin: SinkPlugin<HttpSinkConfig> = {
  kind: 'http',
  envPrefix: 'HTTP',
  defaults: DEFAULTS,
  readConfig: readHttpSinkConfig,
  describe: describeHttpSink,
  // The pool matches the in-flight limit: the core never has more requests open, and a
  // smaller pool would queue requests in the agent while their timeout runs. SinkContext
  // does not carry the settings (yet); when it does, HTTP_MAX_IN_FLIGHT sizes the pool.
  create: (config, context: SinkContext & { readonly settings?: PipelineSettings }) =>
    new HttpSink(config, { maxConnections: context.settings?.maxInFlight ?? DEFAULTS.maxInFlight }),
};

export type { HttpSinkConfig } from './config.js';
export { HttpSink } from './sink.js';
