// Issue 17, partial success: receivers that refuse some entries inside a successful answer,
// in each service's own shape (Honeycomb's per-event statuses, _bulk per-item errors, HEC's
// invalid-event-number, CloudWatch's rejectedLogEventsInfo). Through the agent process, the
// entries counted delivered are exactly those the receiver stored, and the rest rejected:
// never a stored entry counted as rejected, nothing retried forever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSubscribedAgent, type Agent } from '../../support/agent.js';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer } from '../../support/nats.js';
import { waitForSettled } from '../e2e/scenario.js';
import { startHoneycombReceiver, type HoneycombReceiver } from '../../support/vendor-receivers/honeycomb.js';
import { startHumioReceiver, type HumioReceiver } from '../../support/vendor-receivers/humio.js';
import { startEsBulkReceiver, type EsBulkReceiver } from '../../support/vendor-receivers/es-bulk.js';
import { startCloudWatchReceiver, type CloudWatchReceiver } from '../../support/vendor-receivers/cloudwatch.js';

const N = 4000;
let nats: NatsServer;
let publisher: NatsConnection;
let hc: HoneycombReceiver;
let humio: HumioReceiver;
let sematext: EsBulkReceiver;
let cw: CloudWatchReceiver;
const agents: Agent[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  publisher = await connectPublisher(nats.url);
  // Entries with both process_group and zone have 10 flattened fields.
  hc = await startHoneycombReceiver({ apiKey: 'hc-key', dataset: 'fly', maxColumns: 9 });
  // Apps that log JSON: their message does not fit the index mapping.
  sematext = await startEsBulkReceiver({ index: 'st-token', refuse: (d) => String(d.message).startsWith('{') });
  // One invalid event: HEC indexes the events before it in its request and stops there.
  humio = await startHumioReceiver({ token: 'humio-token', refuse: (e) => /req_id(=|":")s17-2500\b/.test(String(e.message)) });
  // Retention of 1 day: the first entries, logged just over a day ago, are too old.
  cw = await startCloudWatchReceiver({ accessKeyId: 'AKIAPARTIAL', secretAccessKey: 'partial/secret', region: 'us-east-1', retentionDays: 1 });
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await publisher?.close().catch(() => undefined);
  await Promise.all([hc, humio, sematext, cw].map((r) => r?.close()));
  await nats?.stop('SIGKILL');
});

describe('e2e vendor partial success', () => {
  it('counts delivered exactly what each receiver stored and the rest rejected', async () => {
    const agent = await startSubscribedAgent(nats, agents, {
      NATS_URL: nats.url,
      RETRY_INITIAL_BACKOFF: '100ms',
      RETRY_MAX_BACKOFF: '1s',
      HONEYCOMB_API_KEY: 'hc-key',
      HONEYCOMB_DATASET: 'fly',
      HONEYCOMB_ENDPOINT: hc.url,
      SEMATEXT_TOKEN: 'st-token',
      SEMATEXT_REGION: 'us',
      SEMATEXT_ENDPOINT: sematext.url,
      HUMIO_TOKEN: 'humio-token',
      HUMIO_ENDPOINT: humio.url,
      CLOUDWATCH_LOG_GROUP_NAME: '/fly/partial',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIAPARTIAL',
      AWS_SECRET_ACCESS_KEY: 'partial/secret',
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: cw.url,
    });
    // ~2 entries a millisecond: the first ~half second of entries is older than a day when sent.
    const entries = makeFlyEntries(N, { seed: 17, startMs: Date.now() - 86_400_000 - 500 });
    await publishAll(publisher, entries, { ratePerSec: 5000 });

    const stored: Record<string, () => number> = {
      honeycomb: () => hc.events.length,
      sematext: () => sematext.docs.length,
      humio: () => humio.events.length,
      cloudwatch: () => cw.events.length,
    };
    for (const [name, count] of Object.entries(stored)) {
      const a = await waitForSettled(agent, N, name, 90_000);
      expect(a.dropped + a.pending, name).toBe(0);
      expect(a.delivered, `${name}: delivered = stored`).toBe(count());
      expect(a.rejected, `${name}: rejected = refused`).toBe(N - count());
      expect(a.rejected, `${name}: some were refused`).toBeGreaterThan(0);
      expect(a.delivered, `${name}: some were stored`).toBeGreaterThan(0);
    }
    expect(hc.refused).toBe(N - hc.events.length);
    expect(cw.rejected).toBe(N - cw.events.length);
    for (const r of [hc, sematext, humio, cw]) expect(r.violations).toEqual([]);
  }, 180_000);
});
