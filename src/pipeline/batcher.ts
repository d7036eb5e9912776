// Groups entries into batches per partition and seals a batch when it reaches the
// sink's max entries, max encoded bytes (estimated from the measured compression ratio)
// or max age. Each open batch writes its entries' bytes into one NDJSON buffer as they
// arrive. Knows nothing of sending; sealed batches go to `onSeal`.
import { LRUCache } from 'lru-cache';
import { NdjsonWriter, type SlabPool } from './batch.js';
import type { LogEntry } from '../intake/entry.js';
import type { Batch, BatchSettings } from './sink.js';

interface OpenBatch {
  readonly partition: string;
  readonly writer: NdjsonWriter;
  /** When its first entry arrived. */
  readonly receivedAtMs: number;
  timer: NodeJS.Timeout | undefined;
}

// First size of a batch's buffer before anything was learnt; it doubles as needed.
const INITIAL_CAPACITY = 64 * 1024;
// Open partitions whose first batch may jump straight to its likely size (see #openBatch).
const WARM_UP_PARTITIONS = 4;
// Partitions whose last batch size is remembered; past it the least recently sealed is forgotten.
const MAX_REMEMBERED_PARTITIONS = 10_000;

export class Batcher {
  readonly #settings: BatchSettings;
  readonly #onSeal: (batch: Batch) => void;
  readonly #encodedRatio: () => number;
  // Insertion order is opening order, so the first entry is always the oldest open batch.
  readonly #open = new Map<string, OpenBatch>();
  #openBytes = 0;
  #nextId = 1;
  // Size of the last sealed batch's NDJSON, overall and per partition (partitions differ in
  // traffic): new batches start near it, so buffers rarely regrow. Regrowing copies the
  // batch so far and takes a buffer twice the size.
  #lastSealedSize = 0;
  readonly #lastSealedByPartition = new LRUCache<string, number>({ max: MAX_REMEMBERED_PARTITIONS });

  readonly #pool: SlabPool | undefined;
  readonly #warmUpBytes: number;
  readonly #keyPrefix: string;
  // The sink reads Fly fields: batches keep the intake's spans (fieldSpansOf).
  readonly #keepFieldSpans: boolean;

  /**
   * `warmUpBytes`: how large a partition's first batch buffer may jump once it outgrows its
   * start (see #openBatch); 0 doubles it like any other. `keyPrefix`: unique per process
   * (the agent instance id), so batch keys never repeat across agents and restarts.
   * `keepFieldSpans`: batches keep the intake's field spans (the sink reads Fly fields).
   */
  constructor(settings: BatchSettings, encodedRatio: () => number, onSeal: (batch: Batch) => void, pool?: SlabPool, warmUpBytes = 0, keyPrefix = 'batch', keepFieldSpans = false) {
    this.#settings = settings;
    this.#keepFieldSpans = keepFieldSpans;
    this.#keyPrefix = keyPrefix;
    this.#pool = pool;
    this.#warmUpBytes = warmUpBytes;
    this.#encodedRatio = encodedRatio;
    this.#onSeal = onSeal;
  }

  /** Line bytes held in open (not yet sealed) batches. */
  get openBytes(): number {
    return this.#openBytes;
  }

  get openBatches(): number {
    return this.#open.size;
  }

  /** When the first entry of the oldest open batch arrived; undefined when none is open. */
  get oldestOpenAtMs(): number | undefined {
    const first = this.#open.values().next();
    return first.done ? undefined : first.value.receivedAtMs;
  }

  add(partition: string, entry: LogEntry): void {
    const lineBytes = entry.bytes;
    let open = this.#open.get(partition);
    if (open !== undefined && this.#wouldOverflow(open.writer.lineBytes + lineBytes)) {
      // Seal before adding, so the encoded batch stays within maxBytes.
      this.#seal(open);
      open = undefined;
    }
    if (open === undefined) open = this.#openBatch(partition, lineBytes, entry.receivedAtMs);
    const writer = open.writer;
    const before = writer.lineBytes;
    writer.append(entry);
    this.#openBytes += writer.lineBytes - before;
    if (writer.count >= this.#settings.maxEntries || writer.lineBytes * this.#encodedRatio() >= this.#settings.maxBytes) {
      this.#seal(open);
    }
  }

  #wouldOverflow(lineBytes: number): boolean {
    const { maxBytes, maxLineBytes } = this.#settings;
    return lineBytes * this.#encodedRatio() > maxBytes || (maxLineBytes !== undefined && lineBytes > maxLineBytes);
  }

  /** Seals the oldest open batch (memory pressure with many partitions). False when none is open. */
  sealOldest(): boolean {
    const first = this.#open.values().next();
    if (first.done) return false;
    this.#seal(first.value);
    return true;
  }

  sealAll(): void {
    for (const open of [...this.#open.values()]) this.#seal(open);
  }

  /** A batch id for batches made outside the batcher (splits, spool replay). */
  nextId(): number {
    return this.#nextId++;
  }

  #openBatch(partition: string, firstLineBytes: number, firstReceivedAtMs: number): OpenBatch {
    const { maxBytes, maxLineBytes } = this.#settings;
    // Room for what the batch will likely hold, never more than its limits allow.
    const limit = Math.min(maxLineBytes ?? Infinity, maxBytes / Math.max(this.#encodedRatio(), 0.01)) * 1.05 + 1024;
    const last = this.#lastSealedByPartition.get(partition) ?? this.#lastSealedSize;
    const guess = last > 0 ? last * 1.1 : INITIAL_CAPACITY;
    const capacity = Math.ceil(Math.max(firstLineBytes + 1, Math.min(guess, limit)));
    // Nothing learnt yet (start-up): a batch that outgrows its small start belongs to a busy
    // partition, so it jumps to its likely size instead of doubling there. Each doubling
    // copies the batch and writes fresh memory (a page fault per 4 KiB), and pages of the
    // jumped-to buffer cost nothing until written. Only for a few partitions at once: every
    // buffer's full size counts as V8 external memory.
    const warmUp = last === 0 && this.#open.size < WARM_UP_PARTITIONS ? Math.min(limit, this.#warmUpBytes) : 0;
    const open: OpenBatch = { partition, writer: new NdjsonWriter(capacity, this.#pool, warmUp, this.#keepFieldSpans), receivedAtMs: firstReceivedAtMs, timer: undefined };
    open.timer = setTimeout(() => this.#sealIfOpen(open), this.#settings.maxAgeMs);
    open.timer.unref();
    this.#open.set(partition, open);
    return open;
  }

  #sealIfOpen(open: OpenBatch): void {
    if (this.#open.get(open.partition) === open) this.#seal(open);
  }

  #seal(open: OpenBatch): void {
    if (open.timer !== undefined) clearTimeout(open.timer);
    this.#open.delete(open.partition);
    const writer = open.writer;
    this.#openBytes -= writer.lineBytes;
    if (writer.count === 0) return;
    const ndjson = writer.finish();
    this.#pool?.lend(ndjson);
    this.#lastSealedSize = ndjson.length;
    this.#lastSealedByPartition.set(open.partition, ndjson.length);
    const id = this.#nextId++;
    this.#onSeal({ id, key: `${this.#keyPrefix}-${String(id).padStart(6, '0')}`, partition: open.partition, ndjson, count: writer.count, bytes: writer.lineBytes, receivedAtMs: open.receivedAtMs });
  }
}
