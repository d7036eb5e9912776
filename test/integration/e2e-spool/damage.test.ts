// Issue 5, test 3: damaged spool files. An agent stopped (SIGINT) while the sink is down
// leaves its spool on disk; the test then truncates one segment mid-record, flips a byte in
// the middle of a record's payload in another and one in a record header in a third. The
// next agent starts (no crash loop), skips and counts the damaged records, and delivers
// every entry of the intact ones. Then damage that appears while an agent runs: the record
// is skipped when reached, its entries counted dropped{reason="spool_corrupt"}.
import { truncate } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_BYTES } from '../../../src/spool/spool-format.js';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { metricValue } from '../../support/prometheus.js';
import { waitFor } from '../../support/poll.js';
import { expectBalanced, stopCleanly } from '../e2e/scenario.js';
import {
  MiB,
  deliveryReport,
  describeReport,
  diskEntries,
  diskIds,
  expectNoLoss,
  flipByte,
  readSegments,
  spoolGauges,
  startSpoolHarness,
  waitAllOnDisk,
  waitForNatsReceived,
  type DiskRecord,
  type SpoolHarness,
} from './spool-scenario.js';

// 8 MiB of spool makes 1 MiB segments; ~6 MB of entries fill several without eviction.
const SPOOL = { SPOOL_MAX_BYTES: String(8 * MiB) };
const N = 12_000;

let h: SpoolHarness;
beforeAll(async () => {
  h = await startSpoolHarness();
});
afterAll(async () => {
  await h?.close();
});

function middle<T>(items: readonly T[]): T {
  return items[Math.floor(items.length / 2)]!;
}

