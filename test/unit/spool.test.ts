import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, SpoolError, type SpoolOptions, type SpoolRecord } from '../../src/spool/spool.js';
import { HEADER_BYTES, RECORD_MAGIC, encodeNdjsonRecord, encodeRecord, segmentFileName } from '../../src/spool/spool-format.js';
import { prng } from '../support/fly-entries.js';

const root = mkdtempSync(join(tmpdir(), 'logferry-spool-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir: string;
let n = 0;
beforeEach(() => {
  dir = join(root, `s${++n}`);
});

const open = (over: Partial<SpoolOptions> = {}): Promise<Spool> =>
  Spool.open({ dir, maxBytes: 10 * 1024 * 1024, onFull: 'drop_oldest', fsync: false, ...over });

/** `count` distinct JSON lines for batch `b`. */
function lines(b: number, count = 3): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ b, i, message: `entry ${i} of batch ${b}` }));
}

/** Everything next() hands out until it says none, acknowledging each record. */
async function drain(spool: Spool, ack = true): Promise<SpoolRecord[]> {
  const got: SpoolRecord[] = [];
  for (;;) {
    const rec = await spool.next();
    if (rec === undefined) return got;
    got.push(rec);
    if (ack) await spool.ack(rec.seq);
  }
}

const batchesOf = (recs: readonly SpoolRecord[]): number[] => recs.map((r) => (JSON.parse(r.lines[0]!) as { b: number }).b);
const segmentFiles = (): string[] => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
const diskBytes = (): number => segmentFiles().reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
const recordBytes = (b: number, count = 3): number => encodeRecord(1, 'p', lines(b, count)).length;

