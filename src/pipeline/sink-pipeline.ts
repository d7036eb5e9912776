// Everything between "an entry for this sink" and "the sink acknowledged it": a buffer
// bounded by bytes, batching per partition, at most N requests in flight, retries (via
// retry.ts), splitting on 413, the optional disk spool, and the accounting that makes
// every entry end up delivered, rejected, dropped (with a reason) or still pending.
//
// With a spool, a batch gets one attempt from memory; if that fails transiently (or the
// memory buffer is full) it moves to disk, and the drainer delivers the spool oldest first,
// one record at a time, retrying with backoff, while new batches keep flowing from memory.
// Order: memory (the newest entries) first, the backlog alongside in its own request slot,
// so new entries never wait behind a long backlog and the backlog always moves.
import { batchFromLines, type SlabPool, splitBatch } from './batch.js';
import { BufferBudget, type BudgetMember } from './buffer-budget.js';
import { releaseBody } from './body-pool.js';
import type { LogEntry } from '../intake/entry.js';
import { LogferryError, SinkResponseError, errorMessage, isAuthFailure } from '../errors.js';
import { Batcher } from './batcher.js';
import type { Logger, ThrottledLog } from '../ops/logger.js';
import { retryUntilDone, type RetryPolicy } from './retry.js';
import type { Batch, EncodedBatch, PipelineSettings, SendResult, Sink } from './sink.js';
import { bump, type SinkStats } from '../ops/stats.js';
import { SpoolAges } from './spool-ages.js';

/** How long a spool that failed a write (disk full, I/O error) is left alone before it is tried again. */
const SPOOL_RETRY_MS = 5000;

export type DropReason = 'buffer_full' | 'shutdown' | (string & {});

/** Abort reason of a batch the core gave up on (buffer full, shutdown). */
export class BatchDroppedError extends LogferryError {
  readonly reason: DropReason;
  constructor(reason: DropReason) {
    super('BATCH_DROPPED', `batch dropped: ${reason}`);
    this.reason = reason;
  }
}

/** What the pipeline needs of a spool (src/spool.ts implements it). */
export interface BatchSpool {
  /**
   * Stores `count` entries given as NDJSON bytes (a batch's own), with the batch's key and
   * receive time; resolves once they are durable. `onWritten` runs as soon as the bytes are
   * written (before the fsync), when the caller's copy is no longer needed.
   */
  appendNdjson(
    partition: string,
    ndjson: Buffer,
    count: number,
    batch: Pick<Batch, 'key' | 'receivedAtMs'>,
    onWritten?: () => void,
  ): Promise<{ readonly stored: boolean; readonly evictedEntries: number }>;
  next(): Promise<
    { readonly seq: number; readonly partition: string; readonly key: string; readonly receivedAtMs: number | undefined; readonly lines: readonly string[] } | undefined
  >;
  ack(seq: number): Promise<void>;
  release(seq: number): void;
  readonly recoveredEntries: number;
  /** Running count of stored entries later found unreadable (corrupted on disk). */
  readonly stats?: { readonly lostEntries: number };
  close(): Promise<void>;
}

type Phase = 'encoding' | 'sending' | 'waiting';

interface Delivery {
  readonly batch: Batch;
  readonly controller: AbortController;
  /** Read back from the spool: its entries count as spooled until settled, and it is never dropped for memory. */
  readonly fromSpool: boolean;
  phase: Phase;
  /** Entries of this batch not yet counted as delivered, rejected, dropped or moved to the spool. */
  remaining: number;
  /** Buffer bytes this delivery holds until it settles. */
  heldBytes: number;
  /** The sink acknowledged the batch (its last send resolved): nothing reads the batch's bytes any more. */
  acknowledged: boolean;
}

export interface PipelineDeps {
  readonly sink: Sink;
  readonly settings: PipelineSettings;
  readonly retry: RetryPolicy;
  readonly stats: SinkStats;
  readonly logger: Logger;
  readonly throttled: ThrottledLog;
  readonly observeRequest?: (seconds: number, outcome: 'success' | 'failure') => void;
  /** Undefined: memory only. */
  readonly spool?: BatchSpool;
  /** The spool's disk outlives a restart of the machine (a local disk, a Fly volume): see `idle`. */
  readonly spoolSurvivesRestart?: boolean;
  /** The memory budget this sink draws on (shared by the sinks); undefined: one of its own of `settings.bufferMaxBytes`. */
  readonly budget?: BufferBudget;
  /** Free batch buffers for reuse; undefined: the budget's (tests pass one to watch it). */
  readonly slabs?: SlabPool;
  /** Unique per process (the agent instance id): the prefix of batch keys (Batch.key). */
  readonly runId?: string;
}

