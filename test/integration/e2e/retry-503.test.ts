// Issue 2, test 2: the receiver answers 503 for several seconds, then recovers: nothing is
// lost, nothing is duplicated, every failed attempt is counted as a retry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { expectExactlyOnce, expectFieldsIntact, startHarness, stopCleanly, waitForSettled, type Harness } from './scenario.js';

const OUTAGE_MS = 4000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e: receiver outage (503)', () => {
  it('retries through several seconds of 503 and then delivers everything exactly once', async () => {
    // JSON-array bodies here (the bulk test covers NDJSON).
    const agent = await h.startAgent({ HTTP_FORMAT: 'json' });
    let outageStartedAt: number | undefined;
    h.receiver.respondWith((req) => {
      outageStartedAt ??= req.at;
      return req.at - outageStartedAt < OUTAGE_MS ? { status: 503, body: 'upstream unavailable' } : undefined;
    });

    const entries = makeFlyEntries(3000, { seed: 503 });
    const publishing = h.publish(entries, { ratePerSec: 1000 });

    // While the endpoint is down the sink is retrying, and /health still answers 200.
    const during = await waitFor(
      async () => {
        const health = await agent.health();
        return health.body?.sinks?.http?.state === 'retrying' && health;
      },
      { what: 'health to report the http sink as retrying', timeoutMs: OUTAGE_MS, intervalMs: 50, context: () => agent.tail(10) },
    );
    expect(during.status).toBe(200);
    expect(await agent.metric('logferry_sink_retries_total', { sink: 'http' })).toBeGreaterThanOrEqual(1);

    await publishing;
    await h.receiver.waitForEntries(entries.length, 30_000);
    const a = await waitForSettled(agent, entries.length);
    expect(a).toMatchObject({ received: 3000, delivered: 3000, rejected: 0, dropped: 0, pending: 0 });

    const failed = h.receiver.requests.filter((r) => r.status === 503);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    // The outage lasted what it was scripted to: the last 503 came at least OUTAGE_MS - 1 s after the first.
    expect(failed.at(-1)!.at - failed[0]!.at).toBeGreaterThanOrEqual(OUTAGE_MS - 1000);
    expect(h.receiver.accepted()[0]!.headers['content-type']).toMatch(/application\/json/);
    expect(await agent.metric('logferry_sink_retries_total', { sink: 'http' })).toBe(failed.length);

    expectExactlyOnce(h.receiver.entries(), entries);
    expectFieldsIntact(h.receiver.entries(), entries);

    const health = await agent.health();
    expect(health.status).toBe(200);
    expect(health.body.sinks.http.state).toBe('ok');

    const counters = await stopCleanly(agent);
    expect(counters.sinks.http).toMatchObject({ received: 3000, delivered: 3000, pending: 0, retries: failed.length });
  });
});
