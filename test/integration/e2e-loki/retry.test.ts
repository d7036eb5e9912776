// Issue 4, test 2: Loki answers 429 with Retry-After: 2, then 503, 500 and 502. The agent
// sends nothing before the two seconds have passed, retries the 5xx with backoff, counts
// every retry, and in the end Loki holds every entry exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { expectStoredExactlyOnce, startLokiScenario, type LokiScenario } from './loki-scenario.js';

// Two processes stamping with Date.now(): allow for millisecond rounding only.
const CLOCK_SLACK_MS = 5;

let h: LokiScenario;
beforeAll(async () => {
  h = await startLokiScenario();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e loki: 429 with Retry-After and 5xx', () => {
  it('waits out Retry-After, retries 5xx, and loses nothing', async () => {
    // One push at a time, so "no request before Retry-After elapses" is about the whole sink.
    const agent = await h.startAgent({ LOKI_MAX_IN_FLIGHT: '1' });
    const first = h.loki.pushes.length;
    h.loki.failNext(429, { retryAfter: 2 });
    h.loki.failNext(503);
    h.loki.failNext(500);
    h.loki.failNext(502);

    const entries = makeFlyEntries(400, { seed: 4201 });
    await h.publish(entries);
    const a = await waitForSettled(agent, entries.length, 'loki');
    expect(a).toMatchObject({ received: 400, delivered: 400, rejected: 0, dropped: 0, pending: 0 });

    const pushes = h.loki.pushes.slice(first);
    expect(pushes.slice(0, 4).map((p) => p.status)).toEqual([429, 503, 500, 502]);
    expect(pushes.slice(4).every((p) => p.status === 204)).toBe(true);
    // Nothing reached Loki until Retry-After had elapsed, and it was honoured, not overshot.
    const limitedAt = pushes[0]!.at;
    const next = pushes[1]!;
    expect(next.at - limitedAt, 'gap between the 429 and the next push').toBeGreaterThanOrEqual(2000 - CLOCK_SLACK_MS);
    expect(next.at - limitedAt).toBeLessThan(5000);
    // The failed pushes carried the entries that were later delivered: the same batch, retried.
    expect(pushes[1]!.entries).toBe(pushes[0]!.entries);

    expect(await agent.metric('logferry_sink_retries_total', { sink: 'loki' })).toBe(4);
    expect(h.loki.violations()).toEqual([]);
    expectStoredExactlyOnce(h.loki.entries(), entries);
    // The sink stayed healthy: retrying is not failing (HEALTH_FAIL_AFTER is 60 s by default).
    expect((await agent.health()).status).toBe(200);

    const counters = await stopCleanly(agent);
    expect(counters.sinks.loki).toMatchObject({ received: 400, delivered: 400, pending: 0, retries: 4 });
  });
});
