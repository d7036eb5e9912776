// A batch's entries live as NDJSON bytes (each line followed by "\n"), written once into
// one buffer as they arrive. NDJSON sinks send those bytes as they are; the spool stores
// them; sinks that need fields per entry read them back once per batch.
import { EntryView, FLY_FIELD_SLOTS, intake, type LogEntry, type SubjectParts } from '../intake/entry.js';
import type { Batch } from './sink.js';

const NEWLINE = 0x0a;
const NO_SUBJECT: SubjectParts = { app: '', region: '', instance: '' };

/** How long a free pooled buffer is kept for reuse: longer than full speed's turnaround, shorter than a one-second batch age. */
export const SLAB_IDLE_MS = 250;

/**
 * Batch buffers for reuse. At full speed a sink fills tens of MB of batch buffers a second;
 * allocating each afresh made V8 run a full GC every couple of hundred milliseconds (they
 * count as external memory) and left the allocator's free lists fragmented. A buffer comes
 * back only from a batch the sink fully delivered (its send resolved: nothing reads it any
 * more); a batch that failed, was split, spooled or dropped leaves its buffer to the GC.
 */
export class SlabPool {
  readonly #free: Buffer[] = [];
  // When each free buffer came back (same order as #free).
  readonly #freeSince: number[] = [];
  #freeBytes = 0;
  readonly #maxFreeBytes: number;
  readonly #maxFree: number;
  readonly #idleMs: number;
  readonly #now: () => number;
  // Lets idle buffers go when no take or give comes by to do it.
  #sweep: NodeJS.Timeout | undefined;
  // Buffers lent out as whole batches; only these may come back (a split half is a view of one).
  readonly #lent = new WeakSet<Uint8Array>();

  /**
   * Keeps at most `maxFree` free buffers and `maxFreeBytes` in them, and none unused for
   * `idleMs`: free buffers are resident memory. At full speed a buffer comes back and is
   * taken again within milliseconds; at a trickle, batches sealed by age all come back long
   * before the next ones are sealed, and kept they would only hold memory in between.
   */
  constructor(maxFreeBytes: number, maxFree = 2, idleMs = SLAB_IDLE_MS, now: () => number = Date.now) {
    this.#maxFreeBytes = maxFreeBytes;
    this.#maxFree = maxFree;
    this.#idleMs = idleMs;
    this.#now = now;
  }

  get freeBytes(): number {
    return this.#freeBytes;
  }

  /**
   * A buffer of at least `min` bytes, `preferred` when it has to be made. A free buffer is
   * taken when it holds `preferred` (the smallest such), or at least `min` and most of
   * `preferred`: a much smaller one would only make the writer regrow, allocating anyway.
   */
  take(min: number, preferred: number): Buffer {
    this.#dropIdle();
    const free = this.#free;
    const enough = Math.max(min, Math.floor(preferred * 0.75));
    // Nor one many times larger: reused, all of it is resident while the batch fills only the
    // part it needs (the buffers of a burst would serve a steady trickle for good).
    const tooBig = preferred * 4 + 1024 * 1024;
    let pick = -1;
    // Newest first: of equal buffers the last given back is taken, so a steady trickle keeps
    // using the same few and the rest go idle and are let go (oldest first would cycle all).
    for (let i = free.length - 1; i >= 0; i--) {
      const n = free[i]!.length;
      if (n < enough || n > tooBig) continue;
      if (pick < 0) {
        pick = i;
        continue;
      }
      // The smallest that holds `preferred`; short of that, the largest.
      const best = free[pick]!.length;
      if (best >= preferred ? n >= preferred && n < best : n > best) pick = i;
    }
    if (pick >= 0) {
      const b = free[pick]!;
      this.#remove(pick);
      return b;
    }
    return Buffer.allocUnsafeSlow(Math.max(min, preferred));
  }

