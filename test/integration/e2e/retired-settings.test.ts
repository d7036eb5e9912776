// A deployment that still sets GZIP_ENCODER (the native gzip encoder is gone) starts as
// before, says once that the setting is ignored, and delivers gzip bodies made by zlib.
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { startHarness, stopCleanly, waitForSettled, type Harness } from './scenario.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e: retired settings', () => {
  it('GZIP_ENCODER=native is accepted and ignored, with one warning at start', async () => {
    const agent = await h.startAgent({ HTTP_COMPRESSION: 'gzip', GZIP_ENCODER: 'native' });
    expect(agent.logs.find((l) => l.msg === 'logferry started'), agent.tail()).toBeDefined();
    const entries = makeFlyEntries(500, { seed: 77 });
    await h.publish(entries, { ratePerSec: 5000 });
    const a = await waitForSettled(agent, entries.length);
    expect(a).toMatchObject({ received: 500, delivered: 500, pending: 0 });
    const warnings = agent.logs.filter((l) => (l as { setting?: unknown }).setting === 'GZIP_ENCODER');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toBe('GZIP_ENCODER is no longer used and is ignored');
    for (const req of h.receiver.requests) expect(() => gunzipSync(req.body)).not.toThrow();
    await stopCleanly(agent);
  });
});
