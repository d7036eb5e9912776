// Issue 5, test 4: the spool limit. With SPOOL_MAX_BYTES = 2 MiB and the sink down, far more
// arrives than fits: the oldest records are dropped and counted (spool_full), the entries
// that arrive after recovery are the newest ones, the accounting identity holds, the spool
// stays within its bound on disk, and the agent's memory stays flat (RSS sampled from
// /proc/<pid>/status throughout, printed, and bounded). Also SPOOL_WHEN_FULL=drop_newest:
// the oldest are kept and the newest counted as spool_full.
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../support/agent.js';
import { idOf, makeFlyEntries, type FlyEntry } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { expectBalanced, stopCleanly } from '../e2e/scenario.js';
import {
  KiB,
  MiB,
  deliveryReport,
  describeReport,
  diskEntries,
  indexById,
  readSegments,
  sampleRss,
  spoolGauges,
  startSpoolHarness,
  waitForNatsReceived,
  type SpoolGauges,
  type SpoolHarness,
} from './spool-scenario.js';

const MAX = 2 * MiB;
const N = 20_000; // ~10 MB of entries: five times the spool
const BATCH = 500;

let h: SpoolHarness;
beforeAll(async () => {
  h = await startSpoolHarness();
});
afterEach(async () => {
  await h?.killAgents();
});
afterAll(async () => {
  await h?.close();
});

/**
 * Waits until nothing is left in memory: every entry is dropped or in the spool, and no
 * batch is still waiting for its append (the spool's verdict, stored or refused, is in).
 * drop_oldest refuses nothing, so every batch handed over is a record written; drop_newest
 * evicts nothing, so the pipeline's spooled entries are exactly those on disk.
 */
async function waitSpooledOrDropped(agent: Agent, n: number, dir: string, policy: 'drop_oldest' | 'drop_newest'): Promise<SpoolGauges> {
  return waitFor(
    async () => {
      const g = await spoolGauges(agent);
      const a = g.accounting;
      if (a.received !== n || a.pending !== g.spoolEntries || a.pending + a.dropped !== n) return undefined;
      const appended = policy === 'drop_oldest' ? g.written === g.spooledBatches : diskEntries(await readSegments(dir)) === g.spoolEntries;
      return appended && g;
    },
    { what: `${agent.label}: all ${n} entries spooled or dropped`, timeoutMs: 30_000, intervalMs: 100, context: async () => `${JSON.stringify(await spoolGauges(agent))}\n${agent.tail(10)}` },
  );
}

async function waitSettled(agent: Agent): Promise<SpoolGauges> {
  return waitFor(
    async () => {
      const g = await spoolGauges(agent);
      return g.accounting.pending === 0 && g.spoolRecords === 0 && g;
    },
    { what: `${agent.label}: the spool to drain`, timeoutMs: 30_000, intervalMs: 100, context: async () => `${JSON.stringify(await spoolGauges(agent))}\n${agent.tail(10)}` },
  );
}

/** Publish indices of what arrived, ascending (ids of this wave only). */
function arrivedIndices(entries: readonly FlyEntry[], prefix: string): number[] {
  const index = indexById(entries);
  const out: number[] = [];
  for (const e of h.entries()) {
    const id = idOf(e);
    if (id?.startsWith(prefix)) out.push(index.get(id)!);
  }
  return out.sort((a, b) => a - b);
}

