// Request bodies (compressed batches) in reused buffers. Encoders that build a body in
// memory take its buffer here and lend the body out; the core gives it back once the sink
// acknowledged the batch (nothing reads it any more). A fresh multi-megabyte buffer per
// body costs a page fault per 4 KiB written (measured ~13 µs each on the benchmark's
// shared VM: more than compressing the page) and is external memory V8 collects late. A
// body that failed, was split or dropped is not given back: the GC takes it.
import { SlabPool } from './batch.js';

// About as many bodies as are in flight at once (each sink's default max in flight is 4;
// HTTP and Loki bodies are ~1 MiB, S3's up to 4 MiB; the batches in flight hold at most half
// the memory budget, a few MiB of bodies once compressed).
const pool = new SlabPool(12 * 1024 * 1024, 8);

/** A buffer of at least `min` bytes for a body, `preferred` when one has to be made. */
export function takeBodyBuffer(min: number, preferred: number): Buffer {
  return pool.take(min, preferred);
}

/** Gives back a buffer from takeBodyBuffer that was never lent out (its body was not made). */
export function returnBodyBuffer(buffer: Buffer): void {
  pool.give(buffer);
}

/** Marks `body` (a view at the start of a buffer from takeBodyBuffer) as lent out until releaseBody. */
export function lendBody(body: Uint8Array): void {
  pool.lend(body);
}

/** Takes back an acknowledged body's buffer; anything not lent by lendBody is ignored (plain batches, failed bodies already given back). */
export function releaseBody(body: Uint8Array): void {
  pool.giveBack(body);
}
