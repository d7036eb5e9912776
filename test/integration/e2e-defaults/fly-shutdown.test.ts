// Issue 14: on Fly without a volume the default spool is on the machine's own disk, which a
// deploy replaces. SIGINT with the sink down: the agent keeps trying to deliver until
// SHUTDOWN_TIMEOUT (rather than leaving entries on a disk that will not survive), then exits
// 0 and its final line says how many entries are undelivered and that their disk does not
// survive. (Locally, with a disk that survives, it exits promptly: e2e-spool/shutdown.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/poll.js';
import { paddedEntries, startDefaultsHarness, type DefaultsHarness } from './defaults-scenario.js';

let h: DefaultsHarness;
beforeAll(async () => {
  h = await startDefaultsHarness({ sinkUp: false });
});
afterAll(async () => {
  await h?.close();
});

describe('e2e defaults: shutdown on Fly without a volume', () => {
  it('delivers until SHUTDOWN_TIMEOUT, then says the undelivered entries are on a disk that does not survive', { timeout: 120_000 }, async () => {
    // FLY_APP_NAME makes the agent think it is on Fly (the test nats-server takes any credentials).
    const agent = await h.startAgent({ FLY_APP_NAME: 'logferry-test', ACCESS_TOKEN: 'FlyV1 fm2_test', SHUTDOWN_TIMEOUT: '4s' });
    const start = agent.logs.find((l) => l.msg === 'logferry started') as { spool: { dir: string; survivesRestart: boolean } };
    expect(start.spool.survivesRestart, `${start.spool.dir} is not on a volume`).toBe(false);
    const entries = paddedEntries(2000, { seed: 1430 });
    await h.publish(entries);
    await waitFor(async () => (await agent.accounting('http')).received === entries.length, { what: 'all received', timeoutMs: 30_000, intervalMs: 100 });
    await waitFor(async () => (await agent.metric('logferry_spool_entries', { sink: 'http' })) === entries.length, { what: 'all spooled', timeoutMs: 30_000, intervalMs: 100 });

    // Where the spool is, its bound and how full: /health, /metrics and the start-up line agree.
    const health = (await agent.health()).body.sinks.http;
    const spoolBytes = await agent.metric('logferry_spool_bytes', { sink: 'http' });
    const spoolMax = await agent.metric('logferry_spool_max_bytes', { sink: 'http' });
    expect(health.spool).toMatchObject({ state: 'ok', entries: entries.length, dir: `${start.spool.dir}/http`, maxBytes: spoolMax });
    expect(health.spool.bytes).toBeGreaterThan(entries.length * 1000);
    expect(spoolBytes).toBeGreaterThan(entries.length * 1000);
    expect(spoolMax).toBe((start.spool as unknown as { maxBytesPerSink: number }).maxBytesPerSink);
    expect(health.bufferMaxBytes).toBe(await agent.metric('logferry_sink_buffer_max_bytes', { sink: 'http' }));
    expect(health.bufferMaxBytes).toBeGreaterThanOrEqual(8 * 1024 * 1024);

    const started = Date.now();
    const status = await agent.stop('SIGINT', 40_000);
    const tookMs = Date.now() - started;
    expect(status).toEqual({ code: 0, signal: null });
    expect(tookMs, 'kept trying until SHUTDOWN_TIMEOUT').toBeGreaterThanOrEqual(3_900);
    const stopped = agent.logs.find((l) => l.msg === 'logferry stopped') as { undelivered: { entries: number; inSpool: number; spoolSurvivesRestart: boolean; summary: string } };
    console.log(`fly shutdown: after ${tookMs} ms: ${JSON.stringify(stopped.undelivered)}`);
    expect(stopped.undelivered).toMatchObject({ entries: entries.length, inSpool: entries.length, spoolSurvivesRestart: false });
    expect(stopped.undelivered.summary).toContain('does not survive');
  });
});
