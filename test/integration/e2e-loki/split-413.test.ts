// Issue 4, test 4: Loki answers 413 (request too large). The agent splits the batch in halves
// and sends each, splitting again while the answer is 413, and every entry arrives exactly
// once: first with scripted 413s (the exact halving is checked), then against a receiver
// whose body limit is far below the agent's batch size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { expectStoredExactlyOnce, startLokiScenario, type LokiScenario } from './loki-scenario.js';

describe('e2e loki: 413 splits the batch (scripted)', () => {
  let h: LokiScenario;
  beforeAll(async () => {
    h = await startLokiScenario();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('halves the batch, halves a half that is still too large, and delivers everything', async () => {
    // One push at a time and a batch age long enough for the whole wave to be one batch.
    const agent = await h.startAgent({ LOKI_MAX_IN_FLIGHT: '1', LOKI_BATCH_MAX_AGE: '1s' });
    const first = h.loki.pushes.length;
    h.loki.failNext(413, { times: 2 });

    const entries = makeFlyEntries(200, { seed: 4401 });
    await h.publish(entries);
    const a = await waitForSettled(agent, entries.length, 'loki');
    expect(a).toMatchObject({ received: 200, delivered: 200, rejected: 0, dropped: 0, pending: 0 });

    // N refused, N/2 refused, then N/4, N/4 and N/2 stored: never the same batch twice.
    const pushes = h.loki.pushes.slice(first);
    const n = pushes[0]!.entries;
    const half = Math.ceil(n / 2);
    expect(n).toBeGreaterThanOrEqual(4);
    expect(pushes.slice(0, 5).map((p) => [p.status, p.entries])).toEqual([
      [413, n],
      [413, half],
      [204, Math.ceil(half / 2)],
      [204, Math.floor(half / 2)],
      [204, n - half],
    ]);
    expect(await agent.metric('logferry_sink_batches_total', { sink: 'loki', outcome: 'split' })).toBe(2);
    expect(h.loki.violations()).toEqual([]);
    expectStoredExactlyOnce(h.loki.entries(), entries);
    await stopCleanly(agent);
  });
});

describe('e2e loki: 413 splits the batch (body limit)', () => {
  const LIMIT = 24 * 1024;
  let h: LokiScenario;
  beforeAll(async () => {
    h = await startLokiScenario({ maxBodyBytes: LIMIT });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('splits until each push fits under the limit, and delivers every entry', async () => {
    const agent = await h.startAgent();
    const entries = makeFlyEntries(3000, { seed: 4402 });
    await h.publish(entries, { ratePerSec: 3000 });
    const a = await waitForSettled(agent, entries.length, 'loki', 45_000);
    expect(a).toMatchObject({ received: 3000, delivered: 3000, rejected: 0, dropped: 0, pending: 0 });

    const pushes = h.loki.pushes.filter((p) => p.entries > 0 || p.rawBytes > LIMIT);
    expect(pushes.some((p) => p.status === 413)).toBe(true);
    for (const p of pushes) expect(p.status === 204 ? p.rawBytes <= LIMIT : p.status === 413 && p.rawBytes > LIMIT, `push ${p.index}: ${p.status}, ${p.rawBytes} bytes`).toBe(true);
    expect(await agent.metric('logferry_sink_batches_total', { sink: 'loki', outcome: 'split' })).toBeGreaterThan(0);
    expect(h.loki.violations()).toEqual([]);
    expectStoredExactlyOnce(h.loki.entries(), entries);
    await stopCleanly(agent);
  });
});
