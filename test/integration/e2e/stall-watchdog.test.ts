// The stall watchdog: with STALL_TIMEOUT=1s and no traffic the agent counts a stall,
// reports it in /health and resubscribes; when traffic resumes it arrives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { expectExactlyOnce, startHarness, stopCleanly, waitForSettled, type Harness } from './scenario.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e: stall watchdog', () => {
  it('counts a silent stream as a stall, reports it, and ships when traffic resumes', async () => {
    const agent = await h.startAgent({ STALL_TIMEOUT: '1s' });
    const firstSubs = await h.nats.waitForSubscribers('logs.>', 1);
    const known = new Set(firstSubs.map((s) => `${s.cid}/${s.sid}`));

    await waitFor(async () => (await agent.metric('logferry_nats_stalls_total')) >= 1, {
      what: 'a stall to be counted',
      timeoutMs: 10_000,
      context: () => agent.tail(10),
    });
    const health = await waitFor(
      async () => {
        const hh = await agent.health();
        return (hh.body?.nats?.stalls ?? 0) >= 1 && hh;
      },
      { what: '/health to report the stall', timeoutMs: 5000 },
    );
    expect(health.body.nats.stalled).toBe(true);

    // The watchdog replaced the subscription (resubscribe, or reconnect). Publish right
    // after a fresh one appears, well inside the next STALL_TIMEOUT, so the test never
    // races the watchdog's next action.
    await waitFor(
      async () => {
        const subs = await h.nats.subscriptions();
        return subs.some((s) => s.subject === 'logs.>' && !known.has(`${s.cid}/${s.sid}`));
      },
      { what: 'the watchdog to resubscribe', timeoutMs: 10_000, intervalMs: 20, context: () => agent.tail(10) },
    );
    const entries = makeFlyEntries(200, { seed: 9 });
    await h.publish(entries);
    await h.receiver.waitForEntries(entries.length, 20_000);
    await waitForSettled(agent, entries.length);
    expectExactlyOnce(h.receiver.entries(), entries);

    const after = await waitFor(
      async () => {
        const hh = await agent.health();
        return hh.body?.nats?.stalled === false && hh;
      },
      { what: '/health to clear the stalled flag once messages flow', timeoutMs: 5000 },
    );
    expect(after.body.nats.stalls).toBeGreaterThanOrEqual(1);
    await stopCleanly(agent);
  });
});
