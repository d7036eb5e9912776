// One destination down does not hold up the others: HyperDX answers 503 while SigNoz and
// Axiom deliver everything; when HyperDX recovers, it delivers its backlog exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSubscribedAgent, type Agent } from '../../support/agent.js';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer } from '../../support/nats.js';
import { waitFor } from '../../support/poll.js';
import { startVendorReceiver, type VendorReceiver } from '../../support/vendor-receivers/http-vendors.js';
import { VENDOR_CASES } from '../../support/vendor-receivers/http-vendor-cases.js';
import { expectExactlyOnce, expectFieldsIntact, stopCleanly, waitForSettled } from '../e2e/scenario.js';

const N = 5000;
const KINDS = ['hyperdx', 'signoz', 'axiom'];
let nats: NatsServer;
let publisher: NatsConnection;
const agents: Agent[] = [];
const receivers = new Map<string, VendorReceiver>();

beforeAll(async () => {
  nats = await startNatsServer();
  publisher = await connectPublisher(nats.url);
  for (const kind of KINDS) receivers.set(kind, await startVendorReceiver(VENDOR_CASES.find((c) => c.kind === kind)!.profile));
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await publisher?.close().catch(() => undefined);
  for (const rx of receivers.values()) await rx.close();
  await nats?.stop('SIGKILL');
});

describe('e2e: destinations are isolated', () => {
  it('a destination answering 503 holds up none of the others, then catches up exactly once', async () => {
    const env: Record<string, string> = { NATS_URL: nats.url, RETRY_INITIAL_BACKOFF: '100ms', RETRY_MAX_BACKOFF: '500ms' };
    for (const kind of KINDS) Object.assign(env, VENDOR_CASES.find((c) => c.kind === kind)!.env(receivers.get(kind)!.url));
    const down = receivers.get('hyperdx')!;
    down.outage(503);
    const agent = await startSubscribedAgent(nats, agents, env, { label: 'isolation' });

    const entries = makeFlyEntries(N, { seed: 99 });
    await publishAll(publisher, entries, { ratePerSec: 5000 });
    for (const kind of ['signoz', 'axiom']) {
      expect(await waitForSettled(agent, N, kind, 60_000), kind).toMatchObject({ delivered: N, pending: 0 });
      expectExactlyOnce(receivers.get(kind)!.stored(), entries);
    }
    // Meanwhile HyperDX has been refusing: its entries are still pending (being retried), none lost.
    const stuck = await agent.accounting('hyperdx');
    expect(stuck).toMatchObject({ received: N, delivered: 0, rejected: 0, dropped: 0 });
    expect(stuck.pending).toBe(N);
    await waitFor(async () => (await agent.metric('logferry_sink_retries_total', { sink: 'hyperdx' })) >= 3, { what: 'hyperdx retries', timeoutMs: 20_000 });

    // Recovery: the backlog arrives, each entry once, checked as the vendor checks it.
    down.outage(undefined);
    expect(await waitForSettled(agent, N, 'hyperdx', 60_000)).toMatchObject({ delivered: N, rejected: 0, dropped: 0, pending: 0 });
    expect(down.problems).toEqual([]);
    expectExactlyOnce(down.stored(), entries);
    expectFieldsIntact(down.stored(), entries);
    await stopCleanly(agent);
  }, 120_000);
});
