// Issue 4, test 3: Loki answers a push 400, refusing 7 of its entries ("entry too far
// behind") and storing the rest. The agent counts exactly the 7 Loki reported as rejected
// (reason http_400), the rest as delivered, never retries the push, logs Loki's reason, and
// keeps delivering later batches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { expectStoredExactlyOnce, startLokiScenario, type LokiScenario } from './loki-scenario.js';

const REFUSED = 7;

let h: LokiScenario;
beforeAll(async () => {
  h = await startLokiScenario();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e loki: partial rejection (400)', () => {
  it('counts the entries Loki refused as rejected, the rest as delivered, and keeps shipping', async () => {
    const agent = await h.startAgent({ LOKI_MAX_IN_FLIGHT: '1' });
    const first = h.loki.pushes.length;
    h.loki.failNext(400, { reject: REFUSED, reason: 'entry too far behind' });

    const wave1 = makeFlyEntries(300, { seed: 4301, idPrefix: 'a-' });
    await h.publish(wave1);
    let a = await waitForSettled(agent, wave1.length, 'loki');
    const refusedPush = h.loki.pushes[first]!;
    expect(refusedPush.status).toBe(400);
    expect(refusedPush.refused).toBe(REFUSED);
    expect(refusedPush.stored).toBe(refusedPush.entries - REFUSED);
    expect(a).toMatchObject({ received: 300, rejected: REFUSED, delivered: 300 - REFUSED, dropped: 0, pending: 0 });
    expect(await agent.metric('logferry_sink_entries_rejected_total', { sink: 'loki', reason: 'http_400' })).toBe(REFUSED);

    // Later batches are delivered whole.
    const wave2 = makeFlyEntries(300, { seed: 4302, idPrefix: 'b-' });
    await h.publish(wave2);
    a = await waitForSettled(agent, wave1.length + wave2.length, 'loki');
    expect(a).toMatchObject({ received: 600, rejected: REFUSED, delivered: 600 - REFUSED, dropped: 0, pending: 0 });

    // Never retried: the stored entries are everything but the refused ones, each once.
    const stored = h.loki.entries();
    const storedIds = new Set(stored.map((s) => idOf(JSON.parse(s.line))));
    const refused = wave1.filter((e) => !storedIds.has(e.id));
    expect(refused).toHaveLength(REFUSED);
    expectStoredExactlyOnce(stored, [...wave1.filter((e) => storedIds.has(e.id)), ...wave2]);
    expect(h.loki.pushes.filter((p) => p.status === 400)).toHaveLength(1);
    expect(h.loki.violations()).toEqual([]);
    expect(await agent.metric('logferry_sink_retries_total', { sink: 'loki' })).toBe(0);

    // Loki's reason is in the log, with the count; and a 400 is no reason to call the sink unhealthy.
    const logged = agent.logs.find((l) => typeof l.err === 'string' && l.err.includes('entry too far behind'));
    expect(logged, agent.tail()).toBeDefined();
    expect(String(logged!.err)).toContain(`Loki rejected ${REFUSED} of ${refusedPush.entries} entries (HTTP 400)`);
    expect((await agent.health()).status).toBe(200);

    const counters = await stopCleanly(agent);
    expect(counters.sinks.loki!.rejected).toEqual({ http_400: REFUSED });
  });
});
