// The Loki sink plugin: ships to Grafana Loki (self-hosted or Grafana Cloud) through the
// documented push API. Configured by LOKI_URL (fly-log-shipper's name).
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describeLokiConfig, readLokiConfig, type LokiConfig } from './config.js';
import { LokiSink } from './sink.js';

const MiB = 1024 * 1024;

export const plugin: SinkPlugin<LokiConfig> = {
  kind: 'loki',
  envPrefix: 'LOKI',
  defaults: {
    // Loki wants frequent, modest pushes: a second of delay keeps live tailing live, and a
    // push must stay under Loki's ingestion burst (6 MB of lines by default) or it meets
    // 429 on every attempt. 1 MiB of lines per push, as Promtail sends: pushes of 4 MiB made
    // the agent's heap (entries are read back to be labelled) hold ~20 MiB more at 10,000
    // lines/s, for no less CPU per line.
    batch: { maxEntries: 10_000, maxBytes: 1 * MiB, maxAgeMs: 1000, maxLineBytes: 1 * MiB },
    maxInFlight: 4,
    // Three sinks' buffers, the runtime and the heap must fit a 256 MB VM; the spool takes longer outages.
    bufferMaxBytes: 16 * MiB,
  },
  readConfig: readLokiConfig,
  describe: describeLokiConfig,
  create: (config, context) => new LokiSink(config, context),
};

export type { LokiConfig } from './config.js';
export { LokiSink } from './sink.js';
