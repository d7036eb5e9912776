// Plain counters, bumped on the hot path without allocation and read by the metrics
// collector at scrape time. Per sink the identity holds at every moment:
//   received = delivered + rejected + dropped + pending

export type CountByReason = Map<string, number>;

export function bump(map: CountByReason, reason: string, n = 1): void {
  map.set(reason, (map.get(reason) ?? 0) + n);
}

export function total(map: CountByReason): number {
  let sum = 0;
  for (const v of map.values()) sum += v;
  return sum;
}

/**
 * Upper bounds (seconds) of the delivery-latency histogram: from an entry's arrival to the
 * sink's acknowledgement, which includes batching (BATCH_MAX_AGE) and, in an outage, the
 * time spent waiting in memory or the spool, so the buckets run from 50 ms to an hour.
 */
export const DELIVERY_LATENCY_BUCKETS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * A histogram weighted by entries, filled once per acknowledged batch: the batch's oldest
 * entry's age counts for every entry of the batch (an upper bound for each of them). A
 * prom-client Histogram can only count one observation per call, which would make its
 * quantiles quantiles of batches, not of entries.
 */
export class DeliveryLatency {
  /** Non-cumulative counts per bucket of DELIVERY_LATENCY_BUCKETS, plus one for +Inf. */
  readonly buckets = new Float64Array(DELIVERY_LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number, entries: number): void {
    if (entries <= 0 || !Number.isFinite(seconds)) return;
    const age = Math.max(0, seconds);
    let i = 0;
    while (i < DELIVERY_LATENCY_BUCKETS.length && age > DELIVERY_LATENCY_BUCKETS[i]!) i++;
    this.buckets[i] = (this.buckets[i] ?? 0) + entries;
    this.sum += age * entries;
    this.count += entries;
  }
}

export class SinkStats {
  received = 0;
  delivered = 0;
  readonly rejected: CountByReason = new Map();
  readonly dropped: CountByReason = new Map();
  readonly adjusted: CountByReason = new Map();
  /** Entries held in memory: open, queued and in-flight batches. */
  pending = 0;
  /** Line bytes of the pending entries; bounded by the sink's buffer size. */
  bufferedBytes = 0;
  /** The bound of the memory budget the sink draws on (shared by the sinks, or its own override). */
  bufferMaxBytes = 0;
  /** That budget: how much all the sinks drawing on it hold together. */
  bufferBudget: { readonly usedBytes: number; readonly limitBytes: number } | undefined;
    /** Arrival to acknowledgement, per delivered entry (see DeliveryLatency). */
  readonly deliveryLatency = new DeliveryLatency();
  retries = 0;
  bytesSent = 0;
  readonly batches: CountByReason = new Map();
  /** Requests (attempts) by status: `success`, the HTTP status of a failure, `network`, or an error code. */
  readonly requests: CountByReason = new Map();
  /** Start of the current streak of failed attempts; undefined while the last attempt succeeded. */
  failingSince: number | undefined;
  lastError: string | undefined;
  /** The last permanent failure was 401/403: credentials are refused. */
  authFailed = false;
  /** Why the start-up healthcheck failed, until a delivery succeeds. */
  healthcheckError: string | undefined;
  /**
   * The start-up healthcheck failed permanently (the sink refused our configuration: a
   * missing bucket, a wrong path or credentials), not merely unreachable.
   */
  healthcheckRefused = false;
  /** Pending entries that live in the disk spool (part of `pending`). */
  spooledEntries = 0;
  /** Spool records delivered (or rejected) after being read back from disk. */
  spoolReplayed = 0;
  /** Replayed batches that replaced an object (file) of the same name an earlier attempt had stored (archive sinks). */
  archiveOverwrites = 0;
    /** off: SPOOL_DIR=off; ok; degraded: the disk failed (memory-only until a retry of the disk succeeds). */
  spoolState: 'off' | 'ok' | 'degraded' = 'off';
  spoolError: string | undefined;

  snapshot(): Record<string, unknown> {
    return {
      received: this.received,
      delivered: this.delivered,
      rejected: Object.fromEntries(this.rejected),
      dropped: Object.fromEntries(this.dropped),
      pending: this.pending,
      ...(this.spoolState !== 'off' ? { spooled: this.spooledEntries, spool: this.spoolState } : {}),
      retries: this.retries,
    };
  }
}

export class SourceStats {
  messagesReceived = 0;
  readonly dropped: CountByReason = new Map();
  readonly malformed: CountByReason = new Map();
  connected = false;
  /** When the connection was last lost; undefined while connected. */
  disconnectedSince: number | undefined = Date.now();
  reconnects = 0;
  disconnects = 0;
  /** Slow-consumer reports from the client or the server. */
  slowConsumer = 0;
  /** The server holds our subscription (confirmed by a round trip after SUB). */
  subscribed = false;
  /** Whether it ever did: /health fails until the first subscription exists. */
  subscribedOnce = false;
  /** When the subscription was last lost; undefined while subscribed. */
  unsubscribedSince: number | undefined = Date.now();
  /** Why the server refused (or closed) the subscription; cleared once it accepts one. */
  subscriptionError: string | undefined;
  subscriptionRefusals = 0;
  /** The server's last credentials refusal; cleared on connect. */
  authError: string | undefined;
  authErrors = 0;
  stalls = 0;
  resubscribes = 0;
  /** Wall clock of the last message received, or of (re)subscribing. */
  lastMessageAt = Date.now();
  /** A stall was detected and no message has arrived since. */
  stalled = false;
}
