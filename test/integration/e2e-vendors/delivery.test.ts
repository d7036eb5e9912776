// Issue 17: one agent process with all eight of fly-log-shipper's vendor destinations of this
// branch configured at once (default settings), each pointed at its receiver: 20,000 mixed
// entries are published once and every destination accounts for every entry. The receivers
// script trouble on the way (a 429 with Retry-After, a 503, throttled _bulk items, a TLS
// connection dropped mid-stream): each entry is stored exactly once where the vendor
// acknowledges, and at least once (never lost) on Papertrail, which acknowledges nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSubscribedAgent, type Agent } from '../../support/agent.js';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer } from '../../support/nats.js';
import { waitFor } from '../../support/poll.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { startDatadogReceiver, type DatadogReceiver } from '../../support/vendor-receivers/datadog.js';
import { startHoneycombReceiver, type HoneycombReceiver } from '../../support/vendor-receivers/honeycomb.js';
import { startNewRelicReceiver, type NewRelicReceiver } from '../../support/vendor-receivers/new-relic.js';
import { startHumioReceiver, type HumioReceiver } from '../../support/vendor-receivers/humio.js';
import { startEsBulkReceiver, type EsBulkReceiver } from '../../support/vendor-receivers/es-bulk.js';
import { startCloudWatchReceiver, type CloudWatchReceiver } from '../../support/vendor-receivers/cloudwatch.js';
import { makeTestCertificate, startPapertrailReceiver, type PapertrailReceiver, type TestCertificate } from '../../support/vendor-receivers/papertrail.js';

const N = 20_000;
const SECRETS = {
  DATADOG_API_KEY: 'dd0123456789abcdef0123456789abcd',
  HONEYCOMB_API_KEY: 'hcaik_e2e_key_never_logged',
  NEW_RELIC_LICENSE_KEY: 'nr-license-e2e-never-logged-NRAL',
  HUMIO_TOKEN: 'humio-token-e2e-never-logged',
  ERASEARCH_AUTH: 'Bearer era-e2e-never-logged',
  SEMATEXT_TOKEN: 'sematext-token-e2e-never-logged',
  AWS_SECRET_ACCESS_KEY: 'aws/secret+e2e/never/logged',
} as const;

let nats: NatsServer;
let publisher: NatsConnection;
let cert: TestCertificate;
let dd: DatadogReceiver;
let hc: HoneycombReceiver;
let nr: NewRelicReceiver;
let humio: HumioReceiver;
let era: EsBulkReceiver;
let sematext: EsBulkReceiver;
let cw: CloudWatchReceiver;
let pt: PapertrailReceiver;
const agents: Agent[] = [];

beforeAll(async () => {
  cert = makeTestCertificate();
  nats = await startNatsServer();
  publisher = await connectPublisher(nats.url);
  dd = await startDatadogReceiver({ apiKey: SECRETS.DATADOG_API_KEY, now: Date.now });
  hc = await startHoneycombReceiver({ apiKey: SECRETS.HONEYCOMB_API_KEY, dataset: 'fly' });
  nr = await startNewRelicReceiver({ key: SECRETS.NEW_RELIC_LICENSE_KEY, keyHeader: 'x-license-key' });
  humio = await startHumioReceiver({ token: SECRETS.HUMIO_TOKEN });
  era = await startEsBulkReceiver({ index: 'fly-logs', authorization: SECRETS.ERASEARCH_AUTH });
  sematext = await startEsBulkReceiver({ index: SECRETS.SEMATEXT_TOKEN });
  cw = await startCloudWatchReceiver({ accessKeyId: 'AKIAE2EEXAMPLE', secretAccessKey: SECRETS.AWS_SECRET_ACCESS_KEY, region: 'us-east-1' });
  pt = await startPapertrailReceiver(cert);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await publisher?.close().catch(() => undefined);
  await Promise.all([dd, hc, nr, humio, era, sematext, cw, pt].map((r) => r?.close()));
  await nats?.stop('SIGKILL');
  cert?.remove();
});

