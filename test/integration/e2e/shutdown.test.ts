// Issue 2, test 6: SIGINT mid-stream, with a slow receiver: the agent stops receiving,
// flushes, waits for in-flight requests, delivers everything it counted as received,
// logs its final counters and exits 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { accountingBalances } from '../../support/prometheus.js';
import { expectExactlyOnce, startHarness, stopCleanly, sum, type Harness } from './scenario.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e: SIGINT mid-stream', () => {
  it('delivers everything received before exiting 0', async () => {
    h.receiver.respondWith(() => ({ status: 200, delayMs: 300 }));
    const agent = await h.startAgent({ HTTP_BATCH_MAX_ENTRIES: '200', HTTP_MAX_IN_FLIGHT: '2' });

    const entries = makeFlyEntries(8000, { seed: 6 });
    let publishError: unknown;
    const publishing = h.publish(entries, { ratePerSec: 2000 }).catch((error: unknown) => {
      publishError = error;
    });

    // Mid-stream: the agent has received a good part, the slow receiver has some, and more is pending.
    const atSignal = await waitFor(
      async () => {
        const a = await agent.accounting('http');
        return a.received >= 2000 && a.delivered > 0 && a.pending > 0 && a;
      },
      { what: 'the agent to be mid-stream with entries pending', timeoutMs: 20_000, intervalMs: 50, context: () => agent.tail(10) },
    );
    // The accounting holds mid-flight too, not only once the sink is idle.
    expect(accountingBalances(atSignal), JSON.stringify(atSignal)).toBe(true);
    const counters = await stopCleanly(agent, 'SIGINT');
    await publishing;
    expect(publishError).toBeUndefined();

    const http = counters.sinks.http!;
    expect(counters.nats.received).toBeGreaterThanOrEqual(atSignal.received);
    expect(counters.nats.received, 'the agent stopped receiving before the stream ended').toBeLessThan(entries.length);
    expect(http.received).toBe(counters.nats.received);
    expect(http).toMatchObject({ delivered: http.received, pending: 0 });
    expect(sum(http.rejected) + sum(http.dropped)).toBe(0);
    expect(http.delivered).toBeGreaterThan(atSignal.delivered);

    // The receiver holds exactly what the agent says it delivered, each entry once.
    const got = h.receiver.entries();
    expect(got).toHaveLength(http.delivered);
    const gotIds = new Set(got.map((e) => idOf(e)));
    expectExactlyOnce(got, entries.filter((e) => gotIds.has(e.id)));
    expect(agent.logs.some((l) => l.msg === 'logferry stopped')).toBe(true);
  });
});
