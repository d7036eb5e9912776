import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { classifyFailure } from '../../src/errors.js';
import { ThrottledLog } from '../../src/ops/logger.js';
import { EntryRouter } from '../../src/intake/router.js';
import { SinkPipeline } from '../../src/pipeline/sink-pipeline.js';
import type { Batch, EncodedBatch, Sink } from '../../src/pipeline/sink.js';
import { SinkStats, SourceStats, total } from '../../src/ops/stats.js';
import { waitFor } from '../support/poll.js';
import { batchEntries } from '../../src/pipeline/batch.js';

const logger = pino({ level: 'silent' });
const enc = new TextEncoder();

class TestSink implements Sink {
  readonly kind = 'http' as const;
  readonly name: string;
  readonly delivered: string[] = [];
  /** Each sent batch's receivedAtMs (its first entry's arrival). */
  readonly batchTimes: number[] = [];
  readonly #hang: boolean;
  constructor(name: string, hang: boolean) {
    this.name = name;
    this.#hang = hang;
  }
  encode(batch: Batch): EncodedBatch {
    return { body: new Uint8Array(0), entryCount: batch.count };
  }
  send(_e: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<void> {
    if (this.#hang) return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    this.batchTimes.push(batch.receivedAtMs);
    for (const e of batchEntries(batch)) this.delivered.push(e.app);
    return Promise.resolve();
  }
  classify = classifyFailure;
}

/** A message as the NATS client hands it over: inside a larger read buffer, with its read's arrival time. */
function handle(router: EntryRouter, subject: string, payload: Uint8Array, receivedAtMs = Date.now()): void {
  const buf = Buffer.concat([Buffer.from('MSG x 1 9\r\n'), payload, Buffer.from('\r\n')]);
  router.handle(subject, buf, 11, 11 + payload.length, receivedAtMs);
}

function pipelineFor(sink: Sink, bufferMaxBytes = 64 * 1024): SinkPipeline {
  return new SinkPipeline({
    sink,
    settings: { maxInFlight: 1, bufferMaxBytes, batch: { maxEntries: 50, maxBytes: 1_000_000, maxAgeMs: 10 } },
    retry: { initialBackoffMs: 5, maxBackoffMs: 20 },
    stats: new SinkStats(),
    logger,
    throttled: new ThrottledLog(logger, 60_000),
  });
}

function message(app: string, i: number): Uint8Array {
  return enc.encode(JSON.stringify({ fly: { app: { name: app, instance: 'i1' }, region: 'ams' }, message: `line ${i} ${'x'.repeat(200)}`, timestamp: '2026-11-26T20:34:37.000000001Z' }));
}

describe('EntryRouter', () => {
  it('a dead sink never slows the others: it fills its own buffer and counts its drops', async () => {
    const fast = new TestSink('fast', false);
    const dead = new TestSink('dead', true);
    // Both get the same flood at once; the healthy one's buffer holds it all, the dead one's cannot.
    const pFast = pipelineFor(fast, 4 * 1024 * 1024);
    const pDead = pipelineFor(dead);
    const source = new SourceStats();
    const router = new EntryRouter([pFast, pDead], new Set(), source, new ThrottledLog(logger, 60_000));
    const n = 2000;
    for (let i = 0; i < n; i++) handle(router, `logs.app${i % 3}.ams.i1`, message(`app${i % 3}`, i));
    await waitFor(() => pFast.stats.delivered === n, { what: 'the healthy sink delivered everything' });
    expect(total(pFast.stats.dropped)).toBe(0);
    const d = pDead.stats;
    expect(d.received).toBe(n);
    expect(d.bufferedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(d.dropped.get('buffer_full')).toBeGreaterThan(0);
    expect(d.delivered + total(d.rejected) + total(d.dropped) + d.pending).toBe(n);
    await pDead.abandonAll('shutdown');
    expect(d.pending).toBe(0);
  });

  it('drops excluded apps by subject and by body, and counts malformed payloads', () => {
    const sink = new TestSink('s', false);
    const p = pipelineFor(sink);
    const source = new SourceStats();
    const router = new EntryRouter([p], new Set(['noisy']), source, new ThrottledLog(logger, 60_000));
    handle(router, 'logs.noisy.ams.i1', message('noisy', 1));
    handle(router, 'other.subject', message('noisy', 2));
    handle(router, 'logs.ok.ams.i1', enc.encode('not json'));
    handle(router, 'logs.ok.ams.i1', new Uint8Array(0));
    handle(router, 'logs.ok.ams.i1', message('ok', 3));
    expect(source.messagesReceived).toBe(5);
    expect(source.dropped.get('excluded_app')).toBe(2);
    expect(source.dropped.get('empty_payload')).toBe(1);
    expect(source.malformed.get('invalid_json')).toBe(1);
    expect(p.stats.received).toBe(2);
  });

  it("stamps entries with the arrival time the source hands over (its read's), not a clock of its own", async () => {
    const sink = new TestSink('s', false);
    const p = pipelineFor(sink);
    const router = new EntryRouter([p], new Set(), new SourceStats(), new ThrottledLog(logger, 60_000));
    const readAt = Date.UTC(2026, 10, 26, 20, 0, 0);
    handle(router, 'logs.a.ams.i1', message('a', 1), readAt);
    handle(router, 'logs.a.ams.i1', message('a', 2), readAt);
    await waitFor(() => p.stats.delivered === 2, { what: 'both entries delivered' });
    expect(sink.batchTimes).toEqual([readAt]);
  });
});
