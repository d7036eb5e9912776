import { describe, expect, it } from 'vitest';
import { batchEntries, batchFromLines, batchLines, firstEntry, makeBatch, NdjsonWriter, SlabPool, splitBatch } from '../../src/pipeline/batch.js';
import { EntryView, intake, parseSubject, type LogEntry } from '../../src/intake/entry.js';
import { makeFlyEntries } from '../support/fly-entries.js';
import { waitFor } from '../support/poll.js';

function flyLine(i: number, message = `m${i}`): string {
  return JSON.stringify({ fly: { app: { instance: 'i1', name: 'web' }, region: 'ams' }, log: { level: 'info' }, message, timestamp: `2026-11-26T20:00:${String(i % 60).padStart(2, '0')}.123456789Z` });
}

function plain(line: string, receivedAtMs = 1000): LogEntry {
  return { line, bytes: Buffer.byteLength(line), app: 'web', region: 'ams', instance: 'i1', timestamp: '', receivedAtMs };
}

describe('NdjsonWriter', () => {
  it('copies views and plain entries alike, growing its buffer, and finishes to the exact NDJSON', () => {
    const writer = new NdjsonWriter(1024);
    const view = new EntryView();
    const expected: string[] = [];
    for (const e of makeFlyEntries(500, { seed: 4 })) {
      // Half as views over a bigger buffer (as from the NATS client), half as plain entries.
      if (expected.length % 2 === 0) {
        const buf = Buffer.from(`xx${e.payload}yy`);
        expect(intake(parseSubject(e.subject), buf, 2, buf.length - 2, 0, view)).toBe('entry');
        writer.append(view);
      } else {
        writer.append(plain(e.payload));
      }
      expected.push(e.payload);
    }
    expect(writer.capacity).toBeGreaterThan(1024);
    const ndjson = writer.finish();
    expect(ndjson.toString('utf8')).toBe(`${expected.join('\n')}\n`);
    expect(writer.count).toBe(500);
    expect(writer.lineBytes).toBe(ndjson.length - 500);
    // Little used of a big buffer: the result is a right-sized copy, not a view of the big one.
    const small = new NdjsonWriter(1 << 20);
    small.append(plain('{"a":1}'));
    expect(small.finish().buffer.byteLength).toBeLessThan(1 << 10);
  });

  it('measures a plain entry by its line, not its declared bytes', () => {
    const writer = new NdjsonWriter(16);
    writer.append({ ...plain('{"m":"ünï 🚀"}'), bytes: 3 });
    expect(writer.finish().toString('utf8')).toBe('{"m":"ünï 🚀"}\n');
    expect(writer.lineBytes).toBe(Buffer.byteLength('{"m":"ünï 🚀"}'));
  });
});

describe('batch helpers', () => {
  const lines = Array.from({ length: 7 }, (_, i) => flyLine(i, i === 3 ? 'ünïcødé 🚀 "q" \\ \t' : `m${i}`));
  const batch = makeBatch(9, 'p', lines.map((l) => plain(l, 5000)));

  it('makeBatch / batchFromLines / batchLines round-trip the lines', () => {
    expect(batch).toMatchObject({ id: 9, partition: 'p', count: 7, receivedAtMs: 5000 });
    expect(batch.bytes).toBe(lines.reduce((n, l) => n + Buffer.byteLength(l), 0));
    expect(batchLines(batch)).toEqual(lines);
    const again = batchFromLines(10, 'p', lines, 6000);
    expect(again.ndjson.equals(batch.ndjson)).toBe(true);
    expect(again).toMatchObject({ count: 7, bytes: batch.bytes, receivedAtMs: 6000 });
    expect(batchLines(makeBatch(1, '', []))).toEqual([]);
  });

  it('splitBatch halves by entries (first half gets the extra one), recursively down to one', () => {
    const [a, b] = splitBatch(batch, 1, 2);
    expect([a.count, b.count]).toEqual([4, 3]);
    expect([...batchLines(a), ...batchLines(b)]).toEqual(lines);
    expect(a.bytes + b.bytes).toBe(batch.bytes);
    expect(a.receivedAtMs).toBe(5000);
    const [c, d] = splitBatch(b, 3, 4);
    expect(batchLines(c)).toEqual(lines.slice(4, 6));
    expect(batchLines(d)).toEqual(lines.slice(6));
    const [e, f] = splitBatch(d.count === 1 ? c : d, 5, 6);
    expect([e.count, f.count]).toEqual([1, 1]);
  });

  it('batchEntries and firstEntry read the fields back, with the batch receive time', () => {
    const entries = batchEntries(batch);
    expect(entries.map((e) => e.line)).toEqual(lines);
    expect(entries[3]).toMatchObject({ app: 'web', region: 'ams', instance: 'i1', timestamp: '2026-11-26T20:00:03.123456789Z', receivedAtMs: 5000 });
    expect(firstEntry(batch)?.line).toBe(lines[0]);
    expect(firstEntry(makeBatch(1, '', []))).toBeUndefined();
  });
});

