// Sinks drawing on one memory budget: a busy sink may use what the others leave free, a sink
// holding more than its fair share gives way to one that needs room, and with a spool, memory
// full of requests in flight sends new entries to disk instead of dropping them.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SinkNetworkError, classifyFailure } from '../../src/errors.js';
import { ThrottledLog } from '../../src/ops/logger.js';
import { BufferBudget } from '../../src/pipeline/buffer-budget.js';
import { SinkPipeline } from '../../src/pipeline/sink-pipeline.js';
import { MemorySpool } from '../support/memory-spool.js';
import type { Batch, EncodedBatch, PipelineSettings, Sink } from '../../src/pipeline/sink.js';
import { SinkStats, total } from '../../src/ops/stats.js';
import type { LogEntry } from '../../src/intake/entry.js';
import { batchLines } from '../../src/pipeline/batch.js';
import { waitFor } from '../support/poll.js';

const logger = pino({ level: 'silent' });
const KiB = 1024;

/** A Fly line of exactly 1,000 bytes. */
function entry(i: number): LogEntry {
  const head = `{"fly":{"app":{"name":"a","instance":"x"},"region":"r"},"timestamp":"2026-11-26T00:00:00Z","i":${i},"pad":"`;
  const line = `${head}${'x'.repeat(1000 - head.length - 2)}"}`;
  return { line, bytes: line.length, app: 'a', region: 'r', instance: 'x', timestamp: '2026-11-26T00:00:00Z', receivedAtMs: Date.now() };
}