describe('Spool basics', () => {
  it('round-trips records with their partition, in order', async () => {
    const spool = await open();
    expect(await spool.append('app-a', lines(1), { key: 'host-0a1b2c-000001', receivedAtMs: 1_795_725_277_253 })).toEqual({ stored: true, evictedEntries: 0 });
    await spool.append('app-b', lines(2, 1));
    await spool.append('', []);
    expect(spool.stats).toMatchObject({ records: 3, entries: 4, written: 3, bytes: diskBytes() });

    const a = await spool.next();
    const b = await spool.next();
    const c = await spool.next();
    expect(a).toEqual({ seq: a!.seq, partition: 'app-a', key: 'host-0a1b2c-000001', receivedAtMs: 1_795_725_277_253, lines: lines(1) });
    // Appended without a key: one derived from the record's content.
    expect(b).toEqual({ seq: b!.seq, partition: 'app-b', key: expect.stringMatching(/^spool-[0-9a-f]{16}$/), receivedAtMs: undefined, lines: lines(2, 1) });
    expect(c).toEqual({ seq: c!.seq, partition: '', key: expect.stringMatching(/^spool-[0-9a-f]{16}$/), receivedAtMs: undefined, lines: [] });
    expect(a!.seq).toBeLessThan(b!.seq);
    expect(b!.seq).toBeLessThan(c!.seq);
    // Handed out but not acknowledged: not handed out again, still counted.
    expect(await spool.next()).toBeUndefined();
    expect(spool.stats).toMatchObject({ records: 3, entries: 4, outRecords: 3, outEntries: 4, replayed: 3 });

    for (const r of [a, b, c]) await spool.ack(r!.seq);
    expect(spool.stats).toMatchObject({ records: 0, entries: 0, outRecords: 0, outEntries: 0 });
    await spool.close();
  });

  it('keeps order across segments while appends and reads interleave', async () => {
    const spool = await open({ segmentBytes: recordBytes(0) * 2 + 10 });
    const got: SpoolRecord[] = [];
    for (let b = 0; b < 30; b++) {
      await spool.append('p', lines(b));
      if (b % 3 === 0) got.push(...(await drain(spool)));
    }
    got.push(...(await drain(spool)));
    expect(batchesOf(got)).toEqual(Array.from({ length: 30 }, (_, b) => b));
    expect(spool.stats).toMatchObject({ records: 0, entries: 0, bytes: diskBytes() });
    // The active segment stays (appends continue there); every other acknowledged segment is deleted.
    expect(segmentFiles()).toHaveLength(1);
    await spool.close();
  });

  it('serialises concurrent appends: every record stored once, seqs in call order', async () => {
    const spool = await open({ segmentBytes: 4096 });
    await Promise.all(Array.from({ length: 100 }, (_, b) => spool.append('p', lines(b))));
    const got = await drain(spool);
    expect(batchesOf(got)).toEqual(Array.from({ length: 100 }, (_, b) => b));
    await spool.close();
  });

  it('hands out released records again, oldest first, before newer ones', async () => {
    const spool = await open({ segmentBytes: recordBytes(0) + 1 });
    for (let b = 0; b < 5; b++) await spool.append('p', lines(b));
    const r0 = (await spool.next())!;
    const r1 = (await spool.next())!;
    const r2 = (await spool.next())!;
    spool.release(r2.seq);
    spool.release(r0.seq);
    spool.release(r0.seq); // twice is harmless
    expect(spool.stats.outRecords).toBe(3);
    expect(batchesOf([(await spool.next())!, (await spool.next())!])).toEqual([0, 2]);
    await spool.ack(r1.seq);
    const rest = await drain(spool, false);
    expect(batchesOf(rest)).toEqual([3, 4]);
    expect(await spool.next()).toBeUndefined();
    for (const seq of [r0.seq, r2.seq, ...rest.map((r) => r.seq)]) await spool.ack(seq);
    expect(spool.stats).toMatchObject({ records: 0, entries: 0, outRecords: 0 });
    await spool.close();
  });

  it('ignores acks and releases of unknown seqs', async () => {
    const spool = await open();
    await spool.append('p', lines(1));
    await spool.ack(999);
    spool.release(999);
    expect(spool.stats.records).toBe(1);
    expect(batchesOf(await drain(spool))).toEqual([1]);
    await spool.close();
  });

  it('refuses lines with a raw newline (they would break framing)', async () => {
    const spool = await open();
    await expect(spool.append('p', ['{"a":\n1}'])).rejects.toThrow(RangeError);
    expect(spool.stats.written).toBe(0);
    await spool.close();
  });

  it('throws SPOOL_CLOSED after close, and close is idempotent', async () => {
    const spool = await open();
    await spool.close();
    await spool.close();
    await expect(spool.append('p', lines(1))).rejects.toMatchObject({ code: 'SPOOL_CLOSED' });
    await expect(spool.next()).rejects.toBeInstanceOf(SpoolError);
  });
});

