// Prometheus metrics. The hot path bumps plain counters (stats.ts); this module turns
// them into prom-client series only when /metrics is scraped.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { DELIVERY_LATENCY_BUCKETS, type CountByReason, type SinkStats, type SourceStats } from './stats.js';

/** The numbers metrics read off a spool store. */
export interface SpoolStoreStats {
  readonly bytes: number;
  /** The bound on `bytes`. */
  readonly maxBytes: number;
  readonly records: number;
  readonly written: number;
  readonly corruptSkipped: number;
}

export interface MetricsSources {
  readonly source: SourceStats;
  readonly sinks: ReadonlyArray<{
    readonly name: string;
    readonly stats: SinkStats;
    readonly spool?: (() => SpoolStoreStats | undefined) | undefined;
    /** The spool's bound (SPOOL_MAX_BYTES), when the sink has a spool. */
    readonly spoolMaxBytes?: number | undefined;
    /** Arrival time (ms since epoch) of the oldest entry still pending, undefined when none is. */
    readonly oldestPendingAtMs?: (() => number | undefined) | undefined;
  }>;
  /** Whether a sink counts as healthy (the rule /health uses). */
  readonly sinkUp: (stats: SinkStats) => boolean;
  /** The memory budget the sinks share (absent when every sink has a buffer of its own). */
  readonly bufferBudget?: { readonly usedBytes: number; readonly limitBytes: number } | undefined;
}

export interface Metrics {
  readonly registry: Registry;
  /** Request latency observer for one sink, handed to its pipeline. */
  observeRequest(sink: string): (seconds: number, outcome: 'success' | 'failure') => void;
}

type Labelled = Counter<string> | Gauge<string>;

function setCounter(metric: Counter, value: number): void {
  metric.reset();
  metric.inc(value);
}