/** Answers as told: `mode` 'ok' stores, 'fail' refuses (transiently), 'hold' keeps the request open until `release()`. */
class ScriptedSink implements Sink {
  readonly kind = 'http' as const;
  mode: 'ok' | 'fail' | 'hold' = 'ok';
  readonly stored: number[] = [];
  #held: Array<() => void> = [];
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  encode(batch: Batch): EncodedBatch {
    return { body: new Uint8Array(1), entryCount: batch.count };
  }
  async send(_e: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.mode === 'fail') throw new SinkNetworkError('refused');
    if (this.mode === 'hold') {
      await new Promise<void>((resolve, reject) => {
        this.#held.push(resolve);
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    }
    for (const line of batchLines(batch)) this.stored.push((JSON.parse(line) as { i: number }).i);
  }
  get holding(): number {
    return this.#held.length;
  }
  release(): void {
    this.mode = 'ok';
    for (const r of this.#held.splice(0)) r();
  }
  classify = classifyFailure;
}

const settings = (over: Partial<PipelineSettings> = {}): PipelineSettings => ({
  maxInFlight: 2,
  bufferMaxBytes: 64 * KiB,
  batch: { maxEntries: 10, maxBytes: 1_000_000, maxAgeMs: 20 },
  ...over,
});

function pipeline(sink: ScriptedSink, budget: BufferBudget, extra: { spool?: MemorySpool; settings?: PipelineSettings } = {}) {
  const stats = new SinkStats();
  const p = new SinkPipeline({
    sink,
    settings: extra.settings ?? settings(),
    retry: { initialBackoffMs: 60_000, maxBackoffMs: 60_000 },
    stats,
    logger,
    throttled: new ThrottledLog(logger, 60_000),
    budget,
    ...(extra.spool !== undefined ? { spool: extra.spool } : {}),
  });
  return { p, stats };
}

const accounted = (s: SinkStats): number => s.delivered + total(s.rejected) + total(s.dropped) + s.pending;

describe('BufferBudget shared by sink pipelines', () => {
  it('lets a sink that is behind use more than an equal split while the other needs little', async () => {
    const budget = new BufferBudget(64 * KiB);
    const slow = new ScriptedSink('slow');
    const idle = new ScriptedSink('idle');
    const a = pipeline(slow, budget);
    pipeline(idle, budget);
    slow.mode = 'fail';
    // 50 KB waiting out a long backoff: more than half the budget, less than all of it.
    for (let i = 0; i < 50; i++) a.p.accept(entry(i));
    a.p.flush();
    await waitFor(() => a.stats.retries >= 1, { what: 'the first attempt failed' });
    expect(total(a.stats.dropped)).toBe(0);
    expect(a.stats.bufferedBytes).toBe(50 * 1000);
    expect(budget.usedBytes).toBe(50 * 1000);
    expect(a.stats.bufferMaxBytes).toBe(64 * KiB);
    await a.p.abandonAll('shutdown');
  });

  it('makes a sink holding more than its fair share give way to one that needs room (no spool: the hog drops its oldest)', async () => {
    const budget = new BufferBudget(64 * KiB);
    const failing = new ScriptedSink('failing');
    const healthy = new ScriptedSink('healthy');
    const a = pipeline(failing, budget);
    const b = pipeline(healthy, budget);
    failing.mode = 'fail';
    for (let i = 0; i < 60; i++) a.p.accept(entry(i));
    a.p.flush();
    await waitFor(() => a.stats.retries >= 2, { what: 'both first attempts failed' });
    expect(total(a.stats.dropped)).toBe(0);
    // The healthy sink takes 30 entries at once (its requests never start before the burst ends).
    for (let i = 0; i < 30; i++) b.p.accept(entry(1000 + i));
    expect(total(b.stats.dropped)).toBe(0);
    expect(a.stats.dropped.get('buffer_full')).toBeGreaterThan(0);
    expect(budget.usedBytes).toBeLessThanOrEqual(budget.limitBytes);
    b.p.flush();
    await waitFor(() => healthy.stored.length === 30, { what: 'the healthy sink stored all 30' });
    expect(accounted(a.stats)).toBe(60);
    expect(accounted(b.stats)).toBe(30);
    await a.p.abandonAll('shutdown');
  });

  it('never asks a sink at or under its fair share to give way', () => {
    const budget = new BufferBudget(64 * KiB);
    const one = new ScriptedSink('one');
    const two = new ScriptedSink('two');
    const a = pipeline(one, budget, { settings: settings({ batch: { maxEntries: 1000, maxBytes: 1_000_000, maxAgeMs: 60_000 } }) });
    const b = pipeline(two, budget, { settings: settings({ batch: { maxEntries: 1000, maxBytes: 1_000_000, maxAgeMs: 60_000 } }) });
    // Each holds 30 KB in open batches (just under its half), then one asks for more than is left.
    for (let i = 0; i < 30; i++) a.p.accept(entry(i));
    for (let i = 0; i < 30; i++) b.p.accept(entry(100 + i));
    for (let i = 0; i < 10; i++) b.p.accept(entry(200 + i));
    expect(total(a.stats.dropped)).toBe(0);
    expect(a.stats.bufferedBytes).toBe(30 * 1000);
    // b's own oldest batch made way for its newest.
    expect(b.stats.dropped.get('buffer_full')).toBeGreaterThan(0);
    a.p.flush();
    b.p.flush();
  });

  it('with a spool, memory full of requests in flight sends new entries to disk instead of dropping them', async () => {
    const budget = new BufferBudget(64 * KiB);
    const sink = new ScriptedSink('held');
    const spool = new MemorySpool();
    const { p, stats } = pipeline(sink, budget, { spool });
    sink.mode = 'hold';
    // Two requests of 10 entries hold 20 KB; then 280 more arrive in socket-read-sized chunks.
    for (let i = 0; i < 20; i++) p.accept(entry(i));
    await waitFor(() => sink.holding === 2, { what: 'two requests held open' });
    for (let i = 20; i < 300; i += 10) {
      for (let j = i; j < i + 10; j++) p.accept(entry(j));
      await new Promise(setImmediate);
    }
    expect(total(stats.dropped)).toBe(0);
    await waitFor(() => stats.spooledEntries > 0 && budget.spoolWriteBytes === 0, { what: 'the overflow written to the spool' });
    expect(budget.usedBytes).toBeLessThanOrEqual(budget.limitBytes);
    sink.release();
    p.flush();
    await waitFor(() => stats.pending === 0, { timeoutMs: 10_000, what: 'everything delivered' });
    expect(stats.delivered).toBe(300);
    expect(new Set(sink.stored).size).toBe(300);
    expect(total(stats.dropped)).toBe(0);
    await p.close();
  });

  it('drops only when the spool cannot take the overflow either, and counts it', async () => {
    const budget = new BufferBudget(64 * KiB);
    const sink = new ScriptedSink('held');
    const { p, stats } = pipeline(sink, budget);
    sink.mode = 'hold';
    for (let i = 0; i < 300; i++) p.accept(entry(i));
    expect(stats.dropped.get('buffer_full')).toBeGreaterThan(0);
    expect(accounted(stats)).toBe(300);
    expect(budget.usedBytes).toBeLessThanOrEqual(budget.limitBytes);
    sink.release();
    p.flush();
    await waitFor(() => stats.pending === 0, { what: 'nothing pending' });
    expect(stats.delivered + total(stats.dropped)).toBe(300);
  });
});
