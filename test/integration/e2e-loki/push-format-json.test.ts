// LOKI_PUSH_FORMAT=json: the agent process ships the gzip JSON push instead of Loki's native
// snappy protobuf, says so at start-up, and Loki stores each entry exactly once with the same
// labels, lines and timestamps as with the default format (delivery.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { LOKI_PUSH_PATH } from '../../support/loki-receiver.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { expectStoredExactlyOnce, startLokiScenario, type LokiScenario } from './loki-scenario.js';

let h: LokiScenario;
beforeAll(async () => {
  h = await startLokiScenario();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e loki: LOKI_PUSH_FORMAT=json', () => {
  it('delivers 5,000 mixed entries exactly once as gzip JSON pushes', async () => {
    const agent = await h.startAgent({ LOKI_PUSH_FORMAT: 'json' });
    const started = agent.logs.find((l) => l.msg === 'logferry started');
    expect(started!.sinks).toEqual([expect.stringContaining('push json+gzip')]);

    const entries = makeFlyEntries(5000, { seed: 4002 });
    await h.publish(entries, { ratePerSec: 5000 });
    const a = await waitForSettled(agent, entries.length, 'loki', 60_000);
    expect(a).toMatchObject({ received: 5000, delivered: 5000, rejected: 0, dropped: 0, pending: 0 });

    expect(h.loki.violations()).toEqual([]);
    expectStoredExactlyOnce(h.loki.entries(), entries);
    const pushes = h.loki.pushes.filter((p) => p.entries > 0);
    expect(pushes.length).toBeGreaterThan(0);
    for (const p of pushes) {
      expect(p).toMatchObject({ method: 'POST', path: LOKI_PUSH_PATH, status: 204 });
      expect(p.headers['content-type']).toBe('application/json');
      expect(p.headers['content-encoding']).toBe('gzip');
    }
    const counters = await stopCleanly(agent);
    expect(counters.sinks.loki).toMatchObject({ received: 5000, delivered: 5000, pending: 0 });
  });
});
