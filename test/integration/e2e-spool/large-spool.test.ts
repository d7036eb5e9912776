// Issue 5: "memory use stays bounded no matter how large the spool is: it is streamed from
// disk, not loaded". A spool of ~250 MiB (written by the spool's own writer, as a previous
// run would have left it) is drained by an agent with the sink up; what the V8 heap keeps
// (old space) stays small throughout, so the spool was never loaded. RSS is sampled and
// printed: on a large host it is dominated by V8's young generation, which V8 sizes from the
// machine's RAM and grows under sustained allocation (a 400 MB drain peaks at ~330 MiB, and
// at ~165 MiB with --max-semi-space-size=2), so it is bounded only loosely here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Spool } from '../../../src/spool/spool.js';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { metricValue, parseMetrics } from '../../support/prometheus.js';
import { expectBalanced, stopCleanly } from '../e2e/scenario.js';
import { MiB, readSegments, rssMiB, spoolGauges, startSpoolHarness, type SpoolHarness } from './spool-scenario.js';

const RECORDS = 1900;
const PER_RECORD = 250;

let h: SpoolHarness;
beforeAll(async () => {
  h = await startSpoolHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Counts NDJSON lines without parsing them: the receiver must not be the bottleneck here. */
function countLines(decoded: Buffer): unknown[] {
  let n = 0;
  let from = 0;
  for (;;) {
    const nl = decoded.indexOf(0x0a, from);
    if (nl === -1) break;
    if (nl > from) n++;
    from = nl + 1;
  }
  if (from < decoded.length) n++;
  return new Array<unknown>(n);
}

describe('e2e spool: a spool much larger than memory', () => {
  it('drains ~250 MiB of spool with the V8 old space flat', async () => {
    const lines = makeFlyEntries(PER_RECORD, { seed: 5012 }).map((e) => e.payload);
    const writer = await Spool.open({ dir: h.httpSpoolDir, maxBytes: 1024 * MiB, onFull: 'drop_oldest', fsync: false });
    for (let i = 0; i < RECORDS; i++) await writer.append('', lines);
    const spoolBytes = writer.stats.bytes;
    await writer.close();
    expect(spoolBytes).toBeGreaterThan(200 * MiB);

    await h.sinkUp({ parse: countLines, keepBodies: false, keepEntries: false });
    const agent = await h.startAgent({}, { label: 'drainer' });
    const total = RECORDS * PER_RECORD;
    let peakRss = 0;
    let peakOld = 0;
    let peakHeapUsed = 0;
    const trace: string[] = [];
    const started = Date.now();
    const settled = await waitFor(
      async () => {
        const m = parseMetrics(await agent.metrics());
        const rss = await rssMiB(agent.pid);
        const old = metricValue(m, 'logferry_nodejs_heap_space_size_used_bytes', { space: 'old' }) / MiB;
        const used = metricValue(m, 'logferry_nodejs_heap_size_used_bytes') / MiB;
        const delivered = metricValue(m, 'logferry_sink_entries_delivered_total', { sink: 'http' });
        peakRss = Math.max(peakRss, rss);
        peakOld = Math.max(peakOld, old);
        peakHeapUsed = Math.max(peakHeapUsed, used);
        if (trace.length === 0 || Date.now() - started > trace.length * 2000) {
          trace.push(`${((Date.now() - started) / 1000).toFixed(0)}s: ${delivered} delivered, RSS ${rss.toFixed(0)}, old ${old.toFixed(0)}, heap used ${used.toFixed(0)}`);
        }
        return metricValue(m, 'logferry_sink_entries_pending', { sink: 'http' }) === 0 && delivered >= total && delivered;
      },
      { what: `${total} spooled entries delivered`, timeoutMs: 75_000, intervalMs: 250, context: async () => `${JSON.stringify(await spoolGauges(agent))}\n${agent.tail(10)}` },
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(`large spool: ${(spoolBytes / MiB).toFixed(0)} MiB, ${total} entries drained in ${seconds.toFixed(1)} s (MiB): ${trace.join(' | ')}`);
    console.log(`large spool: peak RSS ${peakRss.toFixed(0)} MiB, peak V8 old space ${peakOld.toFixed(0)} MiB, peak heap used ${peakHeapUsed.toFixed(0)} MiB`);

    expect(settled).toBe(total);
    expect(h.receiver!.stats().entries).toBe(total);
    expect(await expectBalanced(agent)).toMatchObject({ received: total, delivered: total, dropped: 0, rejected: 0, pending: 0 });
    // Not loaded: what survives garbage collection stays a small fraction of the spool.
    expect(peakOld, 'V8 old space while draining').toBeLessThan(64);
    expect(peakHeapUsed, 'V8 heap used while draining').toBeLessThan(160);
    expect(peakRss, 'RSS (loosely: see the top comment)').toBeLessThan(512);
    expect(await readSegments(h.httpSpoolDir), 'drained segments are deleted').toEqual([]);
    await stopCleanly(agent);
  });
});
