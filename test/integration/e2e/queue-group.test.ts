// Issue 2, test 8: two agents in one NATS queue group share the stream: every entry is
// delivered exactly once in total, and both agents take part.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { expectExactlyOnce, expectFieldsIntact, startHarness, stopCleanly, waitForSettled, type Harness } from './scenario.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e: two agents in one queue group', () => {
  it('delivers every entry exactly once in total', async () => {
    const first = await h.startAgent({ QUEUE: 'logferry-ha' }, { label: 'agent-a' });
    const second = await h.startAgent({ QUEUE: 'logferry-ha' }, { label: 'agent-b' });
    const subs = await h.nats.waitForSubscribers('logs.>', 2, { queue: 'logferry-ha' });
    expect(new Set(subs.map((s) => s.cid)).size).toBe(2);

    const entries = makeFlyEntries(6000, { seed: 8 });
    await h.publish(entries, { ratePerSec: 3000 });
    await h.receiver.waitForEntries(entries.length, 30_000);

    const receivedA = await first.metric('logferry_nats_messages_received_total');
    const receivedB = await second.metric('logferry_nats_messages_received_total');
    expect(receivedA + receivedB).toBe(entries.length);
    // Random distribution over 6000 messages: each agent gets a real share.
    expect(receivedA).toBeGreaterThan(500);
    expect(receivedB).toBeGreaterThan(500);
    const a = await waitForSettled(first, receivedA);
    const b = await waitForSettled(second, receivedB);
    expect(a).toMatchObject({ received: receivedA, delivered: receivedA, rejected: 0, dropped: 0, pending: 0 });
    expect(b).toMatchObject({ received: receivedB, delivered: receivedB, rejected: 0, dropped: 0, pending: 0 });

    expectExactlyOnce(h.receiver.entries(), entries);
    expectFieldsIntact(h.receiver.entries(), entries);

    await Promise.all([stopCleanly(first), stopCleanly(second)]);
  });
});
