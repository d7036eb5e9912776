import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SinkNetworkError, classifyFailure } from '../../src/errors.js';
import { ThrottledLog } from '../../src/ops/logger.js';
import { SinkPipeline } from '../../src/pipeline/sink-pipeline.js';
import { MemorySpool } from '../support/memory-spool.js';
import type { Batch, EncodedBatch, PipelineSettings, SendResult, Sink } from '../../src/pipeline/sink.js';
import { SinkStats, total } from '../../src/ops/stats.js';
import type { LogEntry } from '../../src/intake/entry.js';
import { waitFor } from '../support/poll.js';
import { batchLines } from '../../src/pipeline/batch.js';

const logger = pino({ level: 'silent' });

function entry(i: number): LogEntry {
  const line = `{"fly":{"app":{"name":"a","instance":"x"},"region":"r"},"message":"m${i}","timestamp":"2026-11-26T00:00:00Z"}`;
  return { line, bytes: line.length, app: 'a', region: 'r', instance: 'x', timestamp: '2026-11-26T00:00:00Z', receivedAtMs: Date.now() };
}

class SwitchSink implements Sink {
  readonly name = 'sw';
  readonly kind = 'http' as const;
  up = false;
  readonly delivered: string[] = [];
  /** Every attempt: the batch's key and whether it came from the spool. */
  readonly attempts: Array<{ key: string; replay: boolean; first: string }> = [];
  /** Keys stored so far; a replay of one of them answers `overwrote`. */
  readonly stored = new Set<string>();
  /** Store the batch, then fail the answer (the outcome the agent cannot know). */
  loseAnswers = false;
  encode(batch: Batch): EncodedBatch {
    return { body: new Uint8Array(1), entryCount: batch.count };
  }
  async send(_e: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<SendResult | undefined> {
    signal.throwIfAborted();
    this.attempts.push({ key: batch.key, replay: batch.replay === true, first: JSON.parse(batchLines(batch)[0]!).message });
    if (this.loseAnswers) {
      this.stored.add(batch.key);
      throw new SinkNetworkError('socket hang up after the request was sent');
    }
    if (!this.up) throw new SinkNetworkError('refused');
    const overwrote = this.stored.has(batch.key);
    this.stored.add(batch.key);
    for (const line of batchLines(batch)) this.delivered.push(JSON.parse(line).message);
    return overwrote ? { overwrote } : undefined;
  }
  classify = classifyFailure;
}

const settings: PipelineSettings = { maxInFlight: 2, bufferMaxBytes: 64 * 1024, batch: { maxEntries: 10, maxBytes: 1_000_000, maxAgeMs: 10 } };

function setup(spool: MemorySpool) {
  const sink = new SwitchSink();
  const stats = new SinkStats();
  const p = new SinkPipeline({ sink, settings, retry: { initialBackoffMs: 5, maxBackoffMs: 20 }, stats, logger, throttled: new ThrottledLog(logger, 60_000), spool });
  return { sink, stats, p };
}

const identity = (s: SinkStats) => s.delivered + total(s.rejected) + total(s.dropped) + s.pending;

describe('SinkPipeline with a spool', () => {
  it('moves batches that fail to the spool and delivers them in order after recovery', async () => {
    const spool = new MemorySpool();
    const { sink, stats, p } = setup(spool);
    for (let i = 0; i < 50; i++) p.accept(entry(i));
    await waitFor(() => stats.spooledEntries === 50 && stats.pending === 50, { what: 'all spooled' });
    // Memory holds at most the one record (a batch of 10) the drainer is retrying.
    expect(stats.bufferedBytes).toBeLessThanOrEqual(10 * entry(49).bytes);
    expect(identity(stats)).toBe(50);
    sink.up = true;
    await waitFor(() => stats.delivered === 50, { what: 'spool drained' });
    expect(sink.delivered).toEqual([...Array(50).keys()].map((i) => `m${i}`));
    expect(spool.unacked).toBe(0);
    expect(total(stats.dropped)).toBe(0);
    await p.close();
  });

  it('gives every batch a key of the run; a spooled batch is replayed under the key of its first attempt, and an overwrite is counted', async () => {
    const spool = new MemorySpool();
    const sink = new SwitchSink();
    const stats = new SinkStats();
    const p = new SinkPipeline({ sink, settings, retry: { initialBackoffMs: 5, maxBackoffMs: 20 }, stats, logger, throttled: new ThrottledLog(logger, 60_000), spool, runId: 'host-abc123' });
    sink.loseAnswers = true;
    for (let i = 0; i < 30; i++) p.accept(entry(i));
    await waitFor(() => stats.spooledEntries === 30, { what: 'all spooled after their first attempt' });
    // Stop losing answers; what was stored so far is what replays will overwrite.
    sink.loseAnswers = false;
    const storedBefore = new Set(sink.stored);
    const lossy = sink.attempts.length;
    const fromMemory = sink.attempts.filter((a) => !a.replay);
    expect(fromMemory.length).toBeGreaterThan(0);
    for (const a of fromMemory) expect(a.key).toMatch(/^host-abc123-\d{6}$/);
    expect(new Set(fromMemory.map((a) => a.key)).size).toBe(fromMemory.length);
    expect(new Set(spool.records.map((r) => r.key)).size).toBe(spool.records.length);
    expect(spool.records.map((r) => r.key)).toEqual(expect.arrayContaining(fromMemory.map((a) => a.key)));
    sink.up = true;
    await waitFor(() => stats.delivered === 30, { what: 'spool drained' });
    const replays = sink.attempts.slice(lossy);
    for (const r of replays) expect(r.replay).toBe(true);
    // Each batch tried from memory came back under its own key, with the same first entry.
    for (const a of fromMemory) expect(replays.find((r) => r.key === a.key)?.first).toBe(a.first);
    expect(stats.archiveOverwrites).toBe(storedBefore.size);
    expect(new Set(sink.delivered).size).toBe(30);
    await p.close();
  });

  it('sends new entries directly while the spool drains', async () => {
    const spool = new MemorySpool();
    const { sink, stats, p } = setup(spool);
    for (let i = 0; i < 20; i++) p.accept(entry(i));
    await waitFor(() => stats.spooledEntries === 20, { what: 'spooled' });
    sink.up = true;
    for (let i = 20; i < 30; i++) p.accept(entry(i));
    await waitFor(() => stats.delivered === 30, { what: 'all delivered' });
    expect(new Set(sink.delivered).size).toBe(30);
    await p.close();
  });

  it('counts what was on disk at start as received and pending, then delivers it', async () => {
    const spool = new MemorySpool();
    spool.records.push({ seq: 1, partition: '', key: 'old-run-000001', receivedAtMs: 1, lines: [entry(1).line, entry(2).line], out: false, acked: false });
    spool.recoveredEntries = 2;
    const { sink, stats, p } = setup(spool);
    expect(stats.received).toBe(2);
    expect(stats.pending).toBe(2);
    sink.up = true;
    await waitFor(() => stats.delivered === 2, { what: 'recovered entries delivered' });
    expect(identity(stats)).toBe(2);
    await p.close();
  });

  it('spools what memory holds at the shutdown deadline instead of dropping it', async () => {
    const spool = new MemorySpool();
    const { stats, p } = setup(spool);
    for (let i = 0; i < 5; i++) p.accept(entry(i));
    await p.abandonAll('shutdown');
    await p.close();
    expect(total(stats.dropped)).toBe(0);
    expect(spool.unacked).toBe(5);
    expect(stats.pending).toBe(5);
  });

  it('degrades to memory-only when the disk fails, keeping the batch', async () => {
    const spool = new MemorySpool();
    spool.failWrites = true;
    const { sink, stats, p } = setup(spool);
    for (let i = 0; i < 10; i++) p.accept(entry(i));
    await waitFor(() => stats.spoolState === 'degraded', { what: 'degraded' });
    expect(stats.spoolError).toMatch(/read-only/);
    sink.up = true;
    await waitFor(() => stats.delivered === 10, { what: 'delivered from memory' });
    expect(total(stats.dropped)).toBe(0);
    await p.close();
  });
});
