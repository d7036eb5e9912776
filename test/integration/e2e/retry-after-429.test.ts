// Issue 2, test 3: a 429 with Retry-After: 2 is honoured: no request reaches the endpoint
// before two seconds have passed, then the batch is delivered (and not much later).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { expectExactlyOnce, startHarness, stopCleanly, waitForSettled, type Harness } from './scenario.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

// Two processes stamping with Date.now(): allow for millisecond rounding only.
const CLOCK_SLACK_MS = 5;

describe('e2e: rate limited (429 + Retry-After)', () => {
  it('waits the Retry-After seconds before sending again, then delivers', async () => {
    // One request at a time, so "no request before it elapses" is about the whole sink.
    const agent = await h.startAgent({ HTTP_MAX_IN_FLIGHT: '1' });
    h.receiver.failNext(429, { retryAfter: 2, body: 'slow down' });

    const entries = makeFlyEntries(50, { seed: 429 });
    await h.publish(entries);
    await h.receiver.waitForEntries(entries.length, 20_000);
    await waitForSettled(agent, entries.length);

    const reqs = h.receiver.requests;
    expect(reqs[0]!.status).toBe(429);
    const limitedAt = reqs[0]!.at;
    const next = reqs[1]!;
    expect(next.at - limitedAt, 'gap between the 429 and the next request').toBeGreaterThanOrEqual(2000 - CLOCK_SLACK_MS);
    // Honoured, not overshot by the exponential backoff (RETRY_INITIAL_BACKOFF is 100 ms here).
    expect(next.at - limitedAt).toBeLessThan(5000);

    expectExactlyOnce(h.receiver.entries(), entries);
    expect(await agent.metric('logferry_sink_retries_total', { sink: 'http' })).toBe(1);
    expect(await agent.metric('logferry_sink_entries_rejected_total', { sink: 'http' })).toBe(0);
    await stopCleanly(agent);
  });
});
