// Snappy push bodies in reused buffers (src/body-pool.ts): a push body is compressed
// (snappy-block.ts) into a pooled buffer, and the core hands it back once Loki accepted the
// push. At full speed a fresh buffer per push was megabytes a second of garbage that V8
// does not hurry to collect (native snappy's output measured a 165 MiB peak RSS in the
// benchmark). A push that failed keeps its buffer (it may be retried); the GC takes it in the end.
import { lendBody, takeBodyBuffer } from '../../src/pipeline/body-pool.js';
import { maxCompressedLength, snappyCompress } from './snappy-block.js';

/** The snappy (block format) of `body`, in a pooled buffer, lent out until the core's releaseBody. */
export function snappyBody(body: Uint8Array): Buffer {
  const need = maxCompressedLength(body.length);
  // A little room over this body's worst case, so the next, slightly larger one fits too.
  const out = takeBodyBuffer(need, need + (need >>> 3));
  const compressed = out.subarray(0, snappyCompress(body, out));
  lendBody(compressed);
  return compressed;
}
