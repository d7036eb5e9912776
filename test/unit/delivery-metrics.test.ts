// The metrics the dashboard needs (issue 18): delivery latency per entry (filled once per
// batch), the oldest pending entry's age (memory and spool), and their exposition.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { classifyFailure, SinkResponseError } from '../../src/errors.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { ThrottledLog } from '../../src/ops/logger.js';
import { DELIVERY_LATENCY_BUCKETS, DeliveryLatency, SinkStats, SourceStats } from '../../src/ops/stats.js';
import { SinkPipeline } from '../../src/pipeline/sink-pipeline.js';
import { SpoolAges } from '../../src/pipeline/spool-ages.js';
import type { Batch, EncodedBatch, Sink } from '../../src/pipeline/sink.js';
import type { LogEntry } from '../../src/intake/entry.js';
import { metricSeries, metricValue, parseMetrics } from '../support/prometheus.js';
import { waitFor } from '../support/poll.js';

const logger = pino({ level: 'silent' });

function entry(i: number, receivedAtMs: number): LogEntry {
  const line = `{"fly":{"app":{"name":"a","instance":"x"},"region":"r"},"i":${i}}`;
  return { line, bytes: line.length, app: 'a', region: 'r', instance: 'x', timestamp: '2026-11-26T00:00:00Z', receivedAtMs };
}

class ScriptedSink implements Sink {
  readonly name = 'scripted';
  readonly kind = 'http' as const;
  answer: 'ok' | 'fail' = 'ok';
  encode(batch: Batch): EncodedBatch {
    return { body: new Uint8Array(batch.bytes), entryCount: batch.count };
  }
  async send(): Promise<void> {
    if (this.answer === 'fail') throw new SinkResponseError(503, 'down');
  }
  classify = classifyFailure;
}

describe('DeliveryLatency', () => {
  it('counts each batch once, weighted by its entries, in the right bucket', () => {
    const h = new DeliveryLatency();
    h.observe(0.3, 10);
    h.observe(7, 2);
    h.observe(10_000, 1);
    h.observe(1, 0);
    expect(h.count).toBe(13);
    expect(h.sum).toBeCloseTo(0.3 * 10 + 7 * 2 + 10_000);
    expect(h.buckets[DELIVERY_LATENCY_BUCKETS.indexOf(0.5)]).toBe(10);
    expect(h.buckets[DELIVERY_LATENCY_BUCKETS.indexOf(10)]).toBe(2);
    expect(h.buckets[DELIVERY_LATENCY_BUCKETS.length]).toBe(1);
  });
});

describe('SpoolAges', () => {
  it('gives the arrival of the oldest spooled entry as entries leave from the head', () => {
    const a = new SpoolAges();
    expect(a.oldestAtMs).toBeUndefined();
    a.push(100, 3);
    a.push(200, 2);
    a.consume(2);
    expect(a.oldestAtMs).toBe(100);
    a.consume(1);
    expect(a.oldestAtMs).toBe(200);
    a.consume(5);
    expect(a.oldestAtMs).toBeUndefined();
    for (let i = 0; i < 5000; i++) a.push(1000 + i, 1);
    a.consume(4999);
    expect(a.oldestAtMs).toBe(1000 + 4999);
  });
});

describe('pipeline: latency and oldest pending entry, exported', () => {
  it('observes the batch\'s oldest entry age per delivered entry and reports the oldest pending entry', async () => {
    const sink = new ScriptedSink();
    const stats = new SinkStats();
    const pipeline = new SinkPipeline({
      sink,
      settings: { maxInFlight: 1, bufferMaxBytes: 1_000_000, batch: { maxEntries: 1000, maxBytes: 1_000_000, maxAgeMs: 20 } },
      retry: { initialBackoffMs: 5, maxBackoffMs: 10 },
      stats,
      logger,
      throttled: new ThrottledLog(logger, 60_000),
    });
    expect(stats.bufferMaxBytes).toBe(1_000_000);
    const now = Date.now();
    // Arrived 2 s ago (first) and now: the batch counts 2 s for both.
    pipeline.accept(entry(1, now - 2000));
    pipeline.accept(entry(2, now));
    await waitFor(() => stats.delivered === 2, { what: 'two delivered' });
    expect(stats.deliveryLatency.count).toBe(2);
    expect(stats.deliveryLatency.sum / 2).toBeGreaterThanOrEqual(2);
    expect(stats.deliveryLatency.sum / 2).toBeLessThan(5);
    expect(pipeline.oldestPendingAtMs()).toBeUndefined();

    sink.answer = 'fail';
    const stuckAt = Date.now() - 30_000;
    pipeline.accept(entry(3, stuckAt));
    await waitFor(() => stats.retries >= 1, { what: 'a retry' });
    expect(pipeline.oldestPendingAtMs()).toBe(stuckAt);

    const metrics = createMetrics({
      source: new SourceStats(),
      sinks: [{ name: 'scripted', stats, oldestPendingAtMs: () => pipeline.oldestPendingAtMs() }],
      sinkUp: () => true,
      bufferBudget: { usedBytes: 12_345, limitBytes: 1_000_000 },
    });
    const parsed = parseMetrics(await metrics.registry.metrics());
    expect(metricValue(parsed, 'logferry_buffer_budget_bytes', {})).toBe(1_000_000);
    expect(metricValue(parsed, 'logferry_buffer_budget_used_bytes', {})).toBe(12_345);
    expect(metricValue(parsed, 'logferry_sink_oldest_pending_age_seconds', { sink: 'scripted' })).toBeGreaterThanOrEqual(30);
    expect(metricValue(parsed, 'logferry_sink_buffer_max_bytes', { sink: 'scripted' })).toBe(1_000_000);
    expect(metricValue(parsed, 'logferry_sink_failing_seconds', { sink: 'scripted' })).toBeGreaterThanOrEqual(0);
    expect(metricValue(parsed, 'logferry_sink_requests_total', { sink: 'scripted', status: 'success' })).toBe(1);
    expect(metricValue(parsed, 'logferry_sink_requests_total', { sink: 'scripted', status: '503' })).toBeGreaterThanOrEqual(1);
    expect(parsed.families.get('logferry_delivery_latency_seconds')?.type).toBe('histogram');
    expect(metricValue(parsed, 'logferry_delivery_latency_seconds_count', { sink: 'scripted' })).toBe(2);
    expect(metricValue(parsed, 'logferry_delivery_latency_seconds_bucket', { sink: 'scripted', le: '1' })).toBe(0);
    expect(metricValue(parsed, 'logferry_delivery_latency_seconds_bucket', { sink: 'scripted', le: '2.5' })).toBe(2);
    expect(metricValue(parsed, 'logferry_delivery_latency_seconds_bucket', { sink: 'scripted', le: '+Inf' })).toBe(2);
    expect(metricSeries(parsed, 'logferry_delivery_latency_seconds_bucket', { sink: 'scripted' })).toHaveLength(DELIVERY_LATENCY_BUCKETS.length + 1);
    await pipeline.abandonAll('shutdown');
  });
});
