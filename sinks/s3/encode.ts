// A batch as one gzip NDJSON object, its SHA-256 for SigV4 and its MD5 for Content-MD5. Deflate runs in libuv's
// thread pool, so a 4 MiB object (12–40 MiB of lines) does not stall the event loop; the
// digest of the (compressed) object takes a few milliseconds at most. The batch already is
// NDJSON bytes: nothing is copied first.
import { createHash } from 'node:crypto';
import { gzip } from '../../src/codec/compress.js';
import type { Batch } from '../../src/pipeline/sink.js';

/**
 * Default gzip level. Levels 1–3 now go to the native encoder (src/compress.ts), which has
 * one setting: ~0.34 of the input on the benchmark's mix (zlib level 3: 0.33) for ~35–45 %
 * less CPU, its check included. The choice of 3 was made earlier between zlib's levels, on the
 * benchmark's entries
 * (test/support/fly-entries.ts), process CPU time including the line copying, best of four
 * passes, Node 24 on a shared 2-core Xeon:
 *
 * | level | typical lines (38.9 MiB): ratio, CPU | with random 8 KiB lines (29.2 MiB): ratio, CPU |
 * |---:|---|---|
 * | 1 | 0.095, 243 ms | 0.328, 384 ms |
 * | 2 | 0.093, 251 ms | 0.327, 386 ms |
 * | 3 | 0.092, 236 ms | 0.326, 393 ms |
 * | 6 | 0.077, 382 ms | 0.314, 502 ms |
 *
 * Levels 1–3 (zlib's fast strategy) cost the same, 20–40 % less than 6, for objects 4–20 %
 * larger; 3 has the best ratio of the three. (The previous encoder, 16 KiB zlib chunks at
 * level 6, took 685 ms on the second corpus.) memLevel 9 (a hash table twice as large,
 * +256 KiB per stream) compressed the second corpus 15–25 % faster at levels 1 and 3 (62 →
 * 79 MiB/s at 3, gzipSync, best of five) with the same ratio, and made no difference on
 * typical lines.
 */
export const DEFAULT_S3_COMPRESSION_LEVEL = 3;

/** The batch's NDJSON (one line per entry, each ending in `\n`), gzip-compressed (one gzip member). */
export function gzipNdjson(batch: Batch, level = DEFAULT_S3_COMPRESSION_LEVEL): Promise<Buffer> {
  return gzip(batch.ndjson, level);
}

/**
 * On the event loop, on purpose: ~0.6 ms per MiB of body (SHA-NI), while WebCrypto's
 * digest first copies the body into fresh memory (a page fault per 4 KiB), which cost five
 * times the hashing itself in the benchmark.
 */
export function sha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** Base64 MD5 of the body, for Content-MD5: the store checks the body against it (and Object Lock buckets require it). */
export function md5Base64(body: Uint8Array): string {
  return createHash('md5').update(body).digest('base64');
}