describe('Spool across restarts', () => {
  it('hands out the same key for a record on every replay, after restarts too; reads records an older version wrote', async () => {
    // A segment as version 1 wrote it (no keys), next to which this version appends keyed records.
    mkdirSync(dir, { recursive: true });
    const v1 = (seq: number, b: number): Buffer => encodeNdjsonRecord(seq, `p${b}`, Buffer.from(lines(b).map((l) => `${l}\n`).join('')), 3, { key: '' }, 1);
    writeFileSync(join(dir, segmentFileName(1)), Buffer.concat([v1(1, 1), v1(2, 2)]));
    const first = await open();
    await first.append('p3', lines(3), { key: 'host-aabbccddeeff-000001', receivedAtMs: 1000 });
    const handed = await drain(first, false);
    expect(batchesOf(handed)).toEqual([1, 2, 3]);
    expect(handed[0]!.key).toMatch(/^spool-[0-9a-f]{16}$/);
    expect(handed[1]!.key).toMatch(/^spool-[0-9a-f]{16}$/);
    expect(handed[0]!.key).not.toBe(handed[1]!.key);
    expect(handed[2]).toMatchObject({ key: 'host-aabbccddeeff-000001', receivedAtMs: 1000 });
    // Released and handed out again in this run: same keys.
    for (const r of handed) first.release(r.seq);
    expect((await drain(first, false)).map((r) => r.key)).toEqual(handed.map((r) => r.key));
    await first.close();
    // A crash before the acks: the next run replays them under the same keys.
    const second = await open();
    expect((await drain(second)).map((r) => r.key)).toEqual(handed.map((r) => r.key));
    await second.close();
  });

  it('replays unacknowledged records after close and reopen; out-of-order acks persist', async () => {
    const first = await open({ segmentBytes: recordBytes(0) * 3 });
    for (let b = 0; b < 10; b++) await first.append(`p${b}`, lines(b, b + 1));
    const handed = await drain(first, false);
    expect(batchesOf(handed)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Out of order, some in each segment; 4 and 7 stay unacknowledged (released or just in flight).
    for (const b of [9, 2, 5, 0, 8, 1, 3, 6]) await first.ack(handed[b]!.seq);
    first.release(handed[4]!.seq);
    await first.close();

    const second = await open({ segmentBytes: recordBytes(0) * 3 });
    expect(second.recoveredEntries).toBe(5 + 8);
    expect(second.stats).toMatchObject({ records: 2, entries: 13, corruptSkipped: 0, written: 0 });
    const replayed = await drain(second);
    expect(replayed.map((r) => r.partition)).toEqual(['p4', 'p7']);
    expect(replayed.map((r) => r.lines)).toEqual([lines(4, 5), lines(7, 8)]);
    // New records continue after the old seqs.
    await second.append('new', lines(100));
    const fresh = (await second.next())!;
    expect(fresh.seq).toBeGreaterThan(handed[9]!.seq);
    await second.ack(fresh.seq);
    await second.close();

    const third = await open();
    expect(third.recoveredEntries).toBe(0);
    expect(await third.next()).toBeUndefined();
    await third.close();
  });

  it('deletes fully acknowledged segments, and their sidecars, on the spot and at open', async () => {
    const spool = await open({ segmentBytes: recordBytes(0) + 1 });
    for (let b = 0; b < 4; b++) await spool.append('p', lines(b));
    expect(segmentFiles()).toHaveLength(4);
    const got = await drain(spool);
    expect(got).toHaveLength(4);
    expect(segmentFiles()).toHaveLength(1); // the active one
    expect(readdirSync(dir).filter((f) => f.endsWith('.ack'))).toHaveLength(1);
    await spool.close();
    const again = await open();
    expect(readdirSync(dir).filter((f) => !f.startsWith('.'))).toEqual([]);
    await again.close();
  });

  it('removes an orphaned ack sidecar (crash between the two unlinks)', async () => {
    const spool = await open();
    await spool.close();
    writeFileSync(join(dir, '0000000000000077.ack'), Buffer.alloc(8));
    const again = await open();
    expect(readdirSync(dir)).toEqual([]);
    await again.close();
  });
});

describe('Spool damage', () => {
  /** Three records in one segment; returns the segment path and each record's [start, end). */
  async function threeRecords(): Promise<{ path: string; spans: Array<[number, number]> }> {
    const spool = await open();
    const spans: Array<[number, number]> = [];
    let at = 0;
    for (let b = 0; b < 3; b++) {
      await spool.append('p', lines(b, 10));
      spans.push([at, spool.stats.bytes]);
      at = spool.stats.bytes;
    }
    await spool.close();
    const files = segmentFiles();
    expect(files).toHaveLength(1);
    return { path: join(dir, files[0]!), spans };
  }

  function flip(path: string, offset: number): void {
    const bytes = readFileSync(path);
    bytes[offset] = bytes[offset]! ^ 0x20;
    writeFileSync(path, bytes);
  }

  it('skips a truncated last record and delivers the rest', async () => {
    const { path, spans } = await threeRecords();
    truncateSync(path, spans[2]![0] + HEADER_BYTES + 7);
    const spool = await open();
    expect(spool.stats.corruptSkipped).toBe(1);
    expect(spool.recoveredEntries).toBe(20);
    expect(batchesOf(await drain(spool))).toEqual([0, 1]);
    expect(spool.stats.corruptSkipped).toBe(1); // counted once, not again while reading
    expect(spool.stats.lostEntries).toBe(0);
    await spool.close();
  });

  it('skips a record cut inside its header', async () => {
    const { path, spans } = await threeRecords();
    truncateSync(path, spans[2]![0] + 10);
    const spool = await open();
    expect(spool.stats.corruptSkipped).toBe(1);
    expect(batchesOf(await drain(spool))).toEqual([0, 1]);
    await spool.close();
  });

  it('skips a middle record with a flipped payload byte; the others are delivered', async () => {
    const { path, spans } = await threeRecords();
    flip(path, spans[1]![0] + HEADER_BYTES + 40);
    const spool = await open();
    expect(spool.stats).toMatchObject({ corruptSkipped: 1, records: 2, entries: 20 });
    expect(batchesOf(await drain(spool))).toEqual([0, 2]);
    await spool.close();
    // The damaged record is not handed out again after a restart either (its segment is gone).
    const again = await open();
    expect(await again.next()).toBeUndefined();
    await again.close();
  });

  it('resynchronises after a flipped byte in a middle record header', async () => {
    const { path, spans } = await threeRecords();
    flip(path, spans[1]![0] + 6); // the length field
    const spool = await open();
    expect(spool.stats.corruptSkipped).toBe(1);
    expect(batchesOf(await drain(spool))).toEqual([0, 2]);
    await spool.close();
  });

  it('resynchronises past garbage between records', async () => {
    const { path, spans } = await threeRecords();
    const bytes = readFileSync(path);
    // Includes the record magic, so resynchronisation meets false starts.
    const garbage = Buffer.concat(Array.from({ length: 50 }, () => Buffer.concat([Buffer.from('\u0000garbage'), RECORD_MAGIC, Buffer.from('but not a header')])));
    writeFileSync(path, Buffer.concat([bytes.subarray(0, spans[1]![0]), garbage, bytes.subarray(spans[1]![0])]));
    const spool = await open();
    expect(spool.stats.corruptSkipped).toBe(1);
    expect(batchesOf(await drain(spool))).toEqual([0, 1, 2]);
    await spool.close();
  });

  it('survives a segment that is all garbage, and an empty one', async () => {
    const { spans } = await threeRecords();
    expect(spans).toHaveLength(3);
    writeFileSync(join(dir, segmentFileName(1_000)), Buffer.alloc(5000, 0xf7));
    writeFileSync(join(dir, segmentFileName(2_000)), '');
    const spool = await open();
    expect(spool.stats.corruptSkipped).toBe(1);
    expect(batchesOf(await drain(spool))).toEqual([0, 1, 2]);
    await spool.append('p', lines(3));
    const last = (await spool.next())!;
    expect(last.seq).toBeGreaterThan(2_000);
    await spool.close();
  });

  it('skips a record damaged while the spool is open and counts its entries as lost', async () => {
    // One record per segment, so the damaged one sits in a sealed segment the cursor leaves.
    const spool = await open({ segmentBytes: recordBytes(0, 10) + 1 });
    for (let b = 0; b < 3; b++) await spool.append('p', lines(b, 10));
    const files = segmentFiles();
    flip(join(dir, files[1]!), HEADER_BYTES + 40);
    const got = await drain(spool);
    expect(batchesOf(got)).toEqual([0, 2]);
    expect(spool.stats).toMatchObject({ corruptSkipped: 1, lostEntries: 10, records: 0, entries: 0 });
    await spool.close();
  });
});

describe('Spool bounds', () => {
  it('drop_oldest: evicts the oldest segments, reports the entries, stays within maxBytes', async () => {
    const rb = recordBytes(0, 5);
    const spool = await open({ maxBytes: rb * 10, segmentBytes: rb * 2, onFull: 'drop_oldest' });
    let evicted = 0;
    for (let b = 0; b < 25; b++) {
      const r = await spool.append('p', lines(b, 5));
      expect(r.stored).toBe(true);
      evicted += r.evictedEntries;
      expect(spool.stats.bytes).toBeLessThanOrEqual(rb * 10);
      expect(spool.stats.bytes).toBe(diskBytes());
    }
    expect(evicted).toBeGreaterThan(0);
    expect(evicted).toBe(spool.stats.evictedEntries);
    expect(evicted + spool.stats.entries).toBe(25 * 5);
    const got = await drain(spool);
    const kept = batchesOf(got);
    expect(kept.at(-1)).toBe(24);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 25 - kept.length + i));
    expect(kept.length * 5 + evicted).toBe(25 * 5);
    await spool.close();
  });

  it('drop_oldest keeps handed-out records of an evicted segment readable until acknowledged', async () => {
    const rb = recordBytes(0);
    const spool = await open({ maxBytes: rb * 4, segmentBytes: rb * 2, onFull: 'drop_oldest' });
    await spool.append('p', lines(0));
    await spool.append('p', lines(1));
    const r0 = (await spool.next())!;
    let evicted = 0;
    for (let b = 2; b < 8; b++) evicted += (await spool.append('p', lines(b))).evictedEntries;
    // Batch 1 was evicted, batch 0 is out: it is not counted as evicted.
    expect(evicted).toBeGreaterThanOrEqual(3);
    spool.release(r0.seq);
    const again = (await spool.next())!;
    expect(again).toEqual(r0);
    await spool.ack(again.seq);
    const rest = await drain(spool);
    expect(batchesOf([again, ...rest])[0]).toBe(0);
    expect(1 + rest.length + evicted / 3).toBe(8);
    expect(spool.stats).toMatchObject({ records: 0, entries: 0, outRecords: 0 });
    await spool.close();
  });

  it('drop_newest: refuses new records when full, accepts again once drained', async () => {
    const rb = recordBytes(0);
    const spool = await open({ maxBytes: rb * 4, segmentBytes: rb * 2, onFull: 'drop_newest' });
    const stored: boolean[] = [];
    for (let b = 0; b < 6; b++) stored.push((await spool.append('p', lines(b))).stored);
    expect(stored).toEqual([true, true, true, true, false, false]);
    expect(spool.stats).toMatchObject({ refused: 2, records: 4, entries: 12, evictedEntries: 0 });
    expect(batchesOf(await drain(spool))).toEqual([0, 1, 2, 3]);
    expect(await spool.append('p', lines(6))).toEqual({ stored: true, evictedEntries: 0 });
    expect(batchesOf(await drain(spool))).toEqual([6]);
    await spool.close();
  });

  it('drop_newest: a fully acknowledged segment still being appended to does not count as full', async () => {
    const rb = recordBytes(0);
    const spool = await open({ maxBytes: rb * 4, segmentBytes: rb * 4, onFull: 'drop_newest' });
    for (let b = 0; b < 4; b++) expect((await spool.append('p', lines(b))).stored).toBe(true);
    expect(await drain(spool)).toHaveLength(4);
    expect(spool.stats.bytes).toBe(rb * 4);
    expect((await spool.append('p', lines(4))).stored).toBe(true);
    expect(spool.stats).toMatchObject({ bytes: rb, refused: 0 });
    expect(segmentFiles()).toHaveLength(1);
    expect(batchesOf(await drain(spool))).toEqual([4]);
    await spool.close();
  });

  it('refuses a single record larger than maxBytes under either policy', async () => {
    for (const onFull of ['drop_oldest', 'drop_newest'] as const) {
      const spool = await open({ maxBytes: 500, onFull });
      await spool.append('p', ['{"small":1}']);
      expect(await spool.append('p', ['x'.repeat(600)])).toEqual({ stored: false, evictedEntries: 0 });
      expect(spool.stats.records).toBe(1);
      await drain(spool);
      await spool.close();
    }
  });

  it('appends 50,000 entries in batches of 1000 quickly (timings printed, not asserted)', async () => {
    const batches = Array.from({ length: 50 }, (_, b) =>
      Array.from({ length: 1000 }, (_, i) =>
        JSON.stringify({ timestamp: '2026-01-01T00:00:00.123456789Z', message: `request ${b}-${i} GET /api/things 200`, fly: { app: { name: 'app', instance: '148ed' }, region: 'ams' }, log: { level: 'info' } }),
      ),
    );
    for (const fsync of [true, false]) {
      dir = join(root, `s${++n}`);
      const spool = await open({ fsync, maxBytes: 512 * 1024 * 1024 });
      const started = performance.now();
      for (const batch of batches) await spool.append('app', batch);
      const appendMs = performance.now() - started;
      const mb = spool.stats.bytes / 1e6;
      const readStarted = performance.now();
      const got = await drain(spool);
      const readMs = performance.now() - readStarted;
      console.log(
        `spool: appended 50,000 entries (50 records, ${mb.toFixed(1)} MB) in ${appendMs.toFixed(0)} ms with fsync ${fsync ? 'on' : 'off'}; read back and acknowledged in ${readMs.toFixed(0)} ms`,
      );
      expect(got.reduce((s, r) => s + r.lines.length, 0)).toBe(50_000);
      expect(spool.stats).toMatchObject({ written: 50, replayed: 50, records: 0 });
      await spool.close();
    }
  });
});

