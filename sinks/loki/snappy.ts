// Snappy push bodies in reused buffers. A push body is compressed (snappy-block.ts) into a
// buffer from a small pool, and the sink hands the buffer back once Loki accepted the push:
// at full speed a fresh buffer per push was megabytes a second of garbage that V8 does not
// hurry to collect (native snappy's output measured a 165 MiB peak RSS in the benchmark).
// A push that failed keeps its buffer (it may be retried); the GC takes it in the end.
import { SlabPool } from '../../src/batch.js';
import { maxCompressedLength, snappyCompress } from './snappy-block.js';

// About as many buffers as pushes in flight at once (the default max in flight is 4); a
// push of 1 MiB of lines needs ~1.3 MB at worst.
const pool = new SlabPool(16 * 1024 * 1024, 4);

/** The snappy (block format) of `body`, in a pooled buffer; give it back with releaseSnappyBody once nothing reads it. */
export function snappyBody(body: Uint8Array): Buffer {
  const need = maxCompressedLength(body.length);
  // A little room over this body's worst case, so the next, slightly larger one fits too.
  const out = pool.take(need, need + (need >>> 3));
  const compressed = out.subarray(0, snappyCompress(body, out));
  pool.lend(compressed);
  return compressed;
}

/** Takes back a body's buffer (Loki accepted the push: nothing reads it any more). Anything else is ignored. */
export function releaseSnappyBody(body: Uint8Array): void {
  pool.giveBack(body);
}
