// Issue 2, test 4: a permanent 400 on one batch is counted as rejected (reason http_400,
// exactly that batch's size), never retried, and later batches are still delivered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { expectExactlyOnce, startHarness, stopCleanly, waitForSettled, type Harness } from './scenario.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e: permanent rejection (400)', () => {
  it('counts the refused batch as rejected and keeps shipping later batches', async () => {
    const agent = await h.startAgent({ HTTP_BATCH_MAX_ENTRIES: '100' });
    h.receiver.failNext(400, { body: 'invalid log line: field "timestamp" rejected' });

    const first = makeFlyEntries(500, { seed: 400, idPrefix: 'a-' });
    await h.publish(first);
    await h.receiver.waitForRequests(1);
    const refused = h.receiver.requests[0]!;
    expect(refused.status).toBe(400);
    expect(refused.entryCount).toBeGreaterThan(0);
    const refusedIds = new Set(refused.entries.map((e) => idOf(e)));

    let a = await waitForSettled(agent, first.length);
    expect(a).toMatchObject({ received: 500, rejected: refused.entryCount, delivered: 500 - refused.entryCount, dropped: 0, pending: 0 });
    expect(await agent.metric('logferry_sink_entries_rejected_total', { sink: 'http', reason: 'http_400' })).toBe(refused.entryCount);

    // Later batches go through.
    const second = makeFlyEntries(500, { seed: 401, idPrefix: 'b-' });
    await h.publish(second);
    a = await waitForSettled(agent, first.length + second.length);
    expect(a).toMatchObject({ received: 1000, rejected: refused.entryCount, delivered: 1000 - refused.entryCount, dropped: 0, pending: 0 });

    // Never retried: no accepted request carries a refused entry, nothing was counted as a retry.
    expectExactlyOnce(h.receiver.entries(), [...first.filter((e) => !refusedIds.has(e.id)), ...second]);
    expect(h.receiver.requests.filter((r) => r.status === 400)).toHaveLength(1);
    expect(await agent.metric('logferry_sink_retries_total', { sink: 'http' })).toBe(0);

    // The rejection is logged with the status and an excerpt of the answer.
    const logged = agent.stdoutLines.find((l) => l.includes('field \\"timestamp\\" rejected') || l.includes('field "timestamp" rejected'));
    expect(logged, agent.tail()).toBeDefined();
    expect(logged).toContain('400');

    const counters = await stopCleanly(agent);
    expect(counters.sinks.http!.rejected).toEqual({ http_400: refused.entryCount });
  });
});
