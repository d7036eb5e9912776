// Group commit: appends that arrive while an fdatasync runs are written at once and share the
// next fdatasync; each append resolves only after an fdatasync that began after its write.
import { mkdtempSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Spool, type SpoolOptions } from '../../src/spool/spool.js';

const root = mkdtempSync(join(tmpdir(), 'logferry-spool-gc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dir: string;
let n = 0;
beforeEach(() => {
  dir = join(root, `s${++n}`);
});

/** A datasync that records each call and waits until the test releases it. */
function gatedDatasync(): { datasync: (fd: FileHandle) => Promise<void>; calls: number; releaseAll(): void; waiting(): number } {
  const gates: Array<() => void> = [];
  const state = {
    calls: 0,
    datasync: async (fd: FileHandle): Promise<void> => {
      state.calls++;
      await new Promise<void>((resolve) => gates.push(resolve));
      await fd.datasync();
    },
    releaseAll() {
      for (const g of gates.splice(0)) g();
    },
    waiting: () => gates.length,
  };
  return state;
}

const open = (over: Partial<SpoolOptions>): Promise<Spool> => Spool.open({ dir, maxBytes: 64 * 1024 * 1024, onFull: 'drop_oldest', fsync: true, ...over });
const line = (i: number): string => JSON.stringify({ i, message: `entry ${i}` });
/** Polls (a real fdatasync takes a while) for up to 10 s. */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  if (!cond()) throw new Error('condition never held');
}

describe('Spool group commit', () => {
  it('writes appends that arrive during an fdatasync at once and syncs them together in the next one', async () => {
    const gate = gatedDatasync();
    const spool = await open({ datasync: gate.datasync });
    const settled: number[] = [];
    const first = spool.append('p', [line(0)]).then(() => settled.push(0));
    await until(() => gate.waiting() === 1);
    // Nine more while the first fdatasync is held: all written (readable), none resolved.
    const rest = Array.from({ length: 9 }, (_, k) => spool.append('p', [line(k + 1)]).then(() => settled.push(k + 1)));
    await until(() => spool.stats.written === 10);
    expect(settled).toEqual([]);
    expect(gate.calls).toBe(1);

    gate.releaseAll();
    await first;
    // The first resolves; the nine wait for a second fdatasync (started after their writes).
    await until(() => gate.waiting() === 1);
    expect(settled).toEqual([0]);
    expect(gate.calls).toBe(2);
    gate.releaseAll();
    await Promise.all(rest);
    expect(settled).toHaveLength(10);
    expect(gate.calls, '10 appends, 2 fdatasyncs').toBe(2);
    expect(spool.stats).toMatchObject({ written: 10, fsyncs: 2, records: 10 });
    await spool.close();
  });

  it('makes far fewer fdatasyncs than appends under concurrent load, and every record reads back', async () => {
    let calls = 0;
    const spool = await open({
      datasync: async (fd) => {
        calls++;
        await fd.datasync();
      },
    });
    const N = 200;
    const results = await Promise.all(Array.from({ length: N }, (_, i) => spool.append(`p${i % 3}`, [line(i), line(i + 1000)])));
    expect(results.every((r) => r.stored)).toBe(true);
    expect(spool.stats.written).toBe(N);
    expect(calls).toBeGreaterThan(0);
    // Each round syncs what was written while the previous one ran; how many fit depends on the disk.
    expect(calls, `${N} appends took ${calls} fdatasyncs`).toBeLessThan(N / 2);
    let read = 0;
    for (let rec = await spool.next(); rec !== undefined; rec = await spool.next()) {
      read += rec.lines.length;
      await spool.ack(rec.seq);
    }
    expect(read).toBe(2 * N);
    await spool.close();
  });

  it('syncs a segment before closing it at rotation, so appends waiting on it are durable', async () => {
    const synced: string[] = [];
    const spool = await open({
      segmentBytes: 512,
      datasync: async (fd) => {
        synced.push(String(fd.fd));
        await fd.datasync();
      },
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => spool.append('p', [line(i)])));
    expect(spool.stats.written).toBe(20);
    // Several segments were written; each was synced at least once while its descriptor was open.
    expect(synced.length).toBeGreaterThan(1);
    await spool.close();
    const reopened = await Spool.open({ dir, maxBytes: 64 * 1024 * 1024, onFull: 'drop_oldest', fsync: false });
    expect(reopened.recoveredEntries).toBe(20);
    await reopened.close();
  });

  it('with fsync off, never calls fdatasync', async () => {
    let calls = 0;
    const spool = await open({ fsync: false, datasync: async () => void calls++ });
    await Promise.all(Array.from({ length: 10 }, (_, i) => spool.append('p', [line(i)])));
    expect(calls).toBe(0);
    expect(spool.stats.fsyncs).toBe(0);
    await spool.close();
  });

  it('an fdatasync failure is reported by the next append, and appends work again after', async () => {
    let fail = true;
    const spool = await open({
      datasync: async (fd) => {
        if (fail) {
          fail = false;
          throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        }
        await fd.datasync();
      },
    });
    // Written and counted (readable in this process), but not known durable.
    expect((await spool.append('p', [line(1)])).stored).toBe(true);
    await expect(spool.append('p', [line(2)])).rejects.toMatchObject({ code: 'SPOOL_WRITE_FAILED' });
    expect((await spool.append('p', [line(3)])).stored).toBe(true);
    expect(spool.stats.records).toBe(2);
    await spool.close();
  });

  it('writes appends queued behind one another together, across segment rolls, and says when each is written before it is durable', async () => {
    const gate = gatedDatasync();
    // Small segments: the 40 records below fill several.
    const spool = await open({ datasync: gate.datasync, segmentBytes: 4096 });
    const written: number[] = [];
    const durable: number[] = [];
    const events: string[] = [];
    const ndjson = (i: number): Buffer => Buffer.from(`${line(i)}\n${line(i + 1000)}\n`);
    const appends = Array.from({ length: 40 }, (_, i) =>
      spool
        .appendNdjson(`p${i % 3}`, ndjson(i), 2, { key: `k-${i}`, receivedAtMs: 1_000 + i }, () => {
          written.push(i);
          events.push(`w${i}`);
        })
        .then((r) => {
          durable.push(i);
          events.push(`d${i}`);
          return r;
        }),
    );
    // The first append starts a round; the other 39, queued behind it, are written together after it.
    await until(() => written.length === 1 || gate.waiting() > 0);
    expect(durable).toEqual([]);
    while (durable.length < 40) {
      gate.releaseAll();
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(written).toEqual([...Array(40).keys()]);
    expect(spool.stats.written).toBe(40);
    // Each is reported written before it is durable; a segment roll syncs the full one on the way.
    for (let i = 0; i < 40; i++) expect(events.indexOf(`w${i}`)).toBeLessThan(events.indexOf(`d${i}`));
    expect(gate.calls).toBeLessThan(40);
    for (const r of await Promise.all(appends)) expect(r).toEqual({ stored: true, evictedEntries: 0 });
    for (let i = 0; i < 40; i++) {
      const rec = (await spool.next())!;
      expect(rec).toMatchObject({ partition: `p${i % 3}`, key: `k-${i}`, receivedAtMs: 1_000 + i, lines: [line(i), line(i + 1000)] });
      await spool.ack(rec.seq);
    }
    expect(await spool.next()).toBeUndefined();
    await spool.close();
  });

  it('rejects appends queued when it closes, and keeps earlier ones', async () => {
    const spool = await open({});
    const kept = spool.append('p', [line(1)]);
    await spool.close();
    await expect(kept).resolves.toMatchObject({ stored: true });
    await expect(spool.append('p', [line(2)])).rejects.toMatchObject({ code: 'SPOOL_CLOSED' });
  });
});
