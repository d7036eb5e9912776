// Groups entries into batches per partition and seals a batch when it reaches the
// sink's max entries, max encoded bytes (estimated from the measured compression ratio)
// or max age. Knows nothing of sending; sealed batches go to `onSeal`.
import type { LogEntry } from './entry.js';
import type { Batch, BatchSettings } from './sink.js';

interface OpenBatch {
  readonly partition: string;
  readonly entries: LogEntry[];
  bytes: number;
  readonly openedAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class Batcher {
  readonly #settings: BatchSettings;
  readonly #onSeal: (batch: Batch) => void;
  readonly #encodedRatio: () => number;
  // Insertion order is opening order, so the first entry is always the oldest open batch.
  readonly #open = new Map<string, OpenBatch>();
  #openBytes = 0;
  #nextId = 1;

  constructor(settings: BatchSettings, encodedRatio: () => number, onSeal: (batch: Batch) => void) {
    this.#settings = settings;
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

  add(partition: string, entry: LogEntry): void {
    let open = this.#open.get(partition);
    if (open !== undefined && this.#wouldOverflow(open.bytes + entry.bytes)) {
      // Seal before adding, so the encoded batch stays within maxBytes.
      this.#seal(open);
      open = undefined;
    }
    if (open === undefined) open = this.#openBatch(partition);
    open.entries.push(entry);
    open.bytes += entry.bytes;
    this.#openBytes += entry.bytes;
    if (open.entries.length >= this.#settings.maxEntries || open.bytes * this.#encodedRatio() >= this.#settings.maxBytes) {
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

  #openBatch(partition: string): OpenBatch {
    const open: OpenBatch = { partition, entries: [], bytes: 0, openedAt: Date.now(), timer: undefined };
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
    this.#openBytes -= open.bytes;
    if (open.entries.length === 0) return;
    this.#onSeal({ id: this.#nextId++, partition: open.partition, entries: open.entries, bytes: open.bytes });
  }
}
