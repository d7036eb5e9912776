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
  /** The sink's memory buffer bound (its share of the memory budget, or the override). */
  bufferMaxBytes = 0;
  retries = 0;
  bytesSent = 0;
  readonly batches: CountByReason = new Map();
  /** Start of the current streak of failed attempts; undefined while the last attempt succeeded. */
  failingSince: number | undefined;
  lastError: string | undefined;
  /** The last permanent failure was 401/403: credentials are refused. */
  authFailed = false;
  /** Why the start-up healthcheck failed, until a delivery succeeds. */
  healthcheckError: string | undefined;
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
