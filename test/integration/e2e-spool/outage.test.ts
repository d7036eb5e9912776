// Issue 5, test 1: the sink is down (nothing listens on HTTP_URL's port) while 50,000
// entries arrive, far more than the 4 MiB memory buffer holds. The overflow goes to the
// disk spool; when a receiver comes up on that port, all 50,000 arrive, none dropped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { expectBalanced, expectFieldsIntact, stopCleanly } from '../e2e/scenario.js';
import {
  MiB,
  deliveryReport,
  describeReport,
  expectNoLoss,
  sampleRss,
  spoolGauges,
  startSpoolHarness,
  waitAllOnDisk,
  waitForNatsReceived,
  type SpoolHarness,
} from './spool-scenario.js';

const N = 50_000;

let h: SpoolHarness;
beforeAll(async () => {
  h = await startSpoolHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e spool: long sink outage', () => {
  it('spools 50,000 entries while the sink is down and delivers all of them when it comes back', async () => {
    const agent = await h.startAgent();
    const rss = sampleRss(agent);

    const entries = makeFlyEntries(N, { seed: 5001 });
    await h.publish(entries, { ratePerSec: 5000 });
    await waitForNatsReceived(agent, N);
    rss.mark('published');

    // Everything is held, and (all but nothing) on disk: the memory buffer could never hold it.
    const segments = await waitAllOnDisk(agent, h.httpSpoolDir, N);
    const during = await spoolGauges(agent);
    expect(during.accounting).toMatchObject({ received: N, delivered: 0, rejected: 0, dropped: 0, pending: N });
    expect(during.written).toBeGreaterThan(1);
    expect(during.spoolBytes, 'several times what the 4 MiB memory buffer holds').toBeGreaterThan(16 * MiB);
    expect(during.up).toBe(1);
    const health = await agent.health();
    expect(health.body.sinks.http.spool).toMatchObject({ state: 'ok', entries: N });
    console.log(
      `outage: ${N} entries pending, ${during.spoolRecords} records / ${(during.spoolBytes / 1024 / 1024).toFixed(1)} MiB in ${segments.length} segment file(s), ${during.written} records written`,
    );

    // The sink comes back.
    rss.mark('sink up');
    const receiver = await h.sinkUp();
    await waitFor(() => receiver.stats().entries >= N && receiver, {
      what: `all ${N} entries at the receiver`,
      timeoutMs: 60_000,
      intervalMs: 100,
      context: async () => `receiver ${JSON.stringify(receiver.stats())}; agent ${JSON.stringify(await spoolGauges(agent))}\n${agent.tail(10)}`,
    });
    const settled = await waitFor(
      async () => {
        const g = await spoolGauges(agent);
        return g.accounting.pending === 0 && g.spoolEntries === 0 && g;
      },
      { what: 'the agent to settle with nothing pending', timeoutMs: 20_000, intervalMs: 100, context: () => agent.tail(10) },
    );
    const { peakMiB, trace } = rss.stop();
    console.log(`outage: RSS MiB over time ${trace}`);

    const report = deliveryReport(h.entries(), entries.map((e) => e.id));
    console.log(describeReport('outage', report));
    console.log(`outage: agent peak RSS ${peakMiB.toFixed(1)} MiB; ${settled.replayed} spool records replayed`);
    expectNoLoss(report);
    // One agent, no crash, a healthy receiver: every acknowledged record is acked once, so exactly once.
    expect(report.duplicateCopies, 'duplicates').toBe(0);
    expectFieldsIntact(h.entries(), entries);

    const a = await expectBalanced(agent);
    expect(a).toMatchObject({ received: N, delivered: N, rejected: 0, dropped: 0, pending: 0 });
    expect(settled.replayed).toBeGreaterThanOrEqual(during.written);
    expect(settled.spoolRecords).toBe(0);
    // Draining at full speed (~30k entries/s) the agent peaks at ~210-225 MiB on a large host,
    // however big the spool (165 MB measured the same): V8 sizes its young generation by the
    // host's RAM, and memory-only delivery at that rate peaks higher. Bounded, not loaded.
    expect(peakMiB, 'agent RSS stays bounded while the spool drains').toBeLessThan(300);
    expect((await agent.health()).body.sinks.http.state).toBe('ok');

    const counters = await stopCleanly(agent);
    expect(counters.sinks.http).toMatchObject({ received: N, delivered: N, pending: 0 });
  });
});