describe('e2e spool: SPOOL_MAX_BYTES reached', () => {
  it('drop_oldest: drops and counts the oldest, delivers the newest, stays within its bound, memory flat', async () => {
    const agent = await h.startAgent({ SPOOL_MAX_BYTES: String(MAX), HTTP_BATCH_MAX_ENTRIES: String(BATCH) });
    const rss = sampleRss(agent);
    let maxSpoolBytes = 0;
    let sampling = true;
    const spoolSampler = (async () => {
      while (sampling) {
        maxSpoolBytes = Math.max(maxSpoolBytes, (await spoolGauges(agent).catch(() => undefined))?.spoolBytes ?? 0);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const entries = makeFlyEntries(N, { seed: 5007, idPrefix: 'old-' });
    await h.publish(entries, { ratePerSec: 5000 });
    await waitForNatsReceived(agent, N);
    const full = await waitSpooledOrDropped(agent, N, h.httpSpoolDir, 'drop_oldest');
    const onDisk = await readSegments(h.httpSpoolDir);
    const diskBytes = onDisk.reduce((n, s) => n + s.size, 0);
    console.log(
      `drop_oldest: ${full.spoolEntries} entries in ${full.spoolRecords} records / ${(full.spoolBytes / KiB).toFixed(0)} KiB kept, ${full.droppedSpoolFull} dropped (spool_full); ${onDisk.length} segment files, ${(diskBytes / KiB).toFixed(0)} KiB on disk; peak logferry_spool_bytes ${(maxSpoolBytes / KiB).toFixed(0)} KiB`,
    );
    expect(full.droppedSpoolFull).toBeGreaterThan(N / 2);
    expect(full.accounting.dropped, 'every drop is spool_full').toBe(full.droppedSpoolFull);
    // The bound holds on disk (at most one record over while appending, and a record is < 1 MiB batch bytes).
    expect(diskBytes).toBeLessThanOrEqual(MAX);
    expect(maxSpoolBytes).toBeLessThanOrEqual(MAX + 1 * MiB);
    expect(full.spoolEntries).toBeGreaterThan(0);

    await h.sinkUp();
    const settled = await waitSettled(agent);
    sampling = false;
    await spoolSampler;
    const { peakMiB, trace } = rss.stop();
    console.log(`drop_oldest: agent RSS MiB over time ${trace}`);
    console.log(`drop_oldest: agent peak RSS ${peakMiB.toFixed(1)} MiB`);

    const a = await expectBalanced(agent);
    expect(a).toMatchObject({ received: N, rejected: 0, pending: 0 });
    expect(a.delivered + a.dropped).toBe(N);
    expect(settled.droppedSpoolFull).toBe(a.dropped);

    const report = deliveryReport(h.entries(), entries.map((e) => e.id));
    console.log(describeReport('drop_oldest (missing = dropped)', report));
    expect(report.duplicateCopies).toBe(0);
    expect(report.unexpected).toEqual([]);
    expect(report.distinct).toBe(a.delivered);

    // What arrived is the newest. Not exactly: "oldest" is in append order, and memory batches
    // make their one attempt concurrently, so one failing late is appended after newer ones;
    // and the record the drainer was retrying when its segment was evicted is still sent.
    const got = arrivedIndices(entries, 'old-');
    const k = got.length;
    const outOfPlace = got.filter((i) => i < N - k - BATCH);
    console.log(`drop_oldest: ${k} arrived, ${outOfPlace.length} of them older than the newest ${k + BATCH} published (${outOfPlace.length > 0 ? `#${outOfPlace[0]}..#${outOfPlace.at(-1)}` : 'none'})`);
    const arrived = new Set(got);
    expect(entries.slice(-1000).filter((_, i) => !arrived.has(N - 1000 + i)), 'the newest 1000 all arrive').toEqual([]);
    expect(outOfPlace.length).toBeLessThanOrEqual(k / 4);

    expect(peakMiB, 'agent RSS stays bounded while 10 MB pass through a 2 MiB spool').toBeLessThan(200);
    await stopCleanly(agent);
  });

  it('drop_newest: keeps the oldest, counts the newest as spool_full', async () => {
    await h.sinkDown();
    const dir = join(h.tmp, 'spool-newest');
    const agent = await h.startAgent({ SPOOL_DIR: dir, SPOOL_MAX_BYTES: String(MAX), SPOOL_WHEN_FULL: 'drop_newest', HTTP_BATCH_MAX_ENTRIES: String(BATCH) });
    const entries = makeFlyEntries(N, { seed: 5008, idPrefix: 'new-' });
    await h.publish(entries, { ratePerSec: 5000 });
    await waitForNatsReceived(agent, N);
    const full = await waitSpooledOrDropped(agent, N, join(dir, 'http'), 'drop_newest');
    const diskBytes = (await readSegments(join(dir, 'http'))).reduce((n, s) => n + s.size, 0);
    console.log(`drop_newest: ${full.spoolEntries} entries / ${(full.spoolBytes / KiB).toFixed(0)} KiB kept, ${full.droppedSpoolFull} dropped (spool_full), ${(diskBytes / KiB).toFixed(0)} KiB on disk`);
    expect(full.droppedSpoolFull).toBeGreaterThan(N / 2);
    expect(full.accounting.dropped).toBe(full.droppedSpoolFull);
    expect(diskBytes).toBeLessThanOrEqual(MAX);

    await h.sinkUp();
    await waitSettled(agent);
    const a = await expectBalanced(agent);
    expect(a).toMatchObject({ received: N, rejected: 0, pending: 0 });
    expect(a.delivered + a.dropped).toBe(N);

    const report = deliveryReport(h.entries().filter((e) => idOf(e)?.startsWith('new-')), entries.map((e) => e.id));
    console.log(describeReport('drop_newest (missing = dropped)', report));
    expect(report.duplicateCopies).toBe(0);
    expect(report.distinct).toBe(a.delivered);

    // What arrived is the oldest (in append order, see above; and a later, smaller batch may
    // still fit into the room a refused one left).
    const got = arrivedIndices(entries, 'new-');
    const k = got.length;
    const outOfPlace = got.filter((i) => i >= k + BATCH);
    console.log(`drop_newest: ${k} arrived, ${outOfPlace.length} of them newer than the oldest ${k + BATCH} published`);
    expect(got[0]).toBeLessThan(BATCH);
    expect(outOfPlace.length).toBeLessThanOrEqual(k / 4);
    await stopCleanly(agent);
  });
});
