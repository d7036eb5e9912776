// Issue 2, test 5: nats-server restarts mid-stream (on the same port). The agent
// reconnects and keeps shipping; what was published before the stop was delivered, what
// is published after the restart arrives, and nothing is duplicated.
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

describe('e2e: nats-server restart', () => {
  it('reconnects after a restart and ships what is published afterwards', async () => {
    const agent = await h.startAgent();
    const before = makeFlyEntries(2000, { seed: 51, idPrefix: 'before-' });
    await h.publish(before, { ratePerSec: 4000 });
    await h.receiver.waitForEntries(before.length, 30_000);
    await waitForSettled(agent, before.length);

    await h.nats.stop();
    await waitFor(async () => (await agent.metric('logferry_nats_connected')) === 0, {
      what: 'the agent to notice the server is gone',
      timeoutMs: 15_000,
      context: () => agent.tail(10),
    });
    expect((await agent.health()).body.nats.connected).toBe(false);
    expect(await agent.metric('logferry_nats_disconnects_total')).toBeGreaterThanOrEqual(1);

    await h.nats.restart();
    await waitFor(async () => (await agent.metric('logferry_nats_reconnects_total')) >= 1 && (await agent.metric('logferry_nats_connected')) === 1, {
      what: 'the agent to reconnect',
      timeoutMs: 30_000,
      context: () => agent.tail(10),
    });
    await h.nats.waitForSubscribers('logs.>', 1);
    expect((await agent.health()).body.nats.connected).toBe(true);

    await h.reconnectPublisher();
    const after = makeFlyEntries(2000, { seed: 52, idPrefix: 'after-' });
    await h.publish(after, { ratePerSec: 4000 });
    await h.receiver.waitForEntries(before.length + after.length, 30_000);
    const a = await waitForSettled(agent, before.length + after.length);
    expect(a).toMatchObject({ received: 4000, delivered: 4000, rejected: 0, dropped: 0, pending: 0 });

    expectExactlyOnce(h.receiver.entries(), [...before, ...after]);
    expect(agent.isRunning()).toBe(true);
    await stopCleanly(agent);
  });
});
