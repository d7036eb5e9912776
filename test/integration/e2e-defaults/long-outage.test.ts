// Issue 14: 1,000,000 ~1.1 KB entries (~1.1 GB) arrive while the sink is down for 60 s. With
// default settings (and the Dockerfile's NODE_OPTIONS, as shipped) the default spool takes
// them; all are delivered once the sink comes back; the spool stays within its bound and peak
// RSS under 200 MiB. Long and heavy: LOGFERRY_E2E_OUTAGE_ENTRIES / LOGFERRY_E2E_OUTAGE_SECONDS
// shrink it (defaults: the full size).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/poll.js';
import { expectBalanced, stopCleanly } from '../e2e/scenario.js';
import { MiB, flushTally, paddedEntries, peakRssMiB, startDefaultsHarness, type DefaultsHarness } from './defaults-scenario.js';

const N = Number(process.env.LOGFERRY_E2E_OUTAGE_ENTRIES ?? 1_000_000);
const OUTAGE_MS = Number(process.env.LOGFERRY_E2E_OUTAGE_SECONDS ?? 60) * 1000;
const CHUNK = 20_000;
// What the Dockerfile sets: the heap of a 256 MB VM.
const NODE_OPTIONS = '--max-old-space-size=160 --max-semi-space-size=1';

let h: DefaultsHarness;
beforeAll(async () => {
  h = await startDefaultsHarness({ sinkUp: false });
});
afterAll(async () => {
  await h?.close();
});

describe('e2e defaults: a long outage', () => {
  it(`spools ${N} entries while the sink is down for ${OUTAGE_MS / 1000} s and delivers all of them after`, { timeout: 30 * 60_000 }, async () => {
    const agent = await h.startAgent({ NODE_OPTIONS });
    const started = Date.now();
    let peakSpoolBytes = 0;
    let spoolMax = 0;
    let overBound = 0;
    const sampler = setInterval(() => {
      void Promise.all([agent.metric('logferry_spool_bytes', { sink: 'http' }), agent.metric('logferry_spool_max_bytes', { sink: 'http' })]).then(
        ([bytes, max]) => {
          peakSpoolBytes = Math.max(peakSpoolBytes, bytes);
          spoolMax = max;
          if (bytes > max) overBound++;
        },
        () => undefined,
      );
    }, 500);

    const ids: string[] = [];
    for (let i = 0; i < N; i += CHUNK) {
      const chunk = paddedEntries(Math.min(CHUNK, N - i), { seed: 1410 + i, idPrefix: `o${i}-` });
      for (const e of chunk) ids.push(e.id);
      await h.publish(chunk);
    }
    const publishedAfter = Date.now() - started;
    await waitFor(async () => (await agent.metric('logferry_nats_messages_received_total')) >= N, { what: `${N} received`, timeoutMs: 120_000, intervalMs: 200 });
    const during = await agent.accounting('http');
    expect(during, 'all held, nothing dropped, nothing delivered while down').toMatchObject({ received: N, delivered: 0, dropped: 0, pending: N });

    // The outage lasts OUTAGE_MS from the start (longer if publishing took longer).
    await new Promise((r) => setTimeout(r, Math.max(0, started + OUTAGE_MS - Date.now())));
    const upAt = Date.now();
    await h.sinkUp();
    await waitFor(
      async () => {
        const a = await agent.accounting('http');
        return a.pending === 0 && a;
      },
      { what: 'everything delivered', timeoutMs: 20 * 60_000, intervalMs: 500, context: async () => `${JSON.stringify(await agent.accounting('http'))}\n${agent.tail(8)}` },
    );
    const drainMs = Date.now() - upAt;
    clearInterval(sampler);
    const peak = await peakRssMiB(agent.pid);
    const a = await expectBalanced(agent);
    expect(a).toMatchObject({ received: N, delivered: N, dropped: 0, rejected: 0, pending: 0 });
    flushTally(h.receiver);
    const report = h.tally.report(ids);
    console.log(
      `long outage: ${N} entries published in ${(publishedAfter / 1000).toFixed(1)} s, peak spool ${(peakSpoolBytes / MiB).toFixed(0)} MiB of ${(spoolMax / MiB).toFixed(0)} MiB bound, ` +
        `drained in ${(drainMs / 1000).toFixed(1)} s, peak RSS (VmHWM) ${peak.toFixed(0)} MiB; ${JSON.stringify(report)}`,
    );
    expect(report).toMatchObject({ expected: N, missing: 0, duplicateCopies: 0, unexpected: 0, withoutId: 0 });
    expect(overBound, 'the spool never exceeded its bound').toBe(0);
    expect(peak, 'peak RSS').toBeLessThan(200);
    await stopCleanly(agent);
  });
});
