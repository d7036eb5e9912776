// Config of the f-dest-http destinations: fly-log-shipper's secret names and defaults, and a
// ConfigError naming the variable (never quoting a secret) for every missing or malformed one.
import { describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { readAppsignalConfig } from '../../../sinks/appsignal/config.js';
import { readAxiomConfig } from '../../../sinks/axiom/config.js';
import { readBaselimeConfig } from '../../../sinks/baselime/config.js';
import { readBetterStackConfig } from '../../../sinks/betterstack/config.js';
import { readHighlightConfig } from '../../../sinks/highlight/config.js';
import { readHoneybadgerConfig } from '../../../sinks/honeybadger/config.js';
import { readHyperdxConfig } from '../../../sinks/hyperdx/config.js';
import { readLogdnaConfig } from '../../../sinks/logdna/config.js';
import { readLogflareConfig } from '../../../sinks/logflare/config.js';
import { readOpenobserveConfig } from '../../../sinks/openobserve/config.js';
import { readSignozConfig } from '../../../sinks/signoz/config.js';
import { readUptraceConfig } from '../../../sinks/uptrace/config.js';
import { parseKeywords, readSlackConfig } from '../../../sinks/slack/config.js';
import { catalogue } from '../../../sinks/index.js';
import { configErrorOf, configured } from '../../support/config-error.js';

const env = (vars: Record<string, string>) => new EnvReader(vars);
const SECRET = 'sekr3t-value-do-not-print';

/** Each destination: its reader, the variables that turn it on, and its defaults as fly-log-shipper has them. */
const readers: Array<[string, (e: EnvReader) => unknown, Record<string, string>]> = [
  ['appsignal', readAppsignalConfig, { APPSIGNAL_PUSH_API_KEY: SECRET }],
  ['axiom', readAxiomConfig, { AXIOM_TOKEN: SECRET, AXIOM_DATASET: 'ds' }],
  ['baselime', readBaselimeConfig, { BASELIME_API_KEY: SECRET }],
  ['betterstack', readBetterStackConfig, { BETTER_STACK_SOURCE_TOKEN: SECRET }],
  ['highlight', readHighlightConfig, { HIGHLIGHT_PROJECT_ID: 'proj1' }],
  ['honeybadger', readHoneybadgerConfig, { HONEYBADGER_API_KEY: SECRET }],
  ['hyperdx', readHyperdxConfig, { HYPERDX_API_KEY: SECRET }],
  ['logdna', readLogdnaConfig, { LOGDNA_API_KEY: SECRET }],
  ['logflare', readLogflareConfig, { LOGFLARE_API_KEY: SECRET, LOGFLARE_SOURCE_TOKEN: 'src-uuid' }],
  ['openobserve', readOpenobserveConfig, { OPENOBSERVE_URI: 'https://oo.example/api/org/stream/_json', OPENOBSERVE_USER: 'me@example.com', OPENOBSERVE_PASSWORD: SECRET }],
  ['signoz', readSignozConfig, { SIGNOZ_INGESTION_KEY: SECRET }],
  ['uptrace', readUptraceConfig, { UPTRACE_API_KEY: SECRET, UPTRACE_PROJECT: '12' }],
  ['slack', readSlackConfig, { SLACK_WEBHOOK_URL: `https://hooks.slack.com/services/T0/B0/${SECRET}`, SLACK_ALERT_KEYWORDS: "[r'SIGTERM']" }],
];

describe('every destination', () => {
  test.each(readers)('%s is off without its secrets and on with them', (_kind, read, vars) => {
    expect(read(env({}))).toBeUndefined();
    expect(read(env(vars))).toBeDefined();
  });

  test.each(readers)('%s: a secret with a line break or space is refused without being quoted', (_kind, read, vars) => {
    // The secret variable (Highlight's project id stands in for its only one).
    const name = Object.entries(vars).find(([, v]) => v.includes(SECRET))?.[0] ?? Object.keys(vars)[0]!;
    const error = configErrorOf(() => read(env({ ...vars, [name]: `${vars[name]!.includes('://') ? 'not a url ' : ''}${SECRET}\nX-Injected: 1` })));
    expect(error.variable).toBe(name);
    expect(error.message).not.toContain(SECRET);
  });

  test.each(readers)('%s: each companion variable set alone names the missing secret', (_kind, read, vars) => {
    const [primary, ...companions] = Object.keys(vars);
    for (const companion of companions) {
      const error = configErrorOf(() => read(env({ [companion]: vars[companion]! })));
      expect(error.variable).toBe(primary);
      expect(error.message).not.toContain(SECRET);
    }
  });

  test('the catalogue lists every destination, and its kind is the sink name', () => {
    const kinds = catalogue.plugins.map((p) => p.kind);
    for (const [kind] of readers) expect(kinds).toContain(kind);
  });
});

describe('defaults and companions as fly-log-shipper has them', () => {
  test('AppSignal posts to https://appsignal-endpoint.net', () => {
    expect(configured(readAppsignalConfig(env({ APPSIGNAL_PUSH_API_KEY: 'k' }))).endpoint.href).toBe('https://appsignal-endpoint.net/');
  });

  test('Axiom needs AXIOM_DATASET; AXIOM_URL without a path gets the ingest path', () => {
    expect(configErrorOf(() => readAxiomConfig(env({ AXIOM_TOKEN: SECRET }))).variable).toBe('AXIOM_DATASET');
    expect(configured(readAxiomConfig(env({ AXIOM_TOKEN: 't', AXIOM_DATASET: 'fly' }))).url.href).toBe('https://api.axiom.co/v1/datasets/fly/ingest');
    expect(configured(readAxiomConfig(env({ AXIOM_TOKEN: 't', AXIOM_DATASET: 'fly', AXIOM_URL: 'https://api.eu.axiom.co' }))).url.href).toBe('https://api.eu.axiom.co/v1/datasets/fly/ingest');
    expect(configured(readAxiomConfig(env({ AXIOM_TOKEN: 't', AXIOM_DATASET: 'fly', AXIOM_URL: 'http://127.0.0.1:9/ingest' }))).url.href).toBe('http://127.0.0.1:9/ingest');
    expect(configErrorOf(() => readAxiomConfig(env({ AXIOM_TOKEN: 't', AXIOM_DATASET: 'a/b' }))).variable).toBe('AXIOM_DATASET');
    expect(configErrorOf(() => readAxiomConfig(env({ AXIOM_TOKEN: 't', AXIOM_DATASET: 'a', AXIOM_URL: `ftp://${SECRET}` }))).message).not.toContain(SECRET);
  });

  test('Baselime: BASELIME_DATASET defaults to flyio', () => {
    expect(configured(readBaselimeConfig(env({ BASELIME_API_KEY: 'k' }))).url.href).toBe('https://events.baselime.io/v1/flyio');
    expect(configured(readBaselimeConfig(env({ BASELIME_API_KEY: 'k', BASELIME_DATASET: 'mine' }))).url.href).toBe('https://events.baselime.io/v1/mine');
    expect(configErrorOf(() => readBaselimeConfig(env({ BASELIME_API_KEY: 'k', BASELIME_DATASET: '../x' }))).variable).toBe('BASELIME_DATASET');
  });

  test('Better Stack: LOGTAIL_TOKEN when BETTER_STACK_SOURCE_TOKEN is unset; host default in.logs.betterstack.com', () => {
    const viaLogtail = configured(readBetterStackConfig(env({ LOGTAIL_TOKEN: 'old' })));
    expect(viaLogtail).toMatchObject({ sourceToken: 'old', tokenVariable: 'LOGTAIL_TOKEN' });
    expect(viaLogtail.url.href).toBe('https://in.logs.betterstack.com/');
    expect(configured(readBetterStackConfig(env({ BETTER_STACK_SOURCE_TOKEN: 'new', LOGTAIL_TOKEN: 'old' }))).sourceToken).toBe('new');
    expect(configured(readBetterStackConfig(env({ LOGTAIL_TOKEN: 'x', BETTER_STACK_INGESTING_HOST: 's1234.eu-nbg-2.betterstackdata.com' }))).url.href).toBe('https://s1234.eu-nbg-2.betterstackdata.com/');
    expect(configErrorOf(() => readBetterStackConfig(env({ LOGTAIL_TOKEN: 'x', BETTER_STACK_INGESTING_HOST: 'bad host/x' }))).variable).toBe('BETTER_STACK_INGESTING_HOST');
  });

  test('Highlight: the project id must look like one', () => {
    expect(configErrorOf(() => readHighlightConfig(env({ HIGHLIGHT_PROJECT_ID: 'a b' }))).variable).toBe('HIGHLIGHT_PROJECT_ID');
    expect(configErrorOf(() => readHighlightConfig(env({ HIGHLIGHT_PROJECT_ID: 'a/b' }))).variable).toBe('HIGHLIGHT_PROJECT_ID');
  });

  test('HyperDX and Honeybadger default to the vendor URLs', () => {
    expect(configured(readHyperdxConfig(env({ HYPERDX_API_KEY: 'k' }))).url.href).toBe('https://in.hyperdx.io/?hdx_platform=flyio');
    expect(configured(readHoneybadgerConfig(env({ HONEYBADGER_API_KEY: 'k' }))).url.href).toBe('https://api.honeybadger.io/v1/events');
  });

  test('LogDNA posts to https://logs.mezmo.com', () => {
    expect(configured(readLogdnaConfig(env({ LOGDNA_API_KEY: 'k' }))).endpoint.href).toBe('https://logs.mezmo.com/');
  });

  test('Logflare needs both secrets; the source goes in the query', () => {
    expect(configErrorOf(() => readLogflareConfig(env({ LOGFLARE_API_KEY: SECRET }))).variable).toBe('LOGFLARE_SOURCE_TOKEN');
    expect(configured(readLogflareConfig(env({ LOGFLARE_API_KEY: 'k', LOGFLARE_SOURCE_TOKEN: 'abc' }))).url.href).toBe('https://api.logflare.app/logs/vector?source=abc');
  });

  test('OpenObserve needs user and password; a malformed URI is not quoted', () => {
    const uri = 'https://oo.example/api/o/s/_json';
    expect(configErrorOf(() => readOpenobserveConfig(env({ OPENOBSERVE_URI: uri, OPENOBSERVE_PASSWORD: SECRET }))).variable).toBe('OPENOBSERVE_USER');
    expect(configErrorOf(() => readOpenobserveConfig(env({ OPENOBSERVE_URI: uri, OPENOBSERVE_USER: 'u' }))).variable).toBe('OPENOBSERVE_PASSWORD');
    expect(configErrorOf(() => readOpenobserveConfig(env({ OPENOBSERVE_URI: uri, OPENOBSERVE_USER: 'a:b', OPENOBSERVE_PASSWORD: 'p' }))).variable).toBe('OPENOBSERVE_USER');
    const bad = configErrorOf(() => readOpenobserveConfig(env({ OPENOBSERVE_URI: `not a url ${SECRET}`, OPENOBSERVE_USER: 'u', OPENOBSERVE_PASSWORD: 'p' })));
    expect(bad.variable).toBe('OPENOBSERVE_URI');
    expect(bad.message).not.toContain(SECRET);
    expect(bad.cause).toBeUndefined();
  });

  test('SigNoz defaults to the US ingest URL', () => {
    expect(configured(readSignozConfig(env({ SIGNOZ_INGESTION_KEY: 'k' }))).url.href).toBe('https://ingest.us.signoz.cloud/logs/vector');
  });

  test('Uptrace needs UPTRACE_PROJECT; its DSN is fly-log-shipper\'s', () => {
    expect(configErrorOf(() => readUptraceConfig(env({ UPTRACE_API_KEY: SECRET }))).variable).toBe('UPTRACE_PROJECT');
    expect(configured(readUptraceConfig(env({ UPTRACE_API_KEY: 'k', UPTRACE_PROJECT: '3' }))).dsn).toBe('https://k@api.uptrace.dev/3');
    expect(configErrorOf(() => readUptraceConfig(env({ UPTRACE_API_KEY: 'k', UPTRACE_PROJECT: '3', UPTRACE_SINK_ENCODING: 'logfmt' }))).variable).toBe('UPTRACE_SINK_ENCODING');
  });
});

describe('Slack alert keywords', () => {
  test('fly-log-shipper\'s VRL list of expressions', () => {
    const [a, b] = parseKeywords("[r'SIGTERM', r'reboot']");
    expect(a!.test('got SIGTERM')).toBe(true);
    expect(b!.test('rebooting')).toBe(true);
    expect(a!.test('sigterm')).toBe(false);
    expect(parseKeywords("[r'(?i)panic']")[0]!.test('PANIC now')).toBe(true);
    expect(parseKeywords('[r"out of memory", \'exit code [1-9]\']').map((r) => r.source)).toEqual(['out of memory', 'exit code [1-9]']);
  });

  test('a plain list matches literal text', () => {
    const keywords = parseKeywords('error (fatal), OOM');
    expect(keywords[0]!.test('an error (fatal) happened')).toBe(true);
    expect(keywords[0]!.test('an error fatal happened')).toBe(false);
  });

  test('malformed lists name the item and never the webhook', () => {
    for (const text of ["[r'unclosed", "[r'a', b]", '[]', "[r'(']", "r'a'"]) {
      const error = configErrorOf(() => readSlackConfig(env({ SLACK_WEBHOOK_URL: `https://hooks.slack.com/services/${SECRET}`, SLACK_ALERT_KEYWORDS: text })));
      expect(error.variable, text).toBe('SLACK_ALERT_KEYWORDS');
      expect(error.message).not.toContain(SECRET);
    }
    expect(configErrorOf(() => readSlackConfig(env({ SLACK_WEBHOOK_URL: `https://hooks.slack.com/services/${SECRET}` }))).variable).toBe('SLACK_ALERT_KEYWORDS');
  });
});
