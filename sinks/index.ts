// Every sink plugin logferry knows. The core reads each one's config from the
// environment; a sink is on when its variables are set.
import type { SinkCatalogue } from '../src/config/config.js';
import type { SinkPlugin } from '../src/pipeline/sink.js';
import { plugin as file } from './file/index.js';
import { defaultFileSinkConfig } from './file/config.js';
import { plugin as http } from './http/index.js';
import { plugin as loki } from './loki/index.js';
import { plugin as opsverse } from './opsverse/index.js';
import { plugin as s3 } from './s3/index.js';
// Destinations from fly-log-shipper, turned on by its secrets.
import { plugin as appsignal } from './appsignal/index.js';
import { plugin as axiom } from './axiom/index.js';
import { plugin as baselime } from './baselime/index.js';
import { plugin as betterstack } from './betterstack/index.js';
import { plugin as highlight } from './highlight/index.js';
import { plugin as honeybadger } from './honeybadger/index.js';
import { plugin as hyperdx } from './hyperdx/index.js';
import { plugin as logdna } from './logdna/index.js';
import { plugin as logflare } from './logflare/index.js';
import { plugin as openobserve } from './openobserve/index.js';
import { plugin as signoz } from './signoz/index.js';
import { plugin as uptrace } from './uptrace/index.js';
import { plugin as slack } from './slack/index.js';
import { plugin as datadog } from './datadog/index.js';
import { plugin as honeycomb } from './honeycomb/index.js';
import { plugin as newRelic } from './new-relic/index.js';
import { plugin as humio } from './humio/index.js';
import { plugin as eraSearch } from './erasearch/index.js';
import { plugin as sematext } from './sematext/index.js';
import { plugin as cloudwatch } from './cloudwatch/index.js';
import { plugin as papertrail } from './papertrail/index.js';

export const catalogue: SinkCatalogue = {
  plugins: [
    http, loki, opsverse, s3, file,
    appsignal, axiom, baselime, betterstack, highlight, honeybadger, hyperdx, logdna, logflare, openobserve, signoz, uptrace, slack,
    datadog, honeycomb, newRelic, humio, eraSearch, sematext, cloudwatch, papertrail,
  ] as unknown as SinkPlugin<unknown>[],
  fallback: { plugin: file as unknown as SinkPlugin<unknown>, config: defaultFileSinkConfig },
};