/** Reason label for a rejected batch: `http_<status>` or the error's code. */
export function rejectReason(error: unknown): string {
  if (error instanceof SinkResponseError) return `http_${error.status}`;
  if (error instanceof LogferryError) return error.code.toLowerCase();
  return 'error';
}

/** Status label of a failed request: the HTTP status, `network` (no answer) or the error's code. */
export function requestStatus(error: unknown): string {
  if (error instanceof SinkResponseError) return String(error.status);
  if (error instanceof LogferryError) return error.code === 'SINK_NETWORK' ? 'network' : error.code.toLowerCase();
  return 'error';
}

export class SinkPipeline {
  readonly name: string;
  readonly #sink: Sink;
  readonly #settings: PipelineSettings;
  readonly #retry: RetryPolicy;
  readonly #stats: SinkStats;
  readonly #logger: Logger;
  readonly #throttled: ThrottledLog;
  readonly #observe: PipelineDeps['observeRequest'];
  readonly #batcher: Batcher;
  readonly #slabs: SlabPool;
  readonly #partitionKey: ((entry: LogEntry) => string) | undefined;
  readonly #queue: Batch[] = [];
  readonly #inFlight = new Set<Delivery>();
  #running = 0;
  #encodedRatio: number;
  #makingRoom = false;
  #idleWaiters: Array<() => void> = [];
  #spool: BatchSpool | undefined;
  readonly #spoolSurvivesRestart: boolean;
  /** Spool writes under way; shutdown waits for them. Their batches stay in memory (and in the buffer) until written. */
  readonly #spoolWrites = new Set<Promise<void>>();
  readonly #budget: BufferBudget;
  readonly #member: BudgetMember;
  /** Batches sealed now go straight to the spool: memory is full and they would only wait there. */
  #sealToSpool = false;
  /** Starts queued requests when the budget has room for them again. */
  readonly #resumePump = (): void => {
    if (!this.#makingRoom) this.#pump();
  };
  #drainer: Promise<void> | undefined;
  #lostSeen = 0;
  #wakeDrainer: (() => void) | undefined;
  #stopping = false;
  /** The drainer sends nothing before this time (ms since epoch): the sink asked for a pause. */
  #spoolNotBefore = 0;
  /** The spool failed a write and is being tried again; the first success says so. */
  #spoolRecovering = false;
  /** Arrival times of the spooled entries, for their age and their batches' delivery latency. */
  readonly #spoolAges = new SpoolAges();

