// The buffer a push body is written into: grown as needed, taken from a small pool of
// reused buffers (push bodies are megabytes; each fresh one is external memory V8 counts
// towards its next full GC).
import { SlabPool } from '../../src/pipeline/batch.js';

// Push bodies are megabytes: a few buffers are kept for reuse rather than allocated per
// batch (each fresh one is external memory V8 counts towards its next full GC). One per
// batch the pipeline encodes at once (its default max in flight).
const pushBuffers = new SlabPool(16 * 1024 * 1024, 4);

/** Hands a body's buffer back for reuse once nothing reads it any more (it is compressed). Call once per body. */
export function releasePushBuffer(body: Buffer): void {
  // Out's buffers are whole ArrayBuffers of their own (allocUnsafeSlow), never slices of Node's pool.
  pushBuffers.give(Buffer.from(body.buffer, 0, body.buffer.byteLength));
}

/** A growing output buffer; bodies are written straight into it, never built as one string first. */
export class Out {
  buf: Buffer;
  pos = 0;
  /** `pooled`: a push body's buffer, from the pool (give it back with releasePushBuffer); else scratch of its own. */
  constructor(size: number, pooled = true) {
    this.buf = pooled ? pushBuffers.take(size, Math.max(size, 256)) : Buffer.allocUnsafeSlow(Math.max(size, 256));
  }
  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
  /** Any string; UTF-8 is at most 3 bytes per UTF-16 unit. */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
}

