// Shutdown with a spool and the sink down (issue 5 with issue 2's graceful stop): SIGINT
// mid-stream drops nothing; what was received is on disk when the agent exits and is
// delivered by the next agent. And since everything is safe on a disk that survives the
// restart (a local disk here; on Fly only a volume) and the sink is down, there is nothing to
// wait for: the agent exits promptly rather than sitting out SHUTDOWN_TIMEOUT (fly.toml's
// kill_timeout is 30 s; every deploy during an outage would take that long). A spool that
// does not survive (Fly without a volume) is delivered from until the deadline instead:
// test/integration/e2e-defaults/fly-shutdown.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { expectBalanced, stopCleanly, sum } from '../e2e/scenario.js';
import {
  deliveryReport,
  describeReport,
  diskEntries,
  diskIds,
  expectNoLoss,
  readSegments,
  spoolGauges,
  startSpoolHarness,
  waitAllOnDisk,
  waitForNatsReceived,
  type SpoolHarness,
} from './spool-scenario.js';

let h: SpoolHarness;
beforeAll(async () => {
  h = await startSpoolHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e spool: shutdown with the sink down', () => {
  it('SIGINT mid-stream spools everything received (nothing dropped) and the next agent delivers it', async () => {
    const first = await h.startAgent({ SHUTDOWN_TIMEOUT: '3s' }, { label: 'first' });
    const entries = makeFlyEntries(10_000, { seed: 5010, idPrefix: 'mid-' });
    let publishError: unknown;
    const publishing = h.publish(entries, { ratePerSec: 4000 }).catch((error: unknown) => {
      publishError = error;
    });
    await waitFor(async () => (await first.accounting('http')).received >= 3000, { what: 'the first agent to be mid-stream', timeoutMs: 20_000, context: () => first.tail(10) });
    const counters = await stopCleanly(first);
    await publishing;
    expect(publishError).toBeUndefined();

    const http = counters.sinks.http!;
    console.log(`shutdown mid-stream: final counters ${JSON.stringify(http)}`);
    expect(http.received).toBe(counters.nats.received);
    expect(http.received).toBeLessThan(entries.length);
    expect(sum(http.dropped) + sum(http.rejected)).toBe(0);
    expect(http).toMatchObject({ delivered: 0, pending: http.received });
    const onDisk = await readSegments(h.httpSpoolDir);
    expect(diskEntries(onDisk)).toBe(http.received);

    await h.sinkUp();
    const second = await h.startAgent({}, { label: 'second' });
    await waitFor(
      async () => {
        const g = await spoolGauges(second);
        return g.accounting.pending === 0 && g.spoolRecords === 0;
      },
      { what: 'the spool to drain', timeoutMs: 30_000, intervalMs: 100, context: () => second.tail(10) },
    );
    const report = deliveryReport(h.entries(), diskIds(onDisk));
    console.log(describeReport('shutdown mid-stream', report));
    expectNoLoss(report);
    expect(report.duplicateCopies).toBe(0);
    // What the first agent received is a prefix of what was published (NATS keeps order).
    const got = new Set(h.entries().map((e) => idOf(e)));
    expect(entries.slice(0, http.received).every((e) => got.has(e.id))).toBe(true);
    expect(await expectBalanced(second)).toMatchObject({ received: http.received, delivered: http.received, dropped: 0, pending: 0 });
    await stopCleanly(second);
  });

  it('exits promptly on SIGINT when everything pending is on disk and the sink is down', async () => {
    await h.sinkDown();
    const agent = await h.startAgent({}, { label: 'third' }); // default SHUTDOWN_TIMEOUT (25 s)
    const entries = makeFlyEntries(3000, { seed: 5011, idPrefix: 'prompt-' });
    await h.publish(entries, { ratePerSec: 5000 });
    await waitForNatsReceived(agent, entries.length);
    await waitAllOnDisk(agent, h.httpSpoolDir, entries.length);

    const started = Date.now();
    const status = await agent.stop('SIGINT', 40_000);
    const tookMs = Date.now() - started;
    console.log(`shutdown with the sink down: exit after ${tookMs} ms; ${agent.logs.some((l) => String(l.msg).startsWith('SHUTDOWN_TIMEOUT reached')) ? 'waited out SHUTDOWN_TIMEOUT' : 'no timeout'}`);
    expect(status).toEqual({ code: 0, signal: null });
    const stopped = agent.logs.find((l) => l.msg === 'logferry stopped');
    expect((stopped?.counters as { sinks: Record<string, { pending: number; dropped: Record<string, number> }> }).sinks.http).toMatchObject({ pending: entries.length, dropped: {} });
    expect(tookMs, 'nothing to wait for: the spool holds everything and the sink is down').toBeLessThan(5_000);
  });
});