describe('Spool disk errors', () => {
  it('SPOOL_UNAVAILABLE when the directory cannot be created (a path under a regular file: ENOTDIR even for root)', async () => {
    const file = join(root, `file-${++n}`);
    writeFileSync(file, 'not a directory');
    const err = await Spool.open({ dir: join(file, 'spool'), maxBytes: 1e6, onFull: 'drop_oldest' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpoolError);
    expect(err).toMatchObject({ code: 'SPOOL_UNAVAILABLE', cause: { code: 'ENOTDIR' } });
  });

  it('SPOOL_UNAVAILABLE when the directory path is a regular file', async () => {
    const file = join(root, `file-${++n}`);
    writeFileSync(file, 'not a directory');
    await expect(Spool.open({ dir: file, maxBytes: 1e6, onFull: 'drop_oldest' })).rejects.toMatchObject({ code: 'SPOOL_UNAVAILABLE' });
  });

  it('SPOOL_WRITE_FAILED on a full disk (segment file pointing at /dev/full); later appends go to a fresh segment', async () => {
    const spool = await open({ segmentBytes: recordBytes(0) + 1 });
    await spool.append('p', lines(0)); // seq 1, its own segment
    // The next record (seq 2) starts a new segment: make that file a full disk.
    symlinkSync('/dev/full', join(dir, segmentFileName(2)));
    const err = await spool.append('p', lines(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpoolError);
    expect(err).toMatchObject({ code: 'SPOOL_WRITE_FAILED', cause: { code: 'ENOSPC' } });
    expect(spool.stats).toMatchObject({ written: 1, records: 1, entries: 3 });
    expect(await spool.append('p', lines(2))).toEqual({ stored: true, evictedEntries: 0 });
    expect(batchesOf(await drain(spool))).toEqual([0, 2]);
    await spool.close();
  });

  it('SPOOL_WRITE_FAILED when the directory disappears; what was stored is still delivered', async () => {
    const spool = await open({ segmentBytes: recordBytes(0) + 1 });
    await spool.append('p', lines(0));
    const first = (await spool.next())!;
    spool.release(first.seq);
    // Replace the directory by a file: creating the next segment fails with ENOENT/ENOTDIR.
    const moved = `${dir}-moved`;
    (await import('node:fs')).renameSync(dir, moved);
    writeFileSync(dir, 'in the way');
    await expect(spool.append('p', lines(1))).rejects.toMatchObject({ code: 'SPOOL_WRITE_FAILED' });
    // The open read handle still reaches the first record.
    expect(batchesOf([(await spool.next())!])).toEqual([0]);
    await spool.close();
  });
});

describe('Spool against a model (seeded random operations)', () => {

  type State = 'stored' | 'out' | 'released';

  for (const [seed, onFull] of [[1, 'drop_oldest'], [2, 'drop_newest'], [3, 'drop_oldest'], [4, 'drop_newest']] as const) {
    it(`seed ${seed}, ${onFull}: hands out every record once in order, counts match, evictions are the oldest`, async () => {
      const rnd = prng(seed);
      const opts = { maxBytes: 6000, segmentBytes: 1500, onFull } as const;
      let spool = await open(opts);
      const model = new Map<number, { entries: number; state: State; lines: string[] }>();
      let appendedEntries = 0;
      let deliveredEntries = 0;
      let evictedEntries = 0;
      let refusedEntries = 0;
      let b = 0;
      let reopens = 0;

      const check = (): void => {
        let records = 0;
        let entries = 0;
        let out = 0;
        for (const r of model.values()) {
          records++;
          entries += r.entries;
          if (r.state !== 'stored') out++;
        }
        expect(spool.stats).toMatchObject({ records, entries, outRecords: out });
        expect(spool.stats.bytes).toBe(diskBytes());
        expect(appendedEntries).toBe(deliveredEntries + evictedEntries + refusedEntries + entries);
      };

      for (let op = 0; op < 1500; op++) {
        const x = rnd();
        if (x < 0.4) {
          const count = 1 + Math.floor(rnd() * 4);
          const ls = Array.from({ length: count }, (_, i) => JSON.stringify({ b, i, pad: 'z'.repeat(Math.floor(rnd() * 120)) }));
          b++;
          appendedEntries += count;
          const r = await spool.append(`p${b % 2}`, ls);
          if (!r.stored) {
            refusedEntries += count;
          } else {
            // Evicted: the oldest records not handed out, whole, adding up to exactly the reported entries.
            // Records never handed out are keyed -b until their seq is known, so oldest = highest key.
            let left = r.evictedEntries;
            for (const [key, rec] of [...model].filter(([, m]) => m.state === 'stored').sort((p, q) => q[0] - p[0])) {
              if (left === 0) break;
              expect(rec.entries).toBeLessThanOrEqual(left);
              left -= rec.entries;
              model.delete(key);
            }
            expect(left).toBe(0);
            evictedEntries += r.evictedEntries;
            model.set(-b, { entries: count, state: 'stored', lines: ls });
          }
          if (onFull === 'drop_oldest') expect(spool.stats.bytes).toBeLessThanOrEqual(opts.maxBytes);
        } else if (x < 0.7) {
          const rec = await spool.next();
          const released = [...model].filter(([, r]) => r.state === 'released').sort((p, q) => p[0] - q[0]);
          const stored = [...model].filter(([, r]) => r.state === 'stored');
          if (released.length > 0) {
            expect(rec?.seq).toBe(released[0]![0]);
            model.get(rec!.seq)!.state = 'out';
          } else if (stored.length > 0) {
            // Never handed out yet: the oldest append.
            const oldest = stored.sort((p, q) => q[0] - p[0])[0]!;
            expect(rec).toBeDefined();
            expect(rec!.lines).toEqual(oldest[1].lines);
            model.delete(oldest[0]);
            model.set(rec!.seq, { ...oldest[1], state: 'out' });
          } else {
            expect(rec).toBeUndefined();
          }
        } else if (x < 0.85) {
          const outs = [...model].filter(([, r]) => r.state !== 'stored');
          if (outs.length > 0) {
            const [seq, rec] = outs[Math.floor(rnd() * outs.length)]!;
            await spool.ack(seq);
            deliveredEntries += rec.entries;
            model.delete(seq);
          }
        } else if (x < 0.97) {
          const outs = [...model].filter(([, r]) => r.state === 'out');
          if (outs.length > 0) {
            const [seq, rec] = outs[Math.floor(rnd() * outs.length)]!;
            spool.release(seq);
            rec.state = 'released';
          }
        } else {
          // Restart, with nothing in flight (what is in flight at a restart is replayed; the model keeps it simple).
          for (const [seq, rec] of [...model].filter(([, r]) => r.state !== 'stored')) {
            await spool.ack(seq);
            deliveredEntries += rec.entries;
            model.delete(seq);
          }
          await spool.close();
          spool = await open(opts);
          reopens++;
          let pending = 0;
          for (const r of model.values()) pending += r.entries;
          expect(spool.recoveredEntries).toBe(pending);
        }
        check();
      }
      await spool.close();
      // The run did meet the interesting cases.
      expect(reopens).toBeGreaterThan(0);
      expect(deliveredEntries).toBeGreaterThan(0);
      expect(onFull === 'drop_oldest' ? evictedEntries : refusedEntries).toBeGreaterThan(0);
    });
  }
});
