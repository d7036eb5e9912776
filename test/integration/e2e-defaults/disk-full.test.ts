// Issue 14: the disk under the default spool fills up (another writer takes the space) while
// the sink is down. The agent keeps running, holds what memory can, drops the rest and counts
// it (never silently); when space returns the spool is used again and nothing more is lost.
// The disk is a real size-limited file system: a 200 MiB tmpfs mounted by the test (needs root).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshAgentDir } from '../../support/agent.js';
import { waitFor } from '../../support/poll.js';
import { expectBalanced, stopCleanly } from '../e2e/scenario.js';
import { flushTally, paddedEntries, startDefaultsHarness, type DefaultsHarness } from './defaults-scenario.js';

let h: DefaultsHarness;
let mountDir: string;
beforeAll(async () => {
  h = await startDefaultsHarness({ sinkUp: false });
  mountDir = join(freshAgentDir(), 'vol');
  mkdirSync(mountDir);
  // Fails the test (does not skip it) where mounting is not permitted.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200m', 'tmpfs', mountDir]);
});
afterAll(async () => {
  await h?.close();
  if (mountDir !== undefined) execFileSync('umount', ['-l', mountDir]);
});

describe('e2e defaults: the disk fills up', () => {
  it('keeps running, drops and counts while the disk is full, and spools again once space returns', { timeout: 300_000 }, async () => {
    // The agent runs in the tmpfs: its default ./data/spool is there.
    const agent = await h.startAgent({}, { cwd: mountDir });
    const spoolMax = await agent.metric('logferry_spool_max_bytes', { sink: 'http' });
    expect(spoolMax, 'the default bound: half the free space').toBeGreaterThan(90 * 1024 * 1024);
    expect(spoolMax).toBeLessThan(101 * 1024 * 1024);

    // Another writer takes nearly all the space.
    const filler = join(mountDir, 'filler');
    const free = (): number => {
      const s = statfsSync(mountDir);
      return Number(s.bavail) * Number(s.bsize);
    };
    writeFileSync(filler, Buffer.alloc(free() - 256 * 1024));

    // Wave 1: ~88 MB while the sink is down: more than memory (64 MiB here) and the full disk hold.
    const wave1 = paddedEntries(80_000, { seed: 1420, idPrefix: 'w1-' });
    await h.publish(wave1, { ratePerSec: 20_000 });
    await waitFor(async () => (await agent.metric('logferry_nats_messages_received_total')) >= wave1.length, { what: 'wave 1 received', timeoutMs: 60_000, intervalMs: 200 });
    const full = await waitFor(
      async () => {
        const a = await agent.accounting('http');
        return a.dropped > 0 && a;
      },
      { what: 'drops once memory is full too', timeoutMs: 60_000, intervalMs: 200, context: () => agent.tail(8) },
    );
    const dropsLogged = agent.logs.some((l) => l.msg === 'entries dropped');
    const spoolErrorLogged = agent.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('spool write failed'));
    expect(spoolErrorLogged, 'the full disk is reported').toBe(true);
    expect(dropsLogged, 'the drops are reported').toBe(true);
    expect((await agent.health()).status, 'the agent still answers').toBeGreaterThan(0);
    console.log(`disk full: ${JSON.stringify(full)}`);

    // Space returns; after the retry interval the spool takes writes again.
    rmSync(filler);
    const writtenBefore = await agent.metric('logferry_spool_records_written_total', { sink: 'http' });
    const droppedBefore = (await agent.accounting('http')).dropped;
    const wave2 = paddedEntries(10_000, { seed: 1421, idPrefix: 'w2-' });
    // Wait out the retry interval so wave 2 meets a working spool.
    await waitFor(async () => (await agent.metric('logferry_spool_up', { sink: 'http' })) === 1, { what: 'spool up again', timeoutMs: 30_000, intervalMs: 200 });
    await h.publish(wave2, { ratePerSec: 20_000 });
    const total = wave1.length + wave2.length;
    await waitFor(async () => (await agent.metric('logferry_nats_messages_received_total')) >= total, { what: 'wave 2 received', timeoutMs: 60_000, intervalMs: 200 });
    await waitFor(async () => (await agent.metric('logferry_spool_records_written_total', { sink: 'http' })) > writtenBefore, {
      what: 'spool writes again',
      timeoutMs: 30_000,
      intervalMs: 200,
      context: () => agent.tail(8),
    });
    expect(agent.logs.some((l) => l.msg === 'spool writes work again')).toBe(true);

    // The sink comes back: everything not dropped is delivered, once.
    await h.sinkUp();
    const settled = await waitFor(
      async () => {
        const a = await agent.accounting('http');
        return a.received === total && a.pending === 0 && a;
      },
      { what: 'everything settled', timeoutMs: 180_000, intervalMs: 500, context: async () => `${JSON.stringify(await agent.accounting('http'))}\n${agent.tail(8)}` },
    );
    const a = await expectBalanced(agent);
    expect(a.dropped, 'no drops once space returned').toBe(droppedBefore);
    flushTally(h.receiver);
    const r2 = h.tally.report(wave2.map((e) => e.id));
    expect(r2, 'wave 2 (after space returned) arrives whole').toMatchObject({ missing: 0, duplicateCopies: 0 });
    const r1 = h.tally.report(wave1.map((e) => e.id));
    expect(r1.duplicateCopies).toBe(0);
    expect(r1.missing, 'the only wave-1 entries missing are the ones counted as dropped').toBe(a.dropped);
    expect(settled.delivered).toBe(total - a.dropped);
    console.log(`disk full: settled ${JSON.stringify(settled)}; wave 1 missing ${r1.missing} = dropped`);
    await stopCleanly(agent);
  });
});