  constructor(deps: PipelineDeps) {
    this.#sink = deps.sink;
    this.name = deps.sink.name;
    this.#settings = deps.settings;
    this.#retry = deps.retry;
    this.#stats = deps.stats;
    this.#logger = deps.logger;
    this.#throttled = deps.throttled;
    this.#observe = deps.observeRequest;
    this.#encodedRatio = deps.sink.initialEncodedRatio ?? 1;
    this.#partitionKey = deps.sink.partitionKey?.bind(deps.sink);
    this.#budget = deps.budget ?? new BufferBudget(deps.settings.bufferMaxBytes, deps.settings.maxInFlight);
    const stats = this.#stats;
    this.#member = {
      get heldBytes() {
        return stats.bufferedBytes;
      },
      giveWay: () => this.#giveWayForOthers(),
    };
    this.#budget.join(this.#member);
    // Free batch buffers kept for reuse (see #recycle for their bound). Without them full
    // speed allocated a batch buffer per batch: V8 runs a full GC per ~10 MB of such
    // external memory, and each fresh page written costs a page fault.
    this.#slabs = deps.slabs ?? this.#budget.slabs;
    this.#batcher = new Batcher(deps.settings.batch, () => this.#encodedRatio, (batch) => this.#enqueue(batch), this.#slabs, deps.settings.bufferMaxBytes / 4, deps.runId, deps.sink.readsFlyFields === true);
    this.#spool = deps.spool;
    this.#spoolSurvivesRestart = deps.spoolSurvivesRestart ?? false;
    this.#stats.bufferMaxBytes = this.#budget.limitBytes;
    this.#stats.bufferBudget = this.#budget;
    if (this.#spool !== undefined) {
      const recovered = this.#spool.recoveredEntries;
      // Their arrival is not on disk: they count as arrived at this start.
      this.#spoolAges.push(Date.now(), recovered);
      // Entries found on disk at start count as received by this process, so the identity holds across restarts.
      this.#stats.received += recovered;
      this.#stats.pending += recovered;
      this.#stats.spooledEntries = recovered;
      this.#stats.spoolState = 'ok';
      this.#drainer = this.#drainSpool();
    }
  }

  get stats(): SinkStats {
    return this.#stats;
  }

  /** Hot path: called once per entry. */
  accept(entry: LogEntry): void {
    const stats = this.#stats;
    stats.received++;
    const budget = this.#budget;
    if (!budget.fits(entry.bytes) && !this.#makeRoom(entry.bytes)) {
      this.#countDropped(1, 'buffer_full');
      return;
    }
    stats.pending++;
    this.#hold(entry.bytes);
    this.#batcher.add(this.#partitionKey === undefined ? '' : this.#partitionKey(entry), entry);
    // Many partitions each holding a little must not fill the buffer while the sink is fine:
    // past half the sink's fair share in open batches, send the oldest early.
    if (this.#batcher.openBytes > budget.fairShareBytes / 2) this.#batcher.sealOldest();
  }

  /**
   * When the oldest entry still pending arrived (undefined when nothing is pending): open,
   * queued and in-flight batches in memory, and the spool's head. Read at scrape time.
   */
  oldestPendingAtMs(): number | undefined {
    let oldest = this.#batcher.oldestOpenAtMs ?? Infinity;
    for (const b of this.#queue) if (b.receivedAtMs < oldest) oldest = b.receivedAtMs;
    for (const d of this.#inFlight) if (!d.fromSpool && d.remaining > 0 && d.batch.receivedAtMs < oldest) oldest = d.batch.receivedAtMs;
    const spooled = this.#spoolAges.oldestAtMs;
    if (spooled !== undefined && this.#stats.spooledEntries > 0 && spooled < oldest) oldest = spooled;
    return oldest === Infinity ? undefined : oldest;
  }

  /** Seals every open batch so it is sent now (shutdown, tests). */
  flush(): void {
    this.#batcher.sealAll();
  }

  /**
   * Nothing in memory, and the spool empty, or safe to leave: on a disk that survives the
   * restart while the sink is failing (the next start delivers it). Shutdown waits for this
   * until SHUTDOWN_TIMEOUT: a spool on a disk that a Fly deploy replaces is no safe place,
   * so delivering from it goes on to the deadline, failing sink or not.
   */
  get idle(): boolean {
    const s = this.#stats;
    let memoryDeliveries = 0;
    for (const d of this.#inFlight) if (!d.fromSpool) memoryDeliveries++;
    const memoryIdle = s.pending - s.spooledEntries === 0 && memoryDeliveries === 0 && this.#queue.length === 0 && this.#spoolWrites.size === 0;
    const spoolSafe = this.#spoolSurvivesRestart && s.failingSince !== undefined;
    return memoryIdle && (s.spooledEntries === 0 || this.#spool === undefined || spoolSafe);
  }

  /** Resolves true once `idle`, false when `timeoutMs` passes first. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.idle) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idleWaiters.push(done);
    });
  }

  /**
   * Shutdown deadline: what memory still holds goes to the spool when there is one
   * (delivered after the restart), else it is counted as dropped with `reason`.
   */
  async abandonAll(reason: DropReason): Promise<void> {
    this.#stopping = true;
    this.#batcher.sealAll();
    for (const batch of this.#queue.splice(0)) this.#evictQueued(batch, reason);
    for (const d of [...this.#inFlight]) {
      if (d.fromSpool) {
        // Its record stays unacknowledged on disk and is sent again after the restart.
        d.controller.abort(new BatchDroppedError(reason));
        continue;
      }
      this.#evictDelivery(d, reason);
    }
    this.#wakeDrainer?.();
    await Promise.all([...this.#spoolWrites]);
    await this.#drainer;
    this.#checkIdle();
  }

  /** Runs the sink's start-up check; returns the failure message (also kept for /health), or undefined when fine. */
  async healthcheck(timeoutMs: number): Promise<string | undefined> {
    if (this.#sink.healthcheck === undefined) return undefined;
    try {
      await this.#sink.healthcheck(AbortSignal.timeout(timeoutMs));
      return undefined;
    } catch (error) {
      const message = errorMessage(error);
      // A delivery that succeeded meanwhile proves the sink works; don't overwrite that.
      if (this.#stats.delivered === 0) {
        this.#stats.healthcheckError = message;
        if (isAuthFailure(error) || isAuthFailure((error as { cause?: unknown }).cause)) this.#stats.authFailed = true;
        // A permanent answer (no such bucket, wrong path) is a configuration the sink refuses;
        // anything worth retrying (unreachable, 503) only means it is down for now.
        this.#stats.healthcheckRefused = this.#stats.authFailed || this.#sink.classify(error) === 'permanent';
      }
      return message;
    }
  }

  async close(): Promise<void> {
    this.#stopping = true;
    // A spool record being retried stays on disk, unacknowledged, for the next start.
    for (const d of this.#inFlight) if (d.fromSpool) d.controller.abort(new BatchDroppedError('shutdown'));
    this.#wakeDrainer?.();
    await this.#drainer;
    await this.#spool?.close().catch(() => undefined);
    await this.#sink.close?.();
  }

  #enqueue(batch: Batch): void {
    if (this.#sealToSpool) {
      this.#hold(-batch.bytes);
      this.#toSpool(batch);
      return;
    }
    this.#queue.push(batch);
    if (!this.#makingRoom) this.#pump();
  }

  #pump(): void {
    if (this.#spool !== undefined && this.#stats.spoolState === 'ok' && this.#stats.failingSince !== undefined && !this.#stopping) {
      // The sink is failing: the spool drainer is already retrying. New batches go straight to
      // disk, in order, rather than each making a doomed attempt first.
      for (const batch of this.#queue.splice(0)) {
        this.#hold(-batch.bytes);
        this.#toSpool(batch);
      }
      return;
    }
    while (this.#running < this.#settings.maxInFlight && this.#queue.length > 0 && !this.#stopping) {
      // Each sink may always have one request; more only while the budget has room for them.
      if (this.#running > 0 && !this.#budget.mayStartRequest(this.#queue[0]!.bytes)) {
        this.#budget.onRequestRoom(this.#resumePump);
        return;
      }
      const batch = this.#queue.shift()!;
      this.#running++;
      const d = this.#newDelivery(batch, false);
      void this.#deliver(d).finally(() => {
        this.#running--;
        this.#pump();
        this.#checkIdle();
      });
    }
  }

  /** `readBack`: a record just read from the spool, whose entries are now in memory too. */
  #newDelivery(batch: Batch, fromSpool: boolean, readBack = fromSpool): Delivery {
    const d: Delivery = {
      batch,
      controller: new AbortController(),
      fromSpool,
      phase: 'encoding',
      remaining: batch.count,
      heldBytes: fromSpool && !readBack ? 0 : batch.bytes,
      acknowledged: false,
    };
    if (readBack) this.#hold(batch.bytes);
    this.#inFlight.add(d);
    this.#budget.requestStarted(batch.bytes);
    return d;
  }

  /** Entries held in memory change by `bytes`: this sink's count and the budget's. */
  #hold(bytes: number): void {
    this.#stats.bufferedBytes += bytes;
    this.#budget.usedBytes += bytes;
  }

  /**
   * Frees budget for `need` more bytes: this sink's own movable batches, and sinks holding
   * more than their fair share give way (first, when this one is within its share). False
   * when nothing can be moved (only batches mid-request are left).
   */
  #makeRoom(need: number): boolean {
    const budget = this.#budget;
    this.#makingRoom = true;
    try {
      // A sink within its fair share first asks the ones holding more; only then moves its own.
      if (this.#stats.bufferedBytes + need <= budget.fairShareBytes && budget.reclaim(need, this.#member)) return true;
      while (!budget.fits(need)) {
        if (this.#giveWay()) continue;
        return budget.reclaim(need, this.#member);
      }
      return true;
    } finally {
      this.#makingRoom = false;
      this.#pump();
    }
  }

  /** Another sink needs room: move out one batch as #giveWay does. */
  #giveWayForOthers(): boolean {
    const was = this.#makingRoom;
    this.#makingRoom = true;
    try {
      return this.#giveWay();
    } finally {
      this.#makingRoom = was;
      if (!was) this.#pump();
    }
  }

  /**
   * Moves one batch out of memory, oldest first: a queued one, then one waiting out a retry
   * backoff (one mid-request is left to finish), then, with a spool, the oldest open batch
   * straight to the spool; without one, sealing it queues it for the next round to drop.
   * False when nothing is left to move.
   */
  #giveWay(): boolean {
    const queued = this.#queue.shift();
    if (queued !== undefined) {
      this.#evictQueued(queued, 'buffer_full');
      return true;
    }
    for (const d of this.#inFlight) {
      if (d.phase === 'waiting' && !d.fromSpool) {
        this.#evictDelivery(d, 'buffer_full');
        return true;
      }
    }
    this.#sealToSpool = this.#spool !== undefined && this.#stats.spoolState === 'ok' && !this.#stopping;
    try {
      return this.#batcher.sealOldest();
    } finally {
      this.#sealToSpool = false;
    }
  }

  /** A queued batch must leave memory: to the spool when there is one, else dropped. */
  #evictQueued(batch: Batch, reason: DropReason): void {
    this.#hold(-batch.bytes);
    if (this.#spool !== undefined && this.#stats.spoolState === 'ok') {
      this.#toSpool(batch);
      return;
    }
    this.#stats.pending -= batch.count;
    bump(this.#stats.batches, 'dropped');
    this.#countDropped(batch.count, reason);
    // Never encoded or sent: its buffer can take the entries that made room.
    this.#recycle(batch);
  }

  #evictDelivery(d: Delivery, reason: DropReason): void {
    if (this.#spool !== undefined && this.#stats.spoolState === 'ok' && d.remaining === d.batch.count) {
      this.#moveToSpool(d);
    } else {
      this.#settle(d, 'dropped', d.remaining, reason);
      bump(this.#stats.batches, 'dropped');
    }
    this.#release(d);
    d.controller.abort(new BatchDroppedError(reason));
  }

  /** The delivery's entries leave memory for the spool; they stay pending. */
  #moveToSpool(d: Delivery): void {
    d.remaining = 0;
    this.#toSpool(d.batch);
  }

  /** Appends a batch (whose entries are counted pending, not in the memory buffer) to the spool. */
  #toSpool(batch: Batch): void {
    const spool = this.#spool!;
    const n = batch.count;
    const stats = this.#stats;
    stats.spooledEntries += n;
    // Until the spool has written it the batch is still in memory: it keeps counting against
    // the budget. Once written (the fsync may still run) its memory is free for new entries.
    this.#hold(batch.bytes);
    this.#budget.spoolWriteBytes += batch.bytes;
    let inMemory = true;
    const leaveMemory = (): void => {
      if (!inMemory) return;
      inMemory = false;
      this.#hold(-batch.bytes);
      this.#budget.spoolWriteBytes -= batch.bytes;
    };
    const written = (): void => {
      leaveMemory();
      this.#recycle(batch);
    };
    const write = spool
      .appendNdjson(batch.partition, batch.ndjson, n, batch, written)
      .then(
        (result) => {
          if (this.#spoolRecovering) {
            this.#spoolRecovering = false;
            this.#logger.info({ sink: this.name }, 'spool writes work again');
          }
          if (result.evictedEntries > 0) this.#spoolLoss(result.evictedEntries, 'spool_full');
          if (result.stored) this.#spoolAges.push(batch.receivedAtMs, n);
          else this.#spoolLoss(n, 'spool_full', false);
          this.#wakeDrainer?.();
        },
        (error: unknown) => {
          // A broken disk must not stop shipping: go memory-only and keep this batch in memory.
          this.#degradeSpool(error);
          stats.spooledEntries -= n;
          this.#hold(batch.bytes);
          this.#queue.unshift(batch);
          this.#pump();
        },
      )
      .finally(() => {
        leaveMemory();
        this.#spoolWrites.delete(write);
        this.#checkIdle();
      });
    this.#spoolWrites.add(write);
    bump(stats.batches, 'spooled');
  }

  /** `fromSpool`: the entries were stored (they leave from the spool's head); false for a refused append. */
  #spoolLoss(n: number, reason: string, stored = true): void {
    if (stored) this.#spoolAges.consume(n);
    this.#stats.spooledEntries -= n;
    this.#stats.pending -= n;
    this.#countDropped(n, reason);
  }

  #degradeSpool(error: unknown): void {
    if (this.#stats.spoolState !== 'ok') return;
    this.#stats.spoolState = 'degraded';
    this.#stats.spoolError = errorMessage(error);
    this.#spoolRecovering = true;
    this.#throttled.error(
      `${this.name}:spool-write`,
      { sink: this.name, err: this.#stats.spoolError, retryInMs: SPOOL_RETRY_MS },
      'spool write failed; memory-only for this sink until the disk works again (entries are dropped when the memory buffer fills)',
    );
    // A full disk empties again (rotation, a deleted file): try the spool again later.
    setTimeout(() => {
      if (this.#stats.spoolState !== 'degraded' || this.#stopping) return;
      this.#stats.spoolState = 'ok';
      this.#stats.spoolError = undefined;
      this.#wakeDrainer?.();
    }, SPOOL_RETRY_MS).unref();
  }

  #countDropped(n: number, reason: string): void {
    if (n <= 0) return;
    bump(this.#stats.dropped, reason, n);
    this.#throttled.warn(`${this.name}:dropped:${reason}`, { sink: this.name, reason, entries: n }, 'entries dropped');
  }

  #settle(d: Delivery, outcome: 'delivered' | 'rejected' | 'dropped', n: number, reason = ''): void {
    const count = Math.min(n, d.remaining);
    if (count <= 0) return;
    d.remaining -= count;
    const stats = this.#stats;
    stats.pending -= count;
    if (d.fromSpool) {
      stats.spooledEntries -= count;
      this.#spoolAges.consume(count);
    }
    if (outcome === 'delivered') {
      stats.delivered += count;
      // Once per batch: its oldest entry's age, counted for each entry it delivered.
      stats.deliveryLatency.observe((Date.now() - d.batch.receivedAtMs) / 1000, count);
    }
    else if (outcome === 'rejected') bump(stats.rejected, reason, count);
    else this.#countDropped(count, reason);
  }

  #release(d: Delivery): void {
    if (!this.#inFlight.delete(d)) return;
    this.#budget.requestDone(d.batch.bytes);
    this.#hold(-d.heldBytes);
    d.heldBytes = 0;
  }

  async #deliver(d: Delivery): Promise<void> {
    try {
      await this.#attempt(d);
    } catch (error) {
      // Only reached on a bug in this file; keep the books straight regardless.
      this.#logger.error({ sink: this.name, err: errorMessage(error) }, 'unexpected delivery failure');
    } finally {
      if (d.remaining > 0 && !d.controller.signal.aborted) this.#settle(d, 'dropped', d.remaining, 'internal_error');
      this.#release(d);
      if (d.acknowledged) this.#recycle(d.batch);
    }
  }

  /**
   * A batch nobody reads any more gives its buffer back for the next batch, while the
   * entries held plus the free buffers stay within 1.5 × the buffer's size: free buffers
   * on top of a full buffer only raise the peak, but none at all under a flood means a
   * fresh buffer per batch and the old ones waiting for the GC. Measured in a flood (the
   * benchmark's BENCH_FLOOD=1, S3): peak RSS 205 MiB without this check, 187 MiB at 1 ×,
   * 140 MiB at 1.5 ×.
   */
  #recycle(batch: Batch): void {
    const slabs = this.#slabs;
    const budget = this.#budget;
    if (budget.usedBytes + slabs.freeBytes + batch.ndjson.buffer.byteLength <= 1.5 * budget.limitBytes) slabs.giveBack(batch.ndjson);
    else slabs.release(batch.ndjson);
  }

  /** Memory batches get a single attempt when a spool can take over the retrying. */
  #spoolTakesRetries(d: Delivery): boolean {
    return !d.fromSpool && this.#spool !== undefined && this.#stats.spoolState === 'ok' && !this.#stopping;
  }

  async #attempt(d: Delivery): Promise<void> {
    const { batch } = d;
    const sink = this.#sink;
    let encoded: EncodedBatch;
    try {
      encoded = await sink.encode(batch);
    } catch (error) {
      this.#throttled.error(`${this.name}:encode`, { sink: this.name, err: errorMessage(error) }, 'could not encode a batch; its entries are rejected');
      this.#settle(d, 'rejected', d.remaining, 'encode_error');
      bump(this.#stats.batches, 'rejected');
      return;
    }
    if (d.controller.signal.aborted) return;
    if (batch.bytes > 0) this.#learnRatio(encoded.body.length / batch.bytes);
    if (encoded.dropped) for (const [reason, n] of Object.entries(encoded.dropped)) this.#settle(d, 'dropped', n, reason);
    if (encoded.adjusted) for (const [reason, n] of Object.entries(encoded.adjusted)) bump(this.#stats.adjusted, reason, n);

    const singleAttempt = this.#spoolTakesRetries(d);
    let result: SendResult | void;
    try {
      result = await retryUntilDone(
        async () => {
          d.phase = 'sending';
          const started = performance.now();
          try {
            const r = await sink.send(encoded, batch, d.controller.signal);
            d.acknowledged = true;
            this.#observe?.((performance.now() - started) / 1000, 'success');
            bump(this.#stats.requests, 'success');
            return r;
          } catch (error) {
            this.#observe?.((performance.now() - started) / 1000, 'failure');
            bump(this.#stats.requests, requestStatus(error));
            d.phase = 'waiting';
            this.#noteFailure(error);
            throw error;
          }
        },
        {
          policy: this.#retry,
          classify: (e) => (singleAttempt && sink.classify(e) === 'retry' ? 'permanent' : sink.classify(e)),
          signal: d.controller.signal,
          onRetry: (error, attemptNumber, delayMs) => {
            this.#stats.retries++;
            this.#throttled.warn(
              `${this.name}:retry`,
              { sink: this.name, err: errorMessage(error), attempt: attemptNumber, retryInMs: delayMs, entries: d.remaining, fromSpool: d.fromSpool },
              'sink request failed; will retry',
            );
          },
        },
      );
    } catch (error) {
      if (d.remaining === 0 || d.controller.signal.aborted) return; // moved or dropped while waiting; already counted
      const action = sink.classify(error);
      if (action === 'retry' && singleAttempt) {
        // Transient failure: the spool keeps the batch and its drainer retries it in order,
        // after the wait the sink asked for (Retry-After) or the first backoff.
        const retryAfter = error instanceof SinkResponseError ? error.retryAfterMs : undefined;
        this.#spoolNotBefore = Math.max(this.#spoolNotBefore, Date.now() + Math.min(retryAfter ?? this.#retry.initialBackoffMs, 15 * 60_000));
        this.#stats.retries++;
        this.#moveToSpool(d);
        return;
      }
      if (action === 'split' && batch.count > 1) {
        await this.#split(d);
        return;
      }
      this.#reject(d, error);
      return;
    }
    this.#stats.failingSince = undefined;
    this.#stats.authFailed = false;
    this.#stats.healthcheckError = undefined;
    this.#stats.healthcheckRefused = false;
    this.#stats.bytesSent += encoded.body.length;
    // Acknowledged: nothing reads the body any more, so a pooled one serves the next batch.
    releaseBody(encoded.body);
    if (result?.overwrote === true) this.#stats.archiveOverwrites++;
    const rejected = result?.rejectedEntries ?? 0;
    if (rejected > 0) this.#settle(d, 'rejected', rejected, result?.rejectReason ?? 'partial');
    this.#settle(d, 'delivered', d.remaining);
    bump(this.#stats.batches, rejected > 0 ? 'partial' : 'delivered');
  }

  #noteFailure(error: unknown): void {
    const stats = this.#stats;
    stats.failingSince ??= Date.now();
    stats.lastError = errorMessage(error);
    this.#checkIdle();
  }

  #reject(d: Delivery, error: unknown): void {
    const reason = rejectReason(error);
    const n = error instanceof SinkResponseError && error.rejectedEntries !== undefined ? error.rejectedEntries : d.remaining;
    if (isAuthFailure(error)) {
      this.#stats.authFailed = true;
      this.#throttled.error(`${this.name}:auth`, { sink: this.name, err: errorMessage(error) }, 'sink refused our credentials; check the sink secrets');
    } else {
      this.#throttled.error(`${this.name}:rejected:${reason}`, { sink: this.name, reason, entries: n, err: errorMessage(error) }, 'sink rejected a batch permanently; not retrying');
    }
    this.#settle(d, 'rejected', n, reason);
    // A partial rejection (Loki 400): the rest of the batch was stored.
    if (d.remaining > 0) this.#settle(d, 'delivered', d.remaining);
    bump(this.#stats.batches, 'rejected');
    // A permanent answer is still an answer: the sink is reachable.
    this.#stats.failingSince = undefined;
  }

  /** 413: send the halves one after the other, each with its own retries and further splits. */
  async #split(d: Delivery): Promise<void> {
    bump(this.#stats.batches, 'split');
    const { batch } = d;
    const halves = splitBatch(batch, this.#batcher.nextId(), this.#batcher.nextId());
    // The halves take over the parent's entries and buffer bytes.
    if (this.#inFlight.delete(d)) this.#budget.requestDone(batch.bytes);
    const heldPerEntry = batch.count > 0 ? d.heldBytes / batch.count : 0;
    d.heldBytes = 0;
    d.remaining = 0;
    for (const halfBatch of halves) {
      const half = this.#newDelivery(halfBatch, d.fromSpool, false);
      half.heldBytes = heldPerEntry * halfBatch.count;
      try {
        await this.#attempt(half);
      } finally {
        if (half.remaining > 0 && !half.controller.signal.aborted) this.#settle(half, 'dropped', half.remaining, 'internal_error');
        this.#release(half);
      }
    }
  }

  /**
   * Delivers the spool oldest first until stopped, one record at a time (so a crash repeats at
   * most that one record), alongside the memory batches.
   */
  async #drainSpool(): Promise<void> {
    const spool = this.#spool!;
    while (!this.#stopping) {
      const wait = this.#spoolNotBefore - Date.now();
      if (wait > 0) {
        // The last memory attempt was told to back off (Retry-After, or a transient failure).
        await new Promise<void>((resolve) => {
          this.#wakeDrainer = resolve;
          setTimeout(resolve, wait).unref();
        });
        this.#wakeDrainer = undefined;
        continue;
      }
      if (this.#running > 0 && !this.#budget.mayStartRequest(0)) {
        // Reading a record back takes memory: wait while requests fill the budget's share for them.
        await new Promise<void>((resolve) => {
          this.#wakeDrainer = resolve;
          this.#budget.onRequestRoom(resolve);
          setTimeout(resolve, 1000).unref();
        });
        this.#wakeDrainer = undefined;
        continue;
      }
      let record: Awaited<ReturnType<BatchSpool['next']>>;
      try {
        record = await spool.next();
      } catch (error) {
        this.#throttled.error(`${this.name}:spool-read`, { sink: this.name, err: errorMessage(error) }, 'spool read failed; will try again');
        record = undefined;
      }
      // Records damaged on disk after they were counted: their entries are lost, say so.
      const lost = spool.stats?.lostEntries ?? 0;
      if (lost > this.#lostSeen) {
        this.#spoolLoss(lost - this.#lostSeen, 'spool_corrupt');
        this.#lostSeen = lost;
      }
      if (record === undefined) {
        await new Promise<void>((resolve) => {
          this.#wakeDrainer = resolve;
          // Also look again now and then: records may have been skipped or released.
          setTimeout(resolve, 1000).unref();
        });
        this.#wakeDrainer = undefined;
        continue;
      }
      await this.#deliverRecord(spool, record);
    }
  }

  async #deliverRecord(spool: BatchSpool, record: NonNullable<Awaited<ReturnType<BatchSpool['next']>>>): Promise<void> {
    // The record's key: every replay writes the same object as the attempts before it.
    const d = this.#newDelivery(batchFromLines(this.#batcher.nextId(), record.partition, record.lines, record.receivedAtMs ?? this.#spoolAges.oldestAtMs, record.key, true), true);
    try {
      await this.#attempt(d);
    } catch (error) {
      // Only reached on a bug in this file; the record is settled below regardless.
      this.#logger.error({ sink: this.name, err: errorMessage(error) }, 'unexpected spool delivery failure');
    } finally {
      this.#release(d);
    }
    if (d.controller.signal.aborted) {
      // Stopping: the record stays on disk for the next start.
      spool.release(record.seq);
      return;
    }
    if (d.remaining > 0) this.#settle(d, 'dropped', d.remaining, 'internal_error');
    this.#stats.spoolReplayed++;
    await spool.ack(record.seq).catch((error: unknown) => this.#degradeSpool(error));
    this.#checkIdle();
  }

  #learnRatio(ratio: number): void {
    // Moving average: compression varies with content, one odd batch must not swing batch sizes.
    this.#encodedRatio = this.#encodedRatio * 0.8 + ratio * 0.2;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.idle) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