describe('SlabPool', () => {
  it('reuses only whole batch buffers it lent out, within its byte bound', () => {
    const pool = new SlabPool(3 * 64 * 1024, 3);
    const writer = new NdjsonWriter(64 * 1024, pool);
    writer.append(plain(flyLine(1)));
    const ndjson = writer.finish();
    // Pooled writers hand out a view of their buffer: no copy at seal time.
    expect(ndjson.buffer.byteLength).toBe(64 * 1024);
    pool.giveBack(ndjson); // never lent: ignored
    expect(pool.freeBytes).toBe(0);
    pool.lend(ndjson);
    const [half] = splitBatch(makeBatch(1, '', [plain(flyLine(1)), plain(flyLine(2))]), 2, 3);
    pool.giveBack(half.ndjson); // a split half is not a lent buffer
    expect(pool.freeBytes).toBe(0);
    pool.giveBack(ndjson);
    expect(pool.freeBytes).toBe(64 * 1024);
    pool.giveBack(ndjson); // only once
    expect(pool.freeBytes).toBe(64 * 1024);
    // The next writer gets the same memory back.
    const next = new NdjsonWriter(64 * 1024, pool);
    expect(pool.freeBytes).toBe(0);
    next.append(plain(flyLine(2)));
    expect(next.finish().buffer).toBe(ndjson.buffer);
    // Beyond its bounds (bytes and count) the pool lets buffers go.
    for (let i = 0; i < 5; i++) pool.give(Buffer.allocUnsafeSlow(64 * 1024));
    expect(pool.freeBytes).toBe(3 * 64 * 1024);
    pool.give(Buffer.allocUnsafeSlow(1024).subarray(1)); // not a whole buffer
    expect(pool.freeBytes).toBe(3 * 64 * 1024);
    const byCount = new SlabPool(1 << 30, 2);
    for (let i = 0; i < 5; i++) byCount.give(Buffer.allocUnsafeSlow(1024));
    expect(byCount.freeBytes).toBe(2 * 1024);
  });

  it('lets go of free buffers nobody took for a while', () => {
    let now = 0;
    const pool = new SlabPool(1 << 30, 8, 5_000, () => now);
    const a = Buffer.allocUnsafeSlow(1024);
    const b = Buffer.allocUnsafeSlow(1024);
    pool.give(a);
    now = 3_000;
    pool.give(b);
    expect(pool.freeBytes).toBe(2048);
    // a has been free for more than 5 s, b for 3 s: only b is kept.
    now = 6_000;
    expect(pool.take(1024, 1024)).toBe(b);
    expect(pool.freeBytes).toBe(0);
    pool.give(a);
    now = 11_001;
    pool.give(b);
    expect(pool.freeBytes).toBe(1024);
    expect(pool.take(1024, 1024)).toBe(b);
  });

  it('frees idle buffers on its own when no take or give comes by (batches sealed by age come back long before the next ones)', async () => {
    const pool = new SlabPool(1 << 30, 8, 30);
    const a = Buffer.allocUnsafeSlow(64 * 1024);
    const b = Buffer.allocUnsafeSlow(64 * 1024);
    pool.give(a);
    const gaveB = Date.now();
    pool.give(b);
    expect(pool.freeBytes).toBe(128 * 1024);
    await waitFor(() => pool.freeBytes === 0, { what: 'the idle buffers let go without a take or give', timeoutMs: 2_000, intervalMs: 5 });
    expect(Date.now() - gaveB).toBeGreaterThanOrEqual(25);
    // Freed at once (detached), not left for a GC.
    expect(a.buffer.byteLength).toBe(0);
    expect(b.buffer.byteLength).toBe(0);
    // The sweep arms again for buffers given back later.
    const c = Buffer.allocUnsafeSlow(64 * 1024);
    pool.give(c);
    await waitFor(() => c.buffer.byteLength === 0, { what: 'a later idle buffer let go too', timeoutMs: 2_000, intervalMs: 5 });
  });

  it('takes the buffer given back last, so at a steady trickle the spare ones go idle and are let go', () => {
    let now = 0;
    const pool = new SlabPool(1 << 30, 8, 5_000, () => now);
    const spare = Buffer.allocUnsafeSlow(1024);
    const used = Buffer.allocUnsafeSlow(1024);
    pool.give(spare);
    pool.give(used);
    // One batch at a time goes around: it always gets the same buffer back.
    for (let t = 1_000; t <= 8_000; t += 1_000) {
      now = t;
      expect(pool.take(1024, 1024)).toBe(used);
      pool.give(used);
    }
    // The spare one was not taken for over 5 s: only the buffer in use is kept.
    expect(pool.freeBytes).toBe(1024);
  });

  it('hands out buffers that hold what the batch will need, and keeps the larger ones when full', () => {
    const pool = new SlabPool(1 << 30, 2);
    const small = Buffer.allocUnsafeSlow(64 * 1024);
    const big = Buffer.allocUnsafeSlow(4 * 1024 * 1024);
    const bigger = Buffer.allocUnsafeSlow(6 * 1024 * 1024);
    pool.give(small);
    pool.give(big);
    // A batch expected to need 4 MiB must not start in the 64 KiB buffer and regrow.
    expect(pool.take(64 * 1024, 4 * 1024 * 1024)).toBe(big);
    pool.give(big);
    // Full (2 buffers): a larger buffer displaces the smallest; a smaller one is let go.
    pool.give(bigger);
    expect(pool.freeBytes).toBe(big.length + bigger.length);
    pool.give(Buffer.allocUnsafeSlow(1024));
    expect(pool.freeBytes).toBe(big.length + bigger.length);
    // The smallest that holds the preferred size; short of that, the largest holding most of it.
    expect(pool.take(1024, 3 * 1024 * 1024)).toBe(big);
    expect(pool.take(1024, 7 * 1024 * 1024)).toBe(bigger);
    // Nothing free holds most of what is preferred: a new buffer of the preferred size.
    pool.give(small);
    const fresh = pool.take(1024, 1024 * 1024);
    expect(fresh).not.toBe(small);
    expect(fresh.length).toBe(1024 * 1024);
    // The byte bound still holds: a buffer larger than it is never kept.
    const bounded = new SlabPool(1024 * 1024, 4);
    bounded.give(Buffer.allocUnsafeSlow(2 * 1024 * 1024));
    expect(bounded.freeBytes).toBe(0);
  });

  it('never hands a buffer many times larger than a batch expects to it', () => {
    const pool = new SlabPool(1 << 30, 4);
    const burst = Buffer.allocUnsafeSlow(8 * 1024 * 1024);
    pool.give(burst);
    // A trickle's batch (256 KiB expected) gets a buffer of its own size, not the burst's 8 MiB
    // (all of which would be resident once reused); the large one stays free until it idles out.
    const fresh = pool.take(1024, 256 * 1024);
    expect(fresh).not.toBe(burst);
    expect(fresh.length).toBe(256 * 1024);
    expect(pool.freeBytes).toBe(8 * 1024 * 1024);
    // A batch expecting a few MiB takes it.
    expect(pool.take(1024, 3 * 1024 * 1024)).toBe(burst);
  });

  it('frees at once the buffers it does not keep', () => {
    let now = 0;
    const pool = new SlabPool(1024 * 1024, 1, 5_000, () => now);
    // Larger than the byte bound: freed (its memory detached), not left to the GC.
    const huge = Buffer.allocUnsafeSlow(2 * 1024 * 1024);
    pool.give(huge);
    expect(huge.buffer.detached).toBe(true);
    // Full: the smaller of two goes, freed.
    const kept = Buffer.allocUnsafeSlow(512 * 1024);
    const smaller = Buffer.allocUnsafeSlow(64 * 1024);
    pool.give(kept);
    pool.give(smaller);
    expect(smaller.buffer.detached).toBe(true);
    expect(kept.buffer.detached).toBe(false);
    expect(pool.freeBytes).toBe(512 * 1024);
    // Unused for longer than idleMs: freed when the pool is next used.
    now = 6_000;
    pool.take(1024, 1024);
    expect(kept.buffer.detached).toBe(true);
    expect(pool.freeBytes).toBe(0);
    // release: a lent batch buffer is freed; anything else is left alone.
    const writer = new NdjsonWriter(64 * 1024, pool);
    writer.append(plain(flyLine(1)));
    const ndjson = writer.finish();
    const other = Buffer.allocUnsafeSlow(1024);
    pool.release(other);
    expect(other.buffer.detached).toBe(false);
    pool.lend(ndjson);
    pool.release(ndjson);
    expect((ndjson.buffer as ArrayBuffer).detached).toBe(true);
    pool.giveBack(ndjson); // no longer lent: ignored
    expect(pool.freeBytes).toBe(0);
  });

  it('a writer that outgrows its buffer returns it to the pool', () => {
    const pool = new SlabPool(1 << 20);
    const writer = new NdjsonWriter(1024, pool);
    for (let i = 0; i < 50; i++) writer.append(plain(flyLine(i, 'x'.repeat(100))));
    expect(pool.freeBytes).toBeGreaterThan(0);
    expect(batchLines({ id: 1, key: 'k', partition: '', ndjson: writer.finish(), count: writer.count, bytes: writer.lineBytes, receivedAtMs: 0 })).toHaveLength(50);
  });
});
