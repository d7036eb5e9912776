// Bounded memory when the spool's disk is slower than the inflow (issue 5: "bounded memory",
// "memory stays flat"). With the sink down every batch leaves the memory buffer for the spool;
// appends are serialised (one fdatasync each), so at a high enough rate batches queue up
// waiting for their append. Those batches are still in memory: they must stay within
// HTTP_BUFFER_MAX_BYTES plus the spool overdraft (up to that much again while the disk catches
// up), or be dropped and counted, not pile up without bound.
// The backlog is observable: batches handed to the spool (logferry_sink_batches_total
// {outcome="spooled"}) minus records written (logferry_spool_records_written_total).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { expectBalanced, stopCleanly } from '../e2e/scenario.js';
import { KiB, rssMiB, spoolGauges, startSpoolHarness, type SpoolHarness } from './spool-scenario.js';

const BUFFER = 256 * KiB;
const N = 150_000;
const RATE = 20_000; // ~10 MB/s

let h: SpoolHarness;
beforeAll(async () => {
  h = await startSpoolHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e spool: appends slower than the inflow', () => {
  it('keeps batches waiting for their spool append within the memory buffer', async () => {
    const agent = await h.startAgent({ HTTP_BUFFER_MAX_BYTES: String(BUFFER) });
    let maxBacklogRecords = 0;
    let maxBacklogBytes = 0;
    let maxBufferBytes = 0;
    let peakRss = 0;
    const trace: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const g = await spoolGauges(agent);
          const backlog = g.spooledBatches - g.written;
          // Records on disk are the best measure of a batch's size in memory.
          const perRecord = g.written > 0 ? g.spoolBytes / Math.max(1, g.spoolRecords) : 0;
          maxBacklogRecords = Math.max(maxBacklogRecords, backlog);
          maxBacklogBytes = Math.max(maxBacklogBytes, backlog * perRecord);
          maxBufferBytes = Math.max(maxBufferBytes, g.bufferBytes);
          peakRss = Math.max(peakRss, await rssMiB(agent.pid));
          if (trace.length < 400) trace.push(String(backlog));
        } catch {
          // The agent may be between answers; the next sample counts.
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const entries = makeFlyEntries(N, { seed: 5013 });
    await h.publish(entries, { ratePerSec: RATE });
    const received = await waitFor(
      async () => {
        const g = await spoolGauges(agent);
        const a = g.accounting;
        return a.received > 0 && g.written === g.spooledBatches && a.pending === g.spoolEntries && a.received === (await agent.metric('logferry_nats_messages_received_total')) && a;
      },
      { what: 'every batch appended to the spool', timeoutMs: 60_000, intervalMs: 100, context: async () => `${JSON.stringify(await spoolGauges(agent))}\n${agent.tail(10)}` },
    );
    sampling = false;
    await sampler;
    console.log(
      `append backlog: ${received.received} received at ${RATE}/s; batches waiting for their append peaked at ${maxBacklogRecords} (~${(maxBacklogBytes / KiB).toFixed(0)} KiB), memory held peaked at ${(maxBufferBytes / KiB).toFixed(0)} KiB (buffer ${BUFFER / KiB} KiB); peak RSS ${peakRss.toFixed(0)} MiB; backlog over time: ${trace.join(' ')}`,
    );
    const balanced = await expectBalanced(agent);
    const bufferFull = await agent.metric('logferry_sink_entries_dropped_total', { sink: 'http', reason: 'buffer_full' });
    console.log(`append backlog: ${balanced.pending} entries spooled, ${balanced.dropped} dropped (${bufferFull} buffer_full) while the disk could not keep up`);
    expect(balanced.dropped, 'drops are buffer_full, counted').toBe(bufferFull);

    // Whatever the disk's speed: what memory holds, batches waiting for their append included, is
    // bounded by the buffer plus the overdraft (an entry over at most: the mix's largest is ~8 KiB).
    expect(maxBufferBytes, 'bytes held in memory').toBeLessThanOrEqual(2 * BUFFER + 16 * KiB);
    expect(maxBufferBytes, 'the sampler saw the buffer in use').toBeGreaterThan(0);
    expect(peakRss, 'agent RSS').toBeLessThan(200);

    // And what was spooled is delivered once the sink is back.
    const receiver = await h.sinkUp({ keepBodies: false, keepEntries: false });
    const done = await waitFor(
      async () => {
        const g = await spoolGauges(agent);
        return g.accounting.pending === 0 && g.spoolRecords === 0 && g;
      },
      { what: 'the spool to drain', timeoutMs: 60_000, intervalMs: 100, context: () => agent.tail(10) },
    );
    expect(receiver.stats().entries).toBe(done.accounting.delivered);
    await stopCleanly(agent);
  });
});
