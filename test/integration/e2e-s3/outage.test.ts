// Issue 3, test 2: the store goes away (connections reset), then answers 503 SlowDown for a
// while, then comes back. The agent retries throughout, /health (200 throughout: the entries
// are held) says the sink is failing and then ok again, every retry is counted, and the bucket ends up with every entry exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { expectArchive, startS3Scenario, type S3Scenario } from './s3-scenario.js';

let h: S3Scenario;
beforeAll(async () => {
  h = await startS3Scenario({ proxy: true });
});
afterAll(async () => {
  await h?.close();
});

describe('e2e s3: store unreachable, then back', () => {
  it('retries until the store is back and loses nothing', async () => {
    const proxy = h.proxy!;
    // The sink counts as failing after one second (HEALTH_FAIL_AFTER); /health still answers
    // 200, since the agent holds the entries (a store outage must not block a deploy).
    const agent = await h.startAgent({ HEALTH_FAIL_AFTER: '1s' });

    const before = makeFlyEntries(500, { seed: 3201, idPrefix: 'before-' });
    await h.publish(before);
    await waitForSettled(agent, before.length, 's3');
    expect((await agent.health()).status).toBe(200);

    // Down: connections are reset. Nothing is in flight, so no upload can half-succeed.
    await proxy.down();
    const during = makeFlyEntries(2000, { seed: 3202, idPrefix: 'during-', startMs: Date.UTC(2026, 10, 26, 21, 0, 0) });
    await h.publish(during, { ratePerSec: 2000 });
    await waitFor(
      async () => {
        const health = await agent.health();
        const retries = await agent.metric('logferry_sink_retries_total', { sink: 's3' });
        const a = await agent.accounting('s3');
        return a.received === 2500 && retries >= 3 && health.status === 200 && health.body?.sinks?.s3?.state === 'failing' && health;
      },
      { what: 'retries counted and /health reporting the s3 sink failing', timeoutMs: 20_000, intervalMs: 100, context: async () => `${JSON.stringify((await agent.health()).body)}\n${agent.tail(10)}` },
    );
    const health = await agent.health();
    expect(health.body.sinks.s3.lastError, JSON.stringify(health.body)).toMatch(/ECONNRESET|ECONNREFUSED|refused|connect/i);
    let a = await agent.accounting('s3');
    expect(a).toMatchObject({ received: 2500, delivered: 500, rejected: 0, dropped: 0, pending: 2000 });
    // Still running, and NATS is fine: only the sink is failing.
    expect(agent.isRunning()).toBe(true);
    expect(health.body.nats.connected).toBe(true);

    // Back, but overloaded: every request is answered 503 SlowDown for a while.
    proxy.failAll({ status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' });
    const requestsBefore = proxy.requests.length;
    await proxy.up();
    await waitFor(() => proxy.requests.slice(requestsBefore).filter((r) => r.status === 503).length >= 3, {
      what: 'three uploads answered 503 SlowDown',
      timeoutMs: 20_000,
      context: () => agent.tail(10),
    });
    a = await agent.accounting('s3');
    expect(a.delivered).toBe(500);

    // Healthy again.
    proxy.failAll(undefined);
    a = await waitForSettled(agent, before.length + during.length, 's3', 30_000);
    expect(a).toMatchObject({ received: 2500, delivered: 2500, rejected: 0, dropped: 0, pending: 0 });
    await waitFor(async () => (await agent.health()).status === 200, { what: '/health back to 200', timeoutMs: 10_000 });
    expect((await agent.health()).body.sinks.s3.state).toBe('ok');

    // Every failed attempt was counted: the 503s the proxy answered, plus at least one reset connection.
    const slowDowns = proxy.requests.filter((r) => r.status === 503).length;
    const retries = await agent.metric('logferry_sink_retries_total', { sink: 's3' });
    expect(retries).toBeGreaterThanOrEqual(slowDowns + 1);

    expectArchive(await h.objects(), [...before, ...during]);
    const counters = await stopCleanly(agent);
    expect(counters.sinks.s3).toMatchObject({ received: 2500, delivered: 2500, pending: 0, retries });
  });
});
