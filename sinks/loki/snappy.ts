// Snappy push bodies in reused buffers (src/pipeline/body-pool.ts): snappyjs (pure JS, the
// block format Loki's protobuf push expects) compresses a push body into a pooled buffer,
// and the core hands it back once Loki accepted the push. A fresh buffer per push was
// megabytes a second of garbage that V8 does not hurry to collect. A push that failed keeps
// its buffer (it may be retried); the GC takes it in the end.
import { createRequire } from 'node:module';
import { lendBody, takeBodyBuffer } from '../../src/pipeline/body-pool.js';

interface SnappyCompressorClass {
  new (input: Uint8Array): { maxCompressedLength(): number; compressToBuffer(out: Uint8Array): number };
}
// snappyjs's own compressor class: its compress() allocates a zero-filled output per call,
// the class writes into a buffer we own.
const { SnappyCompressor } = createRequire(import.meta.url)('snappyjs/snappy_compressor.js') as { SnappyCompressor: SnappyCompressorClass };

/** The snappy (block format) of `body`, in a pooled buffer, lent out until the core's releaseBody. */
export function snappyBody(body: Uint8Array): Buffer {
  const compressor = new SnappyCompressor(body);
  const need = compressor.maxCompressedLength();
  // A little room over this body's worst case, so the next, slightly larger one fits too.
  const out = takeBodyBuffer(need, need + (need >>> 3));
  const compressed = out.subarray(0, compressor.compressToBuffer(out));
  lendBody(compressed);
  return compressed;
}
