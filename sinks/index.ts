// Every sink plugin logferry knows. The core reads each one's config from the
// environment; a sink is on when its variables are set.
import type { SinkCatalogue } from '../src/config/config.js';
import type { SinkPlugin } from '../src/pipeline/sink.js';
import { plugin as file } from './file/index.js';
import { defaultFileSinkConfig } from './file/config.js';
import { plugin as http } from './http/index.js';
import { plugin as loki } from './loki/index.js';
import { plugin as s3 } from './s3/index.js';
import { plugin as datadog } from './datadog/index.js';
import { plugin as honeycomb } from './honeycomb/index.js';
import { plugin as newRelic } from './new-relic/index.js';
import { plugin as humio } from './humio/index.js';
import { plugin as eraSearch } from './erasearch/index.js';
import { plugin as sematext } from './sematext/index.js';
import { plugin as cloudwatch } from './cloudwatch/index.js';
import { plugin as papertrail } from './papertrail/index.js';

export const catalogue: SinkCatalogue = {
  plugins: [http, loki, s3, datadog, honeycomb, newRelic, humio, eraSearch, sematext, cloudwatch, papertrail, file] as unknown as SinkPlugin<unknown>[],
  fallback: { plugin: file as unknown as SinkPlugin<unknown>, config: defaultFileSinkConfig },
};