  /** Takes back a buffer nobody uses any more. When full, it keeps the larger buffers: small ones would not be taken. */
  give(b: Buffer): void {
    if (b.byteOffset !== 0 || b.length !== b.buffer.byteLength) return;
    if (b.length > this.#maxFreeBytes) return freeNow(b);
    const now = this.#dropIdle();
    const free = this.#free;
    while (free.length >= this.#maxFree || this.#freeBytes + b.length > this.#maxFreeBytes) {
      let smallest = 0;
      for (let i = 1; i < free.length; i++) if (free[i]!.length < free[smallest]!.length) smallest = i;
      const dropped = free[smallest];
      if (dropped === undefined || dropped.length >= b.length) return freeNow(b);
      this.#remove(smallest, true);
    }
    free.push(b);
    this.#freeSince.push(now);
    this.#freeBytes += b.length;
    this.#armSweep(this.#idleMs);
  }

  #armSweep(delayMs: number): void {
    if (this.#sweep !== undefined) return;
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      const now = this.#dropIdle();
      const oldest = this.#freeSince[0];
      if (oldest !== undefined) this.#armSweep(Math.max(1, oldest + this.#idleMs - now + 1));
    }, delayMs);
    this.#sweep.unref();
  }

  #remove(i: number, release = false): void {
    const b = this.#free[i]!;
    this.#freeBytes -= b.length;
    this.#free.splice(i, 1);
    this.#freeSince.splice(i, 1);
    if (release) freeNow(b);
  }

  /** Lets go of buffers nobody took for `idleMs` (they are in the order they came back). Returns now. */
  #dropIdle(): number {
    const now = this.#now();
    const since = this.#freeSince;
    while (since.length > 0 && now - since[0]! > this.#idleMs) this.#remove(0, true);
    return now;
  }

  /** Marks a sealed batch's NDJSON as lent out. */
  lend(ndjson: Uint8Array): void {
    this.#lent.add(ndjson);
  }

  /** A delivered batch's NDJSON comes back; anything not lent by this pool is ignored. */
  giveBack(ndjson: Uint8Array): void {
    if (!this.#lent.delete(ndjson)) return;
    this.give(Buffer.from(ndjson.buffer, 0, ndjson.buffer.byteLength));
  }

  /** A delivered batch's NDJSON the pool should not keep: its memory is freed now. Anything not lent by this pool is ignored. */
  release(ndjson: Uint8Array): void {
    if (this.#lent.delete(ndjson)) freeNow(ndjson);
  }
}

/**
 * Frees a buffer's memory at once; its caller holds the whole ArrayBuffer and nothing reads
 * it any more (pools' buffers, zlib's used output chunks). Detaching releases the memory,
 * where dropping the last reference waits for a GC that counts external memory late
 * (multi-megabyte buffers then pile up at full speed).
 */
export function freeNow(b: Uint8Array): void {
  const memory = b.buffer;
  if (memory instanceof ArrayBuffer && !memory.detached) memory.transfer(0);
}

/**
 * Per entry of a batch, FIELD_SPANS_STRIDE int32s: the spans of its Fly fields as the intake
 * scanned them (FLY_FIELDS slots, offsets into the batch's NDJSON, ABSENT/NOT_PLAIN as the
 * scanner writes them), then the scan's escaped bits. SPANS_UNKNOWN first: scan that line.
 */
export const FIELD_SPANS_STRIDE = FLY_FIELD_SLOTS * 2 + 1;
export const SPANS_UNKNOWN = -3;

// A sealed batch's field spans, by its NDJSON: whatever makes a new NDJSON (a split, a spool
// read, a vendor's rewrite) has none, so its encoder scans, and nothing can pair stale spans
// with other bytes.
const fieldSpansByNdjson = new WeakMap<Uint8Array, Int32Array>();

/** The field spans the intake found for this NDJSON's entries (see FIELD_SPANS_STRIDE), when its writer kept them. */
export function fieldSpansOf(ndjson: Uint8Array): Int32Array | undefined {
  return fieldSpansByNdjson.get(ndjson);
}

/** Collects entry lines into one growing buffer: one copy per entry, no string, no object. */
export class NdjsonWriter {
  #buf: Buffer;
  #used = 0;
  readonly #pool: SlabPool | undefined;
  // Field spans per entry, when kept (the sink reads fields; see fieldSpansOf).
  #spans: Int32Array | undefined;
  /** Entries written. */
  count = 0;
  /** Their line bytes (without the newlines). */
  lineBytes = 0;

  // The size of the first regrowth (0: double as usual); see Batcher's #openBatch.
  #firstGrowth: number;

  constructor(capacity: number, pool?: SlabPool, firstGrowth = 0, keepFieldSpans = false) {
    this.#pool = pool;
    this.#firstGrowth = firstGrowth;
    const size = Math.max(capacity, 1024);
    this.#buf = pool === undefined ? Buffer.allocUnsafeSlow(size) : pool.take(Math.min(size, 64 * 1024), size);
    // Fly lines are a few hundred bytes: room for the entries a buffer this size likely holds.
    if (keepFieldSpans) this.#spans = new Int32Array(Math.max(64, size >>> 8) * FIELD_SPANS_STRIDE);
  }

  get capacity(): number {
    return this.#buf.length;
  }

  append(entry: LogEntry): void {
    let n: number;
    if (entry instanceof EntryView) {
      n = entry.end - entry.start;
      this.#reserve(n + 1);
      entry.buf.copy(this.#buf, this.#used, entry.start, entry.end);
      if (this.#spans !== undefined) this.#keepSpans(entry);
    } else {
      if (this.#spans !== undefined) this.#unknownSpans();
      // Entries made by hand or replayed: measure rather than trust `bytes`.
      n = Buffer.byteLength(entry.line);
      this.#reserve(n + 1);
      this.#buf.write(entry.line, this.#used, 'utf8');
    }
    this.#buf[this.#used + n] = NEWLINE;
    this.#used += n + 1;
    this.count++;
    this.lineBytes += n;
  }

  /**
   * The NDJSON written so far. Without a pool it is copied to its exact size when the buffer
   * has much room left, so a sealed batch holds no slack; with one, the buffer goes around again.
   */
  finish(): Buffer {
    const used = this.#used;
    let ndjson: Buffer;
    if (this.#pool !== undefined || this.#buf.length - used <= used >>> 2) {
      ndjson = this.#buf.subarray(0, used);
    } else {
      ndjson = Buffer.allocUnsafeSlow(used);
      this.#buf.copy(ndjson, 0, 0, used);
    }
    if (this.#spans !== undefined) fieldSpansByNdjson.set(ndjson, this.#spans.subarray(0, this.count * FIELD_SPANS_STRIDE));
    return ndjson;
  }

  /** The entry's field spans, moved from its message to where its line starts in this batch (before `count` counts it). */
  #keepSpans(entry: EntryView): void {
    const from = entry.allFieldSpans;
    if (from === undefined) return this.#unknownSpans();
    const spans = this.#spansFor(this.count);
    const at = this.count * FIELD_SPANS_STRIDE;
    const shift = this.#used - entry.start;
    for (let k = 0; k < FIELD_SPANS_STRIDE - 1; k++) {
      const v = from[k]!;
      spans[at + k] = v >= 0 ? v + shift : v;
    }
    spans[at + FIELD_SPANS_STRIDE - 1] = entry.escapedFields;
  }

  #unknownSpans(): void {
    this.#spansFor(this.count)[this.count * FIELD_SPANS_STRIDE] = SPANS_UNKNOWN;
  }

  /** The spans array with room for entry `e`. */
  #spansFor(e: number): Int32Array {
    const spans = this.#spans!;
    if ((e + 1) * FIELD_SPANS_STRIDE <= spans.length) return spans;
    const bigger = new Int32Array(spans.length * 2);
    bigger.set(spans);
    return (this.#spans = bigger);
  }

  #reserve(n: number): void {
    const needed = this.#used + n;
    if (needed <= this.#buf.length) return;
    const size = Math.max(this.#buf.length * 2, needed, this.#firstGrowth);
    this.#firstGrowth = 0;
    const bigger = this.#pool === undefined ? Buffer.allocUnsafeSlow(size) : this.#pool.take(needed, size);
    this.#buf.copy(bigger, 0, 0, this.#used);
    this.#pool?.give(this.#buf);
    this.#buf = bigger;
  }
}

/** A batch of the given entries (tests, splits, spool replay). */
export function makeBatch(id: number, partition: string, entries: readonly LogEntry[], key = `batch-${id}`): Batch {
  let size = 0;
  for (const e of entries) size += e.line.length * 3 + 1;
  const writer = new NdjsonWriter(size);
  for (const e of entries) writer.append(e);
  return { id, key, partition, ndjson: writer.finish(), count: writer.count, bytes: writer.lineBytes, receivedAtMs: entries[0]?.receivedAtMs ?? Date.now() };
}

/** A batch from lines that are already single-line JSON (spool replay). */
export function batchFromLines(id: number, partition: string, lines: readonly string[], receivedAtMs: number = Date.now(), key = `batch-${id}`, replay = false): Batch {
  const ndjson = Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8');
  return { id, key, partition, ndjson, count: lines.length, bytes: ndjson.length - lines.length, receivedAtMs, ...(replay ? { replay } : {}) };
}

/** The batch's lines as strings (the spool's record format). */
export function batchLines(batch: Batch): string[] {
  if (batch.count === 0) return [];
  return batch.ndjson.toString('utf8', 0, batch.ndjson.length - 1).split('\n');
}

/** Calls `each(start, end)` for every line's byte range in the batch's NDJSON. */
export function forEachLine(batch: Batch, each: (start: number, end: number) => void): void {
  const ndjson = batch.ndjson;
  let start = 0;
  while (start < ndjson.length) {
    let end = ndjson.indexOf(NEWLINE, start);
    if (end === -1) end = ndjson.length;
    each(start, end);
    start = end + 1;
  }
}

/**
 * The batch's entries with their fields, parsed once (for sinks that label or route by
 * field, e.g. Loki). Lines were written by the intake, so they are good Fly lines. An
 * entry's own receive time is not kept: the batch's first one stands in for all.
 */
export function batchEntries(batch: Batch): LogEntry[] {
  const entries: LogEntry[] = [];
  const view = new EntryView();
  forEachLine(batch, (start, end) => {
    const entry = readEntry(batch, start, end, view);
    if (entry !== undefined) entries.push(entry);
  });
  return entries;
}

/** The batch's first entry (object names use its time), or undefined for an empty batch. */
export function firstEntry(batch: Batch): LogEntry | undefined {
  if (batch.count === 0) return undefined;
  const end = batch.ndjson.indexOf(NEWLINE);
  return readEntry(batch, 0, end === -1 ? batch.ndjson.length : end, new EntryView());
}

/** The entry on line `[start, end)` of the batch, with the batch's receive time (undefined for an empty line). */
export function readEntry(batch: Batch, start: number, end: number, view: EntryView): LogEntry | undefined {
  return intake(NO_SUBJECT, batch.ndjson, start, end, batch.receivedAtMs, view) === 'empty_payload' ? undefined : view.toEntry();
}

/**
 * Splits a batch into halves by entry count (the first gets the extra one). Needs at least
 * two entries. The cut and the halves' keys depend on the batch alone, so a replayed batch
 * that is split again names its halves as before.
 */
export function splitBatch(batch: Batch, firstId: number, secondId: number): [Batch, Batch] {
  const firstCount = Math.ceil(batch.count / 2);
  const ndjson = batch.ndjson;
  let cut = 0;
  for (let i = 0; i < firstCount; i++) cut = ndjson.indexOf(NEWLINE, cut) + 1;
  const head = ndjson.subarray(0, cut);
  const tail = ndjson.subarray(cut);
  return [
    { ...batch, id: firstId, key: `${batch.key}-h1`, ndjson: head, count: firstCount, bytes: head.length - firstCount },
    { ...batch, id: secondId, key: `${batch.key}-h2`, ndjson: tail, count: batch.count - firstCount, bytes: tail.length - (batch.count - firstCount) },
  ];
}
