// The OpsVerse destination, as fly-log-shipper ships to it: the Loki sink with logfmt lines,
// turned on by OPSVERSE_LOGS_ENDPOINT (with OPSVERSE_USERNAME and OPSVERSE_PASSWORD).
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { describeLokiConfig, readOpsverseConfig, type LokiConfig } from '../loki/config.js';
import { plugin as loki } from '../loki/index.js';
import { LokiSink } from '../loki/sink.js';

export const plugin: SinkPlugin<LokiConfig> = {
  kind: 'loki',
  envPrefix: 'OPSVERSE',
  defaults: loki.defaults,
  readConfig: readOpsverseConfig,
  describe: (config) => describeLokiConfig(config).replace(/^loki → /, 'opsverse → '),
  create: (config, context) => new LokiSink(config, context, { name: 'opsverse' }),
};
