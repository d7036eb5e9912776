import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SinkNetworkError, SinkResponseError, classifyFailure } from '../../src/errors.js';
import { ThrottledLog } from '../../src/ops/logger.js';
import { SinkPipeline } from '../../src/pipeline/sink-pipeline.js';
import type { Batch, EncodedBatch, PipelineSettings, SendResult, Sink } from '../../src/pipeline/sink.js';
import { SinkStats, total } from '../../src/ops/stats.js';
import { EntryView, FIELD_MESSAGE, intake, parseSubject, scanAllFlyFieldsAtIntake, type LogEntry } from '../../src/intake/entry.js';
import { waitFor } from '../support/poll.js';
import { batchEntries, batchLines, fieldSpansOf, FIELD_SPANS_STRIDE, SPANS_UNKNOWN, SlabPool } from '../../src/pipeline/batch.js';
import { Batcher } from '../../src/pipeline/batcher.js';
import { gzip } from '../../src/codec/compress.js';
import { gunzipSync } from 'node:zlib';

const logger = pino({ level: 'silent' });

function indexOf(line: string): number {
  return (JSON.parse(line) as { i: number }).i;
}

/** A Fly line of exactly `bytes` bytes (padded), so buffer accounting sees real sizes. */
function entry(i: number, app = 'app', bytes = 100): LogEntry {
  const head = `{"fly":{"app":{"name":"${app}","instance":"x"},"region":"r"},"timestamp":"2026-11-26T00:00:00Z","i":${i},"pad":"`;
  const line = `${head}${'x'.repeat(Math.max(0, bytes - head.length - 2))}"}`;
  return { line, bytes: line.length, app, region: 'r', instance: 'x', timestamp: '2026-11-26T00:00:00Z', receivedAtMs: Date.now() };
}

type SendFn = (batch: Batch, attempt: number) => Promise<SendResult | void>;