describe('e2e spool: damaged spool files', () => {
  it('starts on a spool with a torn segment and flipped bytes, skips and counts the damage, delivers every intact record', async () => {
    const first = await h.startAgent(SPOOL, { label: 'first' });
    const entries = makeFlyEntries(N, { seed: 5004 });
    await h.publish(entries, { ratePerSec: 5000 });
    await waitForNatsReceived(first, N);
    await waitAllOnDisk(first, h.httpSpoolDir, N);
    // SIGINT with the sink down: the spool stays on disk for the next start.
    const counters = await stopCleanly(first);
    expect(counters.sinks.http).toMatchObject({ received: N, delivered: 0, pending: N });

    const segments = await readSegments(h.httpSpoolDir);
    expect(diskEntries(segments)).toBe(N);
    expect(segments.length, 'enough segment files to damage three of them').toBeGreaterThanOrEqual(4);
    for (const s of segments.slice(0, 4)) expect(s.records.length, `${s.name} holds several records`).toBeGreaterThanOrEqual(3);

    // 1. Torn: the second segment loses the second half of its last record (a crash mid-write).
    const torn = segments[1]!;
    const tornRecord = torn.records.at(-1)!;
    await truncate(torn.path, tornRecord.offset + HEADER_BYTES + Math.floor((tornRecord.length - HEADER_BYTES) / 2));
    // 2. A flipped byte in the middle of a record's payload (its header is intact).
    const flipped = segments[2]!;
    const flippedRecord = middle(flipped.records);
    await flipByte(flipped.path, flippedRecord.offset + HEADER_BYTES + Math.floor((flippedRecord.length - HEADER_BYTES) / 2));
    // 3. A flipped byte in a record header (its length field): the reader must resynchronise.
    const badHeader = segments[3]!;
    const badHeaderRecord = middle(badHeader.records);
    await flipByte(badHeader.path, badHeaderRecord.offset + 5);

    const damaged: DiskRecord[] = [tornRecord, flippedRecord, badHeaderRecord];
    const damagedIds = new Set(damaged.flatMap((r) => r.ids));
    const after = await readSegments(h.httpSpoolDir);
    const intactIds = diskIds(after);
    expect(intactIds.length, 'the damage hit exactly the three chosen records').toBe(N - damagedIds.size);
    console.log(
      `damage: ${segments.length} segments, ${segments.reduce((n, s) => n + s.records.length, 0)} records; damaged records of ${damaged.map((r) => r.entries).join(', ')} entries (seqs ${damaged.map((r) => r.seq).join(', ')})`,
    );

    await h.sinkUp();
    const second = await h.startAgent(SPOOL, { label: 'second' });
    const recovered = await second.waitForLog((l) => l.msg === 'spool holds entries from before the restart; delivering them', 'the recovered-spool line');
    expect(recovered.entries).toBe(intactIds.length);
    await waitFor(
      async () => {
        const g = await spoolGauges(second);
        return g.accounting.pending === 0 && g.spoolRecords === 0;
      },
      { what: 'the intact records to be delivered', timeoutMs: 30_000, intervalMs: 100, context: async () => `${JSON.stringify(await spoolGauges(second))}\n${second.tail(10)}` },
    );
    const g = await spoolGauges(second);
    console.log(`damage: logferry_spool_records_corrupt_total ${g.corrupt}, ${g.replayed} records replayed`);
    expect(g.corrupt).toBeGreaterThanOrEqual(3);
    expect(g.up).toBe(1);

    const report = deliveryReport(h.entries(), intactIds);
    console.log(describeReport('damage', report));
    expectNoLoss(report);
    expect(report.duplicateCopies).toBe(0);
    expect(h.entries().filter((e) => damagedIds.has(idOf(e)!))).toHaveLength(0);
    // Damage found at start was never counted by this process: nothing to drop for it.
    const a = await expectBalanced(second);
    expect(a).toMatchObject({ received: intactIds.length, delivered: intactIds.length, rejected: 0, dropped: 0, pending: 0 });

    // Still running and shipping: no crash loop.
    expect(second.isRunning()).toBe(true);
    const fresh = makeFlyEntries(500, { seed: 5005, idPrefix: 'fresh-' });
    await h.publish(fresh);
    await waitFor(() => h.entries().filter((e) => idOf(e)?.startsWith('fresh-')).length >= fresh.length, {
      what: 'new entries to be delivered after the recovery',
      timeoutMs: 20_000,
      context: () => second.tail(10),
    });
    expect((await second.health()).body.sinks.http).toMatchObject({ state: 'ok', spool: { state: 'ok' } });

    // Damage while the agent runs: a record is corrupted on disk after it was written and counted.
    await h.sinkDown();
    const wave = makeFlyEntries(N, { seed: 5006, idPrefix: 'w2-' });
    await h.publish(wave, { ratePerSec: 5000 });
    await waitForNatsReceived(second, fresh.length + N);
    const before = await waitAllOnDisk(second, h.httpSpoolDir, N);
    // The drainer holds the oldest record (retrying) and may have read ahead in its segment:
    // damage a record in a later segment that is already sealed.
    expect(before.length).toBeGreaterThanOrEqual(3);
    const victimSeg = before.at(-2)!;
    const victim = middle(victimSeg.records);
    await flipByte(victimSeg.path, victim.offset + HEADER_BYTES + Math.floor((victim.length - HEADER_BYTES) / 2));
    const victimIds = new Set(victim.ids);
    const corruptBefore = g.corrupt;

    await h.sinkUp();
    const settled = await waitFor(
      async () => {
        const s = await spoolGauges(second);
        return s.accounting.pending === 0 && s.spoolRecords === 0 && s;
      },
      { what: 'the second wave to settle', timeoutMs: 30_000, intervalMs: 100, context: async () => `${JSON.stringify(await spoolGauges(second))}\n${second.tail(10)}` },
    );
    const metrics = await second.metrics();
    const droppedCorrupt = metricValue(metrics, 'logferry_sink_entries_dropped_total', { sink: 'http', reason: 'spool_corrupt' });
    const wave2 = h.entries().filter((e) => idOf(e)?.startsWith('w2-'));
    const r2 = deliveryReport(wave2, wave.map((e) => e.id).filter((id) => !victimIds.has(id)));
    console.log(describeReport('damage while running', r2));
    console.log(`damage while running: corrupt_total ${corruptBefore} → ${settled.corrupt}, dropped{spool_corrupt} ${droppedCorrupt} (victim record of ${victim.entries} entries)`);
    expectNoLoss(r2);
    expect(r2.duplicateCopies).toBe(0);
    expect(settled.corrupt).toBe(corruptBefore + 1);
    expect(droppedCorrupt).toBe(victim.entries);
    const a2 = await expectBalanced(second);
    expect(a2).toMatchObject({ delivered: intactIds.length + fresh.length + N - victim.entries, dropped: victim.entries, pending: 0 });
    await stopCleanly(second);
  });
});
