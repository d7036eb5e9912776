// Snappy push bodies in reused buffers. A push body is compressed (snappy-block.ts) into a
// buffer from a small pool, and the sink hands the buffer back once Loki accepted the push:
// at full speed a fresh buffer per push was megabytes a second of garbage that V8 does not
// hurry to collect (native snappy's output measured a 165 MiB peak RSS in the benchmark).
// A push that failed keeps its buffer (it may be retried); the GC takes it in the end.
import { maxCompressedLength, snappyCompress } from './snappy-block.js';

/** Free buffers kept: about as many pushes as are in flight at once (the default max in flight is 4). */
const MAX_FREE = 4;
const free: Buffer[] = [];
// The memory of bodies handed out and not given back yet: only those may come back.
const lent = new WeakSet<ArrayBufferLike>();

/** The snappy (block format) of `body`, in a pooled buffer; give it back with releaseSnappyBody once nothing reads it. */
export function snappyBody(body: Uint8Array): Buffer {
  const need = maxCompressedLength(body.length);
  let out: Buffer | undefined;
  let pick = -1;
  // The smallest free buffer that is big enough.
  for (let i = 0; i < free.length; i++) if (free[i]!.length >= need && (pick < 0 || free[i]!.length < free[pick]!.length)) pick = i;
  if (pick >= 0) out = free.splice(pick, 1)[0];
  // A little room over this body's worst case, so the next, slightly larger one fits too.
  out ??= Buffer.allocUnsafeSlow(need + (need >>> 3));
  lent.add(out.buffer);
  return out.subarray(0, snappyCompress(body, out));
}

/** Takes back a body's buffer (Loki accepted the push: nothing reads it any more). Anything else is ignored. */
export function releaseSnappyBody(body: Uint8Array): void {
  if (!lent.delete(body.buffer)) return;
  const whole = Buffer.from(body.buffer, 0, body.buffer.byteLength);
  if (free.length < MAX_FREE) {
    free.push(whole);
    return;
  }
  // Full: keep the larger buffers, which fit more bodies.
  let smallest = 0;
  for (let i = 1; i < free.length; i++) if (free[i]!.length < free[smallest]!.length) smallest = i;
  if (free[smallest]!.length < whole.length) free[smallest] = whole;
}