class FakeSink implements Sink {
  readonly name = 'fake';
  readonly kind = 'http' as const;
  initialEncodedRatio = 1;
  readonly sent: Batch[] = [];
  attempts = 0;
  partitionKey?: (e: LogEntry) => string;
  readonly behaviour: SendFn;
  constructor(behaviour: SendFn = async () => undefined, partitioned = false) {
    this.behaviour = behaviour;
    if (partitioned) this.partitionKey = (e) => e.app;
  }
  encode(batch: Batch): EncodedBatch | Promise<EncodedBatch> {
    return { body: new Uint8Array(batch.bytes), entryCount: batch.count };
  }
  async send(_encoded: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<SendResult | void> {
    signal.throwIfAborted();
    this.attempts++;
    const r = await this.behaviour(batch, this.attempts);
    // The core reuses a delivered batch's buffer: what a test inspects later must be a copy.
    this.sent.push({ ...batch, ndjson: Buffer.from(batch.ndjson) });
    return r;
  }
  classify = classifyFailure;
}

function settings(over: { maxInFlight?: number; bufferMaxBytes?: number; batch?: Partial<PipelineSettings['batch']> } = {}): PipelineSettings {
  return {
    maxInFlight: over.maxInFlight ?? 2,
    bufferMaxBytes: over.bufferMaxBytes ?? 1_000_000,
    batch: { maxEntries: 10, maxBytes: 1_000_000, maxAgeMs: 20, ...over.batch },
  };
}

function pipeline(sink: Sink, s = settings()): { p: SinkPipeline; stats: SinkStats } {
  const stats = new SinkStats();
  const p = new SinkPipeline({ sink, settings: s, retry: { initialBackoffMs: 5, maxBackoffMs: 20 }, stats, logger, throttled: new ThrottledLog(logger, 60_000) });
  return { p, stats };
}

function accounted(stats: SinkStats): number {
  return stats.delivered + total(stats.rejected) + total(stats.dropped) + stats.pending;
}

describe('SinkPipeline', () => {
  it('batches by max entries and by age, and delivers everything', async () => {
    const sink = new FakeSink();
    const { p, stats } = pipeline(sink);
    for (let i = 0; i < 25; i++) p.accept(entry(i));
    await waitFor(() => stats.delivered === 25, { what: 'all delivered' });
    expect(sink.sent.map((b) => b.count)).toEqual([10, 10, 5]);
    expect(stats.pending).toBe(0);
    expect(stats.bufferedBytes).toBe(0);
    expect(accounted(stats)).toBe(stats.received);
  });

  it("keeps the intake's field spans beside the batches of a sink that reads Fly fields, and only of such a sink", async () => {
    scanAllFlyFieldsAtIntake(true);
    try {
      const view = new EntryView();
      const reads = new FakeSink();
      Object.assign(reads, { readsFlyFields: true });
      const spansSeen: Array<Int32Array | undefined> = [];
      const original = reads.encode.bind(reads);
      reads.encode = (batch) => {
        spansSeen.push(fieldSpansOf(batch.ndjson));
        return original(batch);
      };
      const plain = new FakeSink();
      const a = pipeline(reads);
      const b = pipeline(plain);
      const plainSpans: Array<Int32Array | undefined> = [];
      const plainEncode = plain.encode.bind(plain);
      plain.encode = (batch) => {
        plainSpans.push(fieldSpansOf(batch.ndjson));
        return plainEncode(batch);
      };
      for (let i = 0; i < 10; i++) {
        const payload = Buffer.from(entry(i).line.replace('"i":', '"message":"m","i":'));
        expect(intake(parseSubject('logs.app.r.x'), payload, 0, payload.length, Date.now(), view)).toBe('entry');
        a.p.accept(view);
        b.p.accept(view);
      }
      await waitFor(() => a.stats.delivered === 10 && b.stats.delivered === 10, { what: 'both delivered' });
      expect(spansSeen).toHaveLength(1);
      const spans = spansSeen[0]!;
      expect(spans).toHaveLength(10 * FIELD_SPANS_STRIDE);
      // Entry 3's message span points at its "m" in the batch.
      const line3 = reads.sent[0]!.ndjson.toString('latin1').split('\n')[3]!;
      const at3 = reads.sent[0]!.ndjson.indexOf(line3);
      expect(spans[3 * FIELD_SPANS_STRIDE]).not.toBe(SPANS_UNKNOWN);
      expect(spans[3 * FIELD_SPANS_STRIDE + FIELD_MESSAGE * 2]! - at3).toBe(line3.indexOf('"m"') + 1);
      expect(plainSpans).toEqual([undefined]);
    } finally {
      scanAllFlyFieldsAtIntake(false);
    }
  });

  it('batches by estimated encoded bytes', async () => {
    const sink = new FakeSink();
    const { p, stats } = pipeline(sink, settings({ batch: { maxEntries: 1000, maxBytes: 1000 } }));
    for (let i = 0; i < 25; i++) p.accept(entry(i));
    await waitFor(() => stats.delivered === 25, { what: 'all delivered' });
    for (const b of sink.sent) expect(b.bytes).toBeLessThanOrEqual(1000);
  });

  it('batches per partition', async () => {
    const sink = new FakeSink(async () => undefined, true);
    const { p, stats } = pipeline(sink);
    for (let i = 0; i < 6; i++) p.accept(entry(i, i % 2 === 0 ? 'a' : 'b'));
    await waitFor(() => stats.delivered === 6, { what: 'all delivered' });
    for (const b of sink.sent) expect(new Set(batchEntries(b).map((e) => e.app)).size).toBe(1);
    expect(sink.sent.map((b) => b.partition).sort()).toEqual(['a', 'b']);
  });

  it('retries transient failures until they pass', async () => {
    const sink = new FakeSink(async (_b, attempt) => {
      if (attempt <= 3) throw new SinkResponseError(503, 'down');
    });
    const { p, stats } = pipeline(sink);
    for (let i = 0; i < 5; i++) p.accept(entry(i));
    await waitFor(() => stats.delivered === 5, { what: 'delivered after retries' });
    expect(stats.retries).toBe(3);
    expect(stats.failingSince).toBeUndefined();
  });

  it('never retries a permanent failure and counts it as rejected by status', async () => {
    const sink = new FakeSink(async (b) => {
      if (batchLines(b).some((line) => indexOf(line) === 0)) throw new SinkResponseError(400, 'bad');
    });
    const { p, stats } = pipeline(sink);
    for (let i = 0; i < 15; i++) p.accept(entry(i));
    await waitFor(() => stats.pending === 0, { what: 'settled' });
    expect(stats.rejected.get('http_400')).toBe(10);
    expect(stats.delivered).toBe(5);
    expect(stats.retries).toBe(0);
    expect(accounted(stats)).toBe(15);
  });

  it('counts a partial rejection and delivers the rest', async () => {
    const sink = new FakeSink(async () => {
      throw new SinkResponseError(400, 'total ignored: 3 out of 10', { rejectedEntries: 3 });
    });
    const { p, stats } = pipeline(sink);
    for (let i = 0; i < 10; i++) p.accept(entry(i));
    await waitFor(() => stats.pending === 0, { what: 'settled' });
    expect(stats.rejected.get('http_400')).toBe(3);
    expect(stats.delivered).toBe(7);
  });

  it('splits a batch on 413 until the halves fit', async () => {
    const sink = new FakeSink(async (b) => {
      if (b.count > 3) throw new SinkResponseError(413, 'too big');
    });
    const { p, stats } = pipeline(sink);
    for (let i = 0; i < 10; i++) p.accept(entry(i));
    await waitFor(() => stats.pending === 0, { what: 'settled' });
    expect(stats.delivered).toBe(10);
    expect(sink.sent.every((b) => b.count <= 3)).toBe(true);
    expect(sink.sent.flatMap((b) => batchLines(b).map(indexOf)).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(stats.bufferedBytes).toBe(0);
  });

  it('rejects a single entry that is still too large', async () => {
    const sink = new FakeSink(async () => {
      throw new SinkResponseError(413, 'too big');
    });
    const { p, stats } = pipeline(sink);
    p.accept(entry(1));
    await waitFor(() => stats.pending === 0, { what: 'settled' });
    expect(stats.rejected.get('http_413')).toBe(1);
  });

  it('drops the oldest batches when the buffer is full, and counts them', async () => {
    const sink = new FakeSink(async () => {
      throw new SinkNetworkError('refused');
    });
    const { p, stats } = pipeline(sink, settings({ bufferMaxBytes: 2000, maxInFlight: 1, batch: { maxEntries: 5 } }));
    for (let i = 0; i < 100; i++) p.accept(entry(i));
    expect(stats.bufferedBytes).toBeLessThanOrEqual(2000);
    expect(stats.dropped.get('buffer_full')).toBeGreaterThan(0);
    expect(accounted(stats)).toBe(100);
    await p.abandonAll('shutdown');
    expect(stats.pending).toBe(0);
    expect(stats.bufferedBytes).toBe(0);
    expect(accounted(stats)).toBe(100);
  });

  it('keeps retrying while the buffer has room and delivers after recovery', async () => {
    let up = false;
    const sink = new FakeSink(async () => {
      if (!up) throw new SinkNetworkError('refused');
    });
    const { p, stats } = pipeline(sink);
    for (let i = 0; i < 30; i++) p.accept(entry(i));
    await waitFor(() => stats.retries >= 5, { what: 'retrying' });
    expect(stats.failingSince).toBeDefined();
    up = true;
    await waitFor(() => stats.delivered === 30, { what: 'delivered after recovery' });
    expect(total(stats.dropped)).toBe(0);
  });

  it('whenIdle resolves after flush, and abandonAll counts what is left as shutdown', async () => {
    const sink = new FakeSink(async () => {
      throw new SinkNetworkError('refused');
    });
    const { p, stats } = pipeline(sink, settings({ batch: { maxAgeMs: 60_000 } }));
    for (let i = 0; i < 3; i++) p.accept(entry(i));
    p.flush();
    expect(await p.whenIdle(50)).toBe(false);
    await p.abandonAll('shutdown');
    expect(await p.whenIdle(1000)).toBe(true);
    expect(stats.dropped.get('shutdown')).toBe(3);
  });

  it('rejects entries whose batch cannot be encoded', async () => {
    const sink = new FakeSink();
    sink.encode = () => {
      throw new Error('boom');
    };
    const { p, stats } = pipeline(sink);
    p.accept(entry(1));
    await waitFor(() => stats.pending === 0, { what: 'settled' });
    expect(stats.rejected.get('encode_error')).toBe(1);
  });

  it('gives a pooled body back once the sink acknowledged it, never while it may be sent again', async () => {
    const bodies: Uint8Array[] = [];
    class GzipSink extends FakeSink {
      override async encode(batch: Batch): Promise<EncodedBatch> {
        const body = await gzip(batch.ndjson, 1);
        bodies.push(body);
        return { body, entryCount: batch.count };
      }
    }
    // The first batch's first attempt fails only once the second batch is encoded: its body is
    // still out (to be sent again), so the second must not have been given its buffer.
    const sink = new GzipSink(async (_b, attempt) => {
      if (attempt === 1) {
        await waitFor(() => bodies.length >= 2, { what: 'second batch encoded' });
        throw new SinkNetworkError('connection refused');
      }
    });
    const { p, stats } = pipeline(sink, settings({ maxInFlight: 2 }));
    for (let i = 0; i < 20; i++) p.accept(entry(i));
    await waitFor(() => stats.delivered === 20, { what: 'first two batches delivered' });
    expect(sink.attempts).toBe(3);
    expect(bodies[1]!.buffer).not.toBe(bodies[0]!.buffer);
    // Both acknowledged: the next body is compressed into one of their buffers.
    for (let i = 20; i < 30; i++) p.accept(entry(i));
    await waitFor(() => stats.delivered === 30, { what: 'third batch delivered' });
    expect([bodies[0]!.buffer, bodies[1]!.buffer]).toContain(bodies[2]!.buffer);
    expect(gunzipSync(bodies[2]!).toString()).toBe(sink.sent.at(-1)!.ndjson.toString());
  });

  it("keeps a delivered batch's buffer only while held entries plus free buffers fit 1.5 × the sink's buffer, else frees it at once", async () => {
    // bufferMaxBytes 100,000: the bound is 150,000. The first batch (ten 1,000-byte lines, in a
    // fresh 64 KiB buffer) is acknowledged while 40 more entries (40,000 bytes) are held.
    const run = async (freeBefore: number): Promise<{ kept: boolean; freed: boolean; delivered: number }> => {
      const givenBack: ArrayBufferLike[] = [];
      class WatchedPool extends SlabPool {
        override giveBack(ndjson: Uint8Array): void {
          givenBack.push(ndjson.buffer);
          super.giveBack(ndjson);
        }
      }
      const slabs = new WatchedPool(10_000_000, 64);
      // Free buffers too small for these batches to take: they only add to the free bytes.
      for (let i = 0; i < freeBefore / 8_000; i++) slabs.give(Buffer.allocUnsafeSlow(8_000));
      const sent: ArrayBuffer[] = [];
      const sentSizes: number[] = [];
      const stats = new SinkStats();
      const sink = new FakeSink(async (batch) => {
        sent.push(batch.ndjson.buffer as ArrayBuffer);
        sentSizes.push(batch.ndjson.buffer.byteLength);
        if (sent.length === 1) await waitFor(() => stats.bufferedBytes >= 50_000, { what: '40 more entries held' });
      });
      const p = new SinkPipeline({
        sink,
        settings: settings({ maxInFlight: 1, bufferMaxBytes: 100_000, batch: { maxEntries: 10, maxAgeMs: 20 } }),
        retry: { initialBackoffMs: 5, maxBackoffMs: 20 },
        stats,
        logger,
        throttled: new ThrottledLog(logger, 60_000),
        slabs,
      });
      for (let i = 0; i < 50; i++) p.accept(entry(i, 'app', 1000));
      await waitFor(() => stats.delivered === 50, { what: 'all 50 delivered' });
      expect(sentSizes[0]).toBe(64 * 1024);
      return { kept: givenBack.includes(sent[0]!), freed: sent[0]!.detached, delivered: stats.delivered };
    };
    // 40,000 held + 96,000 free + 65,536 > 150,000: not kept, its memory freed now (not left to the GC).
    expect(await run(96_000)).toEqual({ kept: false, freed: true, delivered: 50 });
    // 40,000 held + nothing free + 65,536 fits: kept for the next batch.
    expect(await run(0)).toEqual({ kept: true, freed: false, delivered: 50 });
  });

  it('marks credentials refused', async () => {
    const sink = new FakeSink(async () => {
      throw new SinkResponseError(401, 'no');
    });
    const { p, stats } = pipeline(sink);
    p.accept(entry(1));
    await waitFor(() => stats.pending === 0, { what: 'settled' });
    expect(stats.authFailed).toBe(true);
  });
});

describe('Batcher line-bytes cap', () => {
  it('seals before a batch exceeds maxLineBytes, whatever the encoded estimate', async () => {
    const sink = new FakeSink();
    sink.initialEncodedRatio = 0.01;
    const { p, stats } = pipeline(sink, { maxInFlight: 2, bufferMaxBytes: 1_000_000, batch: { maxEntries: 1000, maxBytes: 1_000_000, maxAgeMs: 20, maxLineBytes: 1000 } });
    for (let i = 0; i < 25; i++) p.accept(entry(i));
    await waitFor(() => stats.delivered === 25, { what: 'all delivered' });
    for (const b of sink.sent) expect(b.bytes).toBeLessThanOrEqual(1000);
  });
});

describe('Batcher buffer sizing', () => {
  it("starts a partition's batch at its own last batch's size, so it does not regrow", () => {
    const requests: number[] = [];
    class CountingPool extends SlabPool {
      override take(min: number, preferred: number): Buffer {
        requests.push(preferred);
        return super.take(min, preferred);
      }
    }
    const sealed: Batch[] = [];
    const batcher = new Batcher({ maxEntries: 100, maxBytes: 1e9, maxAgeMs: 60_000 }, () => 1, (b) => sealed.push(b), new CountingPool(0, 0));
    // A busy partition with 2 KB lines and a quiet one with 100-byte lines, alternating.
    const fill = (app: string, bytes: number): void => {
      for (let i = 0; i < 100; i++) batcher.add(app, entry(i, app, bytes));
    };
    fill('busy', 2000);
    fill('quiet', 100);
    requests.length = 0;
    fill('busy', 2000);
    // One buffer, sized from the busy partition's last batch (not from the quiet one's, sealed last).
    expect(requests).toHaveLength(1);
    expect(requests[0]).toBeGreaterThanOrEqual(100 * 2001);
    requests.length = 0;
    fill('quiet', 100);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toBeLessThan(100 * 2001);
    expect(sealed.map((b) => b.count)).toEqual([100, 100, 100, 100]);
  });

  it('lets a few busy partitions jump to their likely size at start-up instead of doubling', () => {
    const requests: Array<[string, number]> = [];
    let current = '';
    class CountingPool extends SlabPool {
      override take(min: number, preferred: number): Buffer {
        requests.push([current, preferred]);
        return super.take(min, preferred);
      }
    }
    const batcher = new Batcher({ maxEntries: 1000, maxBytes: 1e9, maxAgeMs: 60_000 }, () => 1, () => undefined, new CountingPool(0, 0), 1_000_000);
    // Six partitions open at once, then each writes 300 KB (past the 64 KiB start).
    for (let p = 0; p < 6; p++) batcher.add(`app${p}`, entry(0, `app${p}`, 1000));
    for (let i = 1; i < 300; i++) {
      for (let p = 0; p < 6; p++) {
        current = `app${p}`;
        batcher.add(current, entry(i, current, 1000));
      }
    }
    const grownTo = (app: string): number[] => requests.filter(([a]) => a === app).map(([, n]) => n);
    // The first four opened jump once to the warm-up size; later ones double (64 → 128 → 256 → 512 KiB).
    for (let p = 0; p < 4; p++) expect(grownTo(`app${p}`)).toEqual([1_000_000]);
    for (let p = 4; p < 6; p++) expect(grownTo(`app${p}`)).toEqual([131_072, 262_144, 524_288]);
    batcher.sealAll();
  });
});