function setByReason(metric: Labelled, base: Record<string, string>, key: string, map: CountByReason): void {
  for (const [reason, n] of map) {
    const labels = { ...base, [key]: reason };
    if (metric instanceof Counter) metric.inc(labels, n);
    else metric.set(labels, n);
  }
}

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'logferry_' });
  const { source, sinks } = sources;

  const simple = (name: string, help: string, read: () => number, type: 'counter' | 'gauge' = 'counter'): void => {
    if (type === 'counter') {
      new Counter({ name, help, registers: [registry], collect() { setCounter(this, read()); } });
    } else {
      new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
    }
  };

  const budget = sources.bufferBudget;
  if (budget !== undefined) {
    simple('logferry_buffer_budget_bytes', 'Bound of the memory budget the sinks share (BUFFER_MAX_BYTES unset).', () => budget.limitBytes, 'gauge');
    simple('logferry_buffer_budget_used_bytes', 'Bytes of entries the sinks sharing the budget hold in memory together.', () => budget.usedBytes, 'gauge');
  }
  simple('logferry_nats_messages_received_total', 'Messages received from NATS.', () => source.messagesReceived);
  simple('logferry_nats_connected', '1 while connected to NATS.', () => (source.connected ? 1 : 0), 'gauge');
  simple('logferry_nats_reconnects_total', 'Reconnections to NATS.', () => source.reconnects);
  simple('logferry_nats_disconnects_total', 'Disconnections from NATS.', () => source.disconnects);
  simple('logferry_nats_subscribed', '1 while the server holds our subscription to SUBJECT.', () => (source.subscribed ? 1 : 0), 'gauge');
  simple('logferry_nats_subscription_refusals_total', 'Times the server refused (or closed) our subscription; retried.', () => source.subscriptionRefusals);
  simple('logferry_nats_auth_errors_total', 'Times the server refused the credentials (ORG / ACCESS_TOKEN); retried.', () => source.authErrors);
  simple('logferry_nats_slow_consumer_total', 'Slow-consumer events reported for our subscription.', () => source.slowConsumer);
  simple('logferry_nats_stalls_total', 'Times no message arrived for STALL_TIMEOUT.', () => source.stalls);
  simple('logferry_nats_resubscribes_total', 'Resubscriptions by the stall watchdog.', () => source.resubscribes);
  simple('logferry_nats_stalled', '1 while a stall was detected and no message has arrived since.', () => (source.stalled ? 1 : 0), 'gauge');
  simple('logferry_nats_last_message_age_seconds', 'Seconds since the last message arrived.', () => (Date.now() - source.lastMessageAt) / 1000, 'gauge');

  new Counter({
    name: 'logferry_source_dropped_total',
    help: 'Messages dropped before reaching any sink, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() { this.reset(); setByReason(this, {}, 'reason', source.dropped); },
  });
  new Counter({
    name: 'logferry_entries_malformed_total',
    help: 'Messages that were not a Fly JSON object; shipped with the raw text, flagged logferry.malformed.',
    labelNames: ['reason'],
    registers: [registry],
    collect() { this.reset(); setByReason(this, {}, 'reason', source.malformed); },
  });

  type SinkSource = MetricsSources['sinks'][number];
  // One series per sink; a reader answering undefined leaves that sink out (e.g. no spool).
  const perSinkOf = (name: string, help: string, read: (s: SinkSource) => number | undefined, type: 'counter' | 'gauge'): void => {
    const collect = function (this: Counter<'sink'> | Gauge<'sink'>): void {
      this.reset();
      for (const s of sinks) {
        const value = read(s);
        if (value === undefined) continue;
        if (this instanceof Counter) this.inc({ sink: s.name }, value);
        else this.set({ sink: s.name }, value);
      }
    };
    if (type === 'counter') new Counter({ name, help, labelNames: ['sink'], registers: [registry], collect });
    else new Gauge({ name, help, labelNames: ['sink'], registers: [registry], collect });
  };
  const perSink = (name: string, help: string, read: (s: SinkStats) => number, type: 'counter' | 'gauge' = 'counter'): void =>
    perSinkOf(name, help, (s) => read(s.stats), type);
  perSink('logferry_sink_entries_received_total', 'Entries handed to the sink.', (s) => s.received);
  perSink('logferry_sink_entries_delivered_total', 'Entries the sink acknowledged.', (s) => s.delivered);
  perSink('logferry_sink_entries_pending', 'Entries not settled yet (in memory and in the spool).', (s) => s.pending, 'gauge');
  perSink('logferry_sink_buffer_bytes', 'Bytes of entries held in memory for the sink.', (s) => s.bufferedBytes, 'gauge');
  perSink('logferry_sink_buffer_max_bytes', 'Bound of the memory budget the sink draws on (the shared one, or its own *_BUFFER_MAX_BYTES).', (s) => s.bufferMaxBytes, 'gauge');
  perSink('logferry_sink_failing_seconds', 'Seconds since the current streak of failed attempts began; 0 while the last attempt succeeded.', (s) => (s.failingSince === undefined ? 0 : (Date.now() - s.failingSince) / 1000), 'gauge');
  perSinkOf('logferry_sink_oldest_pending_age_seconds', 'Age of the oldest entry not yet settled (memory or spool); 0 when nothing is pending.', (s) => {
    const at = s.oldestPendingAtMs?.();
    return at === undefined ? 0 : Math.max(0, (Date.now() - at) / 1000);
  }, 'gauge');
  perSink('logferry_sink_retries_total', 'Failed attempts that were retried.', (s) => s.retries);
  perSink('logferry_sink_bytes_sent_total', 'Encoded bytes the sink acknowledged.', (s) => s.bytesSent);
  perSink('logferry_spool_entries', 'Pending entries held in the disk spool.', (s) => s.spooledEntries, 'gauge');
  perSink('logferry_spool_records_replayed_total', 'Spool records read back and settled.', (s) => s.spoolReplayed);
  perSink('logferry_archive_overwrites_total', 'Replayed batches whose object (file) an earlier attempt had already stored; the replay replaced it, so it is there once.', (s) => s.archiveOverwrites);
  perSink('logferry_spool_up', '1 while the spool works, 0 when it degraded to memory-only or is off.', (s) => (s.spoolState === 'ok' ? 1 : 0), 'gauge');
  perSink('logferry_sink_up', '1 while the sink is healthy (see /health).', (s) => (sources.sinkUp(s) ? 1 : 0), 'gauge');

  const byReason = (name: string, help: string, labelName: 'reason' | 'outcome' | 'status', read: (s: SinkStats) => CountByReason): void => {
    new Counter({
      name,
      help,
      labelNames: ['sink', labelName],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sinks) setByReason(this, { sink: s.name }, labelName, read(s.stats));
      },
    });
  };
  byReason('logferry_sink_entries_rejected_total', 'Entries the sink refused permanently, by reason.', 'reason', (s) => s.rejected);
  byReason('logferry_sink_entries_dropped_total', 'Entries given up on, by reason.', 'reason', (s) => s.dropped);
  byReason('logferry_sink_entries_adjusted_total', 'Entries changed to be acceptable to the sink (truncated, sanitised), by reason.', 'reason', (s) => s.adjusted);
  byReason('logferry_sink_batches_total', 'Batches by outcome.', 'outcome', (s) => s.batches);
  byReason('logferry_sink_requests_total', 'Requests to the sink by status: success, the HTTP status of a failure, network (no answer), or an error code.', 'status', (s) => s.requests);

  // What the spool store itself knows (bytes and records on disk, corrupt records skipped).
  const spoolMetric = (name: string, help: string, key: keyof SpoolStoreStats, type: 'counter' | 'gauge'): void =>
    perSinkOf(name, help, (s) => s.spool?.()?.[key], type);
  spoolMetric('logferry_spool_bytes', 'Bytes of the disk spool.', 'bytes', 'gauge');
  spoolMetric('logferry_spool_max_bytes', 'Bound on the bytes of the disk spool.', 'maxBytes', 'gauge');
  spoolMetric('logferry_spool_records', 'Unacknowledged records in the disk spool.', 'records', 'gauge');
  spoolMetric('logferry_spool_records_written_total', 'Records appended to the disk spool.', 'written', 'counter');
  spoolMetric('logferry_spool_records_corrupt_total', 'Damaged spool records skipped (torn writes, checksum mismatches).', 'corruptSkipped', 'counter');

  const latency = new Histogram({
    name: 'logferry_sink_request_duration_seconds',
    help: 'Duration of one request to a sink.',
    labelNames: ['sink', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  registry.registerMetric(deliveryLatencyMetric(sinks));

  return {
    registry,
    observeRequest: (sink) => (seconds, outcome) => latency.observe({ sink, outcome }, seconds),
  };
}

/**
 * logferry_delivery_latency_seconds, from each sink's DeliveryLatency (weighted by entries,
 * filled once per batch on the hot path). A plain object in prom-client's metric shape,
 * since its Histogram cannot add a count per observation; the cast is for its registry's
 * type, which names only its own classes.
 */
function deliveryLatencyMetric(sinks: MetricsSources['sinks']): Metric {
  const name = 'logferry_delivery_latency_seconds';
  const help = "Seconds from an entry's arrival to the sink's acknowledgement, per delivered entry (each entry counts its batch's oldest entry's age).";
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    // The counts live in SinkStats, which the registry must not reset.
    reset: () => undefined,
    get: async () => {
      const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
      for (const s of sinks) {
        const h = s.stats.deliveryLatency;
        let cumulative = 0;
        for (let i = 0; i < DELIVERY_LATENCY_BUCKETS.length; i++) {
          cumulative += h.buckets[i]!;
          values.push({ value: cumulative, labels: { sink: s.name, le: DELIVERY_LATENCY_BUCKETS[i]! }, metricName: `${name}_bucket` });
        }
        values.push({ value: h.count, labels: { sink: s.name, le: '+Inf' }, metricName: `${name}_bucket` });
        values.push({ value: h.sum, labels: { sink: s.name }, metricName: `${name}_sum` });
        values.push({ value: h.count, labels: { sink: s.name }, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
  return metric as unknown as Metric;
}