/** Ids of stored entries, each counted. */
function idCounts(docs: Array<Record<string, unknown>>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of docs) {
    // EraSearch merges a JSON message's fields into the document: its req_id is a field then.
    const id = idOf(d) ?? (typeof d.req_id === 'string' ? d.req_id : undefined);
    if (id === undefined) throw new Error(`stored document without an id: ${JSON.stringify(d).slice(0, 200)}`);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('e2e vendor destinations', () => {
  it('delivers 20,000 mixed entries to all eight destinations at once, each accounted for', async () => {
    const agent = await startSubscribedAgent(nats, agents, {
      NATS_URL: nats.url,
      // Default buffers: all the sinks draw on the one memory budget (split equally, it dropped
      // entries here as buffer_full while the spool had room).
      RETRY_INITIAL_BACKOFF: '100ms',
      RETRY_MAX_BACKOFF: '1s',
      DATADOG_API_KEY: SECRETS.DATADOG_API_KEY,
      DATADOG_ENDPOINT: dd.url,
      HONEYCOMB_API_KEY: SECRETS.HONEYCOMB_API_KEY,
      HONEYCOMB_DATASET: 'fly',
      HONEYCOMB_ENDPOINT: hc.url,
      NEW_RELIC_LICENSE_KEY: SECRETS.NEW_RELIC_LICENSE_KEY,
      NEW_RELIC_ACCOUNT_ID: '1234567',
      NEW_RELIC_ENDPOINT: nr.url,
      HUMIO_TOKEN: SECRETS.HUMIO_TOKEN,
      HUMIO_ENDPOINT: humio.url,
      ERASEARCH_URL: era.url,
      ERASEARCH_AUTH: SECRETS.ERASEARCH_AUTH,
      ERASEARCH_INDEX: 'fly-logs',
      SEMATEXT_TOKEN: SECRETS.SEMATEXT_TOKEN,
      SEMATEXT_REGION: 'us',
      SEMATEXT_ENDPOINT: sematext.url,
      CLOUDWATCH_LOG_GROUP_NAME: '/fly/e2e',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIAE2EEXAMPLE',
      AWS_SECRET_ACCESS_KEY: SECRETS.AWS_SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: cw.url,
      PAPERTRAIL_ENDPOINT: pt.endpoint,
      NODE_EXTRA_CA_CERTS: cert.certPath,
    });
    const health = await agent.health();
    for (const sink of ['datadog', 'honeycomb', 'new_relic', 'humio', 'erasearch', 'sematext', 'cloudwatch', 'papertrail']) {
      expect(health.body.sinks[sink]?.state, `${sink} health\n${JSON.stringify(health.body)}`).toBe('ok');
    }

    // Trouble on the way.
    dd.failNext(429);
    hc.failNext(503, { times: 2 });
    nr.failNext(429);
    humio.failNext(503);
    sematext.throttleItems(25);
    cw.failNext(429);
    pt.dropAfter(7000);

    const entries = makeFlyEntries(N, { seed: 17017, startMs: Date.now() - 120_000 });
    await publishAll(publisher, entries, { ratePerSec: 5000 });

    const expectedIds = new Set(entries.map((e) => e.id));
    const sinks = { datadog: dd, honeycomb: hc, new_relic: nr, humio, erasearch: era, sematext, cloudwatch: cw } as const;
    for (const name of [...Object.keys(sinks), 'papertrail']) {
      const a = await waitForSettled(agent, N, name, 120_000);
      expect(a, name).toMatchObject({ received: N, delivered: N, rejected: 0, dropped: 0, pending: 0 });
    }
    const stores: Record<keyof typeof sinks, () => Array<Record<string, unknown>>> = {
      datadog: () => dd.entries(),
      honeycomb: () => hc.entries(),
      new_relic: () => nr.entries(),
      humio: () => humio.entries(),
      erasearch: () => era.docs,
      sematext: () => sematext.docs,
      cloudwatch: () => cw.entries(),
    };
    for (const [name, stored] of Object.entries(stores)) {
      const counts = idCounts(stored());
      expect(counts.size, `${name}: distinct entries stored`).toBe(N);
      expect([...counts.values()].every((c) => c === 1), `${name}: each stored exactly once`).toBe(true);
      expect([...counts.keys()].every((id) => expectedIds.has(id)), `${name}: only published entries`).toBe(true);
      expect(sinks[name as keyof typeof sinks].violations, `${name} protocol violations`).toEqual([]);
    }
    // Retries happened where the receivers said so.
    for (const name of ['datadog', 'honeycomb', 'new_relic', 'humio', 'sematext', 'cloudwatch']) {
      expect(await agent.metric('logferry_sink_retries_total', { sink: name }), `${name} retries`).toBeGreaterThan(0);
    }
    // Papertrail acknowledges nothing: after the dropped connection the recent writes were
    // sent again, so every entry is there at least once.
    await waitFor(() => idCounts(pt.entries()).size === N, { what: 'every entry at the Papertrail receiver', timeoutMs: 20_000 });
    expect(pt.connections).toBe(2);
    expect(pt.violations).toEqual([]);

    const counters = await stopCleanly(agent);
    for (const name of [...Object.keys(sinks), 'papertrail']) expect(counters.sinks[name], name).toMatchObject({ received: N, delivered: N, pending: 0 });
    const output = agent.stdoutLines.join('\n') + agent.stderr();
    for (const secret of Object.values(SECRETS)) expect(output).not.toContain(secret);
  }, 240_000);
});
