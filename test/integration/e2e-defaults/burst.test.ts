// Issue 14, the four rows of its table, with DEFAULT settings only (no buffer sizes, no
// SPOOL_DIR): what the memory buffer cannot hold goes to the default spool under ./data,
// and every entry is delivered exactly once (2xx answers only count; 503/429 store nothing).
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/poll.js';
import { expectBalanced, stopCleanly } from '../e2e/scenario.js';
import { flushTally, paddedEntries, peakRssMiB, rateCapped, startDefaultsHarness, type DefaultsHarness } from './defaults-scenario.js';
import type { Agent } from '../../support/agent.js';

const BURST = 20_000;
let h: DefaultsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function settled(agent: Agent, received: number, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const a = await agent.accounting('http');
      return a.received === received && a.pending === 0 && a;
    },
    { what: `${agent.label}: ${received} received and nothing pending`, timeoutMs, intervalMs: 200, context: async () => `${JSON.stringify(await agent.accounting('http'))}\n${agent.tail(8)}` },
  );
}

function expectExactlyOnce(harness: DefaultsHarness, ids: readonly string[], what: string): void {
  flushTally(harness.receiver);
  const r = harness.tally.report(ids);
  console.log(`${what}: ${JSON.stringify(r)}`);
  expect(r, what).toMatchObject({ expected: ids.length, missing: 0, duplicateCopies: 0, unexpected: 0, withoutId: 0 });
}

describe('e2e defaults: bursts, failures, slow sinks, restarts', () => {
  it('row 1: a burst of 20,000 ~1.1 KB entries at full speed into a slow-ish receiver: all delivered once', async () => {
    h = await startDefaultsHarness();
    h.receiver!.respondWith(() => ({ status: 200, delayMs: 50 }));
    const agent = await h.startAgent();
    const entries = paddedEntries(BURST, { seed: 1401 });
    await h.publish(entries);
    await settled(agent, BURST, 120_000);
    const a = await expectBalanced(agent);
    expect(a).toMatchObject({ received: BURST, delivered: BURST, dropped: 0, rejected: 0, pending: 0 });
    expectExactlyOnce(h, entries.map((e) => e.id), 'row 1');
    console.log(`row 1: peak RSS ${(await peakRssMiB(agent.pid)).toFixed(0)} MiB, spooled batches ${await agent.metric('logferry_sink_batches_total', { sink: 'http', outcome: 'spooled' })}`);
    await stopCleanly(agent);
  });

  it('row 2: the burst into an endpoint answering 503 for 8 s, then 429 to every 5th request: all delivered once', async () => {
    h = await startDefaultsHarness();
    let failUntil = 0;
    let n = 0;
    h.receiver!.respondWith(() => {
      if (Date.now() < failUntil) return { status: 503 };
      return ++n % 5 === 0 ? { status: 429 } : undefined;
    });
    const agent = await h.startAgent();
    const entries = paddedEntries(BURST, { seed: 1402 });
    failUntil = Date.now() + 8000;
    await h.publish(entries);
    await settled(agent, BURST, 180_000);
    const a = await expectBalanced(agent);
    expect(a).toMatchObject({ received: BURST, delivered: BURST, dropped: 0, rejected: 0, pending: 0 });
    expect(h.receiver!.requests.some((r) => r.status === 503)).toBe(true);
    expect(h.receiver!.requests.some((r) => r.status === 429)).toBe(true);
    expectExactlyOnce(h, entries.map((e) => e.id), 'row 2');
    await stopCleanly(agent);
  });

  it('row 3: the burst into an endpoint taking 300 ms per request, SIGINT 0.5 s in: exit 0, nothing lost, the next start delivers any rest', async () => {
    h = await startDefaultsHarness();
    h.receiver!.respondWith(() => ({ status: 200, delayMs: 300 }));
    const first = await h.startAgent();
    const entries = paddedEntries(BURST, { seed: 1403 });
    const publishing = h.publish(entries);
    await new Promise((r) => setTimeout(r, 500));
    const counters = await stopCleanly(first, 'SIGINT');
    await publishing;
    const got = counters.sinks.http!;
    const received = got.received;
    expect(received, 'the agent had taken in part of the burst').toBeGreaterThan(0);
    expect(Object.values(got.dropped).reduce((x, y) => x + y, 0), 'nothing dropped').toBe(0);
    const stopped = first.logs.find((l) => l.msg === 'logferry stopped') as { undelivered: { entries: number; inSpool: number; spoolSurvivesRestart: boolean } };
    expect(stopped.undelivered.entries).toBe(got.pending);
    expect(stopped.undelivered.inSpool, 'whatever is undelivered is in the spool').toBe(got.pending);
    expect(stopped.undelivered.spoolSurvivesRestart).toBe(true);
    console.log(`row 3: first agent received ${received}, delivered ${got.delivered}, left ${got.pending} in the spool`);

    // The next start (same working directory, so the same ./data/spool) delivers the rest.
    const second = await h.startAgent();
    await settled(second, got.pending, 60_000);
    const a2 = await expectBalanced(second);
    expect(a2).toMatchObject({ received: got.pending, delivered: got.pending, dropped: 0, pending: 0 });
    // Exactly the entries the first agent received arrived, each once (which ones: a prefix of the burst).
    flushTally(h.receiver);
    const delivered = entries.filter((e) => h!.tally.counts.has(e.id)).map((e) => e.id);
    expect(delivered).toHaveLength(received);
    expectExactlyOnce(h, delivered, 'row 3');
    await stopCleanly(second);
  });

  it('row 4: 200,000 entries at full speed into an endpoint accepting ~40,000 entries/s: all delivered once', async () => {
    h = await startDefaultsHarness();
    h.receiver!.respondWith(rateCapped(40_000));
    const agent = await h.startAgent();
    const N = 200_000;
    const ids: string[] = [];
    for (let i = 0; i < N; i += 20_000) {
      const chunk = paddedEntries(20_000, { seed: 1404 + i, idPrefix: `r4-${i}-` });
      for (const e of chunk) ids.push(e.id);
      await h.publish(chunk);
    }
    await settled(agent, N, 300_000);
    const a = await expectBalanced(agent);
    expect(a).toMatchObject({ received: N, delivered: N, dropped: 0, rejected: 0, pending: 0 });
    console.log(`row 4: peak RSS ${(await peakRssMiB(agent.pid)).toFixed(0)} MiB, spooled batches ${await agent.metric('logferry_sink_batches_total', { sink: 'http', outcome: 'spooled' })}`);
    expectExactlyOnce(h, ids, 'row 4');
    await stopCleanly(agent);
  });
});
