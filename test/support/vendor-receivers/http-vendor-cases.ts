// The f-dest-http destinations as test cases: the plugin, the receiver profile standing in for
// the vendor, and the environment (fly-log-shipper's secrets plus the endpoint override) that
// points the plugin at a receiver. Shared by the contract, config and end-to-end tests.
import type { SinkPlugin } from '../../../src/pipeline/sink.js';
import { plugin as appsignal } from '../../../sinks/appsignal/index.js';
import { plugin as axiom } from '../../../sinks/axiom/index.js';
import { plugin as baselime } from '../../../sinks/baselime/index.js';
import { plugin as betterstack } from '../../../sinks/betterstack/index.js';
import { plugin as highlight } from '../../../sinks/highlight/index.js';
import { plugin as honeybadger } from '../../../sinks/honeybadger/index.js';
import { plugin as hyperdx } from '../../../sinks/hyperdx/index.js';
import { plugin as logdna } from '../../../sinks/logdna/index.js';
import { plugin as logflare } from '../../../sinks/logflare/index.js';
import { plugin as openobserve } from '../../../sinks/openobserve/index.js';
import { plugin as signoz } from '../../../sinks/signoz/index.js';
import { plugin as uptrace } from '../../../sinks/uptrace/index.js';
import { PROFILES, type VendorProfile } from './http-vendors.js';

export interface VendorCase {
  readonly kind: string;
  readonly plugin: SinkPlugin<unknown>;
  readonly profile: VendorProfile;
  /** The agent's environment for this destination, pointed at a receiver at `url`. */
  env(url: string): Record<string, string>;
  /** Secret values that must never appear in any output. */
  readonly secrets: readonly string[];
}

const OO_PATH = '/api/default/fly/_json';

export const VENDOR_CASES: readonly VendorCase[] = [
  {
    kind: 'appsignal', plugin: appsignal as SinkPlugin<unknown>, profile: PROFILES.appsignal({ key: 'as-push-key-8d1c' }),
    env: (url) => ({ APPSIGNAL_PUSH_API_KEY: 'as-push-key-8d1c', APPSIGNAL_ENDPOINT: url }), secrets: ['as-push-key-8d1c'],
  },
  {
    kind: 'axiom', plugin: axiom as SinkPlugin<unknown>, profile: PROFILES.axiom({ token: 'xaat-axiom-token-31f0', dataset: 'fly-logs' }),
    env: (url) => ({ AXIOM_TOKEN: 'xaat-axiom-token-31f0', AXIOM_DATASET: 'fly-logs', AXIOM_URL: url }), secrets: ['xaat-axiom-token-31f0'],
  },
  {
    kind: 'baselime', plugin: baselime as SinkPlugin<unknown>, profile: PROFILES.baselime({ key: 'bl-api-key-77aa', dataset: 'flyio' }),
    env: (url) => ({ BASELIME_API_KEY: 'bl-api-key-77aa', BASELIME_ENDPOINT: url }), secrets: ['bl-api-key-77aa'],
  },
  {
    kind: 'betterstack', plugin: betterstack as SinkPlugin<unknown>, profile: PROFILES.betterstack({ token: 'bs-source-token-5e2b' }),
    env: (url) => ({ BETTER_STACK_SOURCE_TOKEN: 'bs-source-token-5e2b', BETTER_STACK_INGESTING_HOST: `${url}/` }), secrets: ['bs-source-token-5e2b'],
  },
  {
    kind: 'highlight', plugin: highlight as SinkPlugin<unknown>, profile: PROFILES.highlight({ project: 'hl-proj-42xq' }),
    env: (url) => ({ HIGHLIGHT_PROJECT_ID: 'hl-proj-42xq', HIGHLIGHT_ENDPOINT: `${url}/v1/logs/json` }), secrets: [],
  },
  {
    kind: 'honeybadger', plugin: honeybadger as SinkPlugin<unknown>, profile: PROFILES.honeybadger({ key: 'hbp-api-key-90de' }),
    env: (url) => ({ HONEYBADGER_API_KEY: 'hbp-api-key-90de', HONEYBADGER_ENDPOINT: `${url}/v1/events` }), secrets: ['hbp-api-key-90de'],
  },
  {
    kind: 'hyperdx', plugin: hyperdx as SinkPlugin<unknown>, profile: PROFILES.hyperdx({ key: 'hdx-api-key-12ab' }),
    env: (url) => ({ HYPERDX_API_KEY: 'hdx-api-key-12ab', HYPERDX_ENDPOINT: `${url}/?hdx_platform=flyio` }), secrets: ['hdx-api-key-12ab'],
  },
  {
    kind: 'logdna', plugin: logdna as SinkPlugin<unknown>, profile: PROFILES.logdna({ key: 'ldna-ingest-key-4c4c' }),
    env: (url) => ({ LOGDNA_API_KEY: 'ldna-ingest-key-4c4c', LOGDNA_ENDPOINT: url }), secrets: ['ldna-ingest-key-4c4c'],
  },
  {
    kind: 'logflare', plugin: logflare as SinkPlugin<unknown>, profile: PROFILES.logflare({ key: 'lf-api-key-6b6b', source: '2f1e6a2c-0d3b-4d8a-9a51-3c6f1b7e9a10' }),
    env: (url) => ({ LOGFLARE_API_KEY: 'lf-api-key-6b6b', LOGFLARE_SOURCE_TOKEN: '2f1e6a2c-0d3b-4d8a-9a51-3c6f1b7e9a10', LOGFLARE_ENDPOINT: url }), secrets: ['lf-api-key-6b6b'],
  },
  {
    kind: 'openobserve', plugin: openobserve as SinkPlugin<unknown>, profile: PROFILES.openobserve({ user: 'root@example.com', password: 'oo-pass-word-9z', path: OO_PATH }),
    env: (url) => ({ OPENOBSERVE_URI: `${url}${OO_PATH}`, OPENOBSERVE_USER: 'root@example.com', OPENOBSERVE_PASSWORD: 'oo-pass-word-9z' }), secrets: ['oo-pass-word-9z'],
  },
  {
    kind: 'signoz', plugin: signoz as SinkPlugin<unknown>, profile: PROFILES.signoz({ key: 'sz-ingestion-key-3e3e' }),
    env: (url) => ({ SIGNOZ_INGESTION_KEY: 'sz-ingestion-key-3e3e', SIGNOZ_URI: `${url}/logs/vector` }), secrets: ['sz-ingestion-key-3e3e'],
  },
  {
    kind: 'uptrace', plugin: uptrace as SinkPlugin<unknown>, profile: PROFILES.uptrace({ dsn: 'https://up-api-key-8f8f@api.uptrace.dev/17' }),
    env: (url) => ({ UPTRACE_API_KEY: 'up-api-key-8f8f', UPTRACE_PROJECT: '17', UPTRACE_ENDPOINT: `${url}/api/v1/vector-logs` }), secrets: ['up-api-key-8f8f'],
  },
];
