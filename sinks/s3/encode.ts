// A batch as one gzip NDJSON object (or zstd, or plain: S3_COMPRESSION), its SHA-256 for
// SigV4 and its MD5 for Content-MD5. Compression runs in libuv's thread pool, so a 4 MiB
// object (12–40 MiB of lines) does not stall the event loop; the digests of the (compressed)
// object take a few milliseconds at most. The batch already is NDJSON bytes: nothing is copied first.
import { createHash } from 'node:crypto';
import { gzip } from '../../src/codec/compress.js';
import type { Batch } from '../../src/pipeline/sink.js';
import type { DefaultLevels } from '../shared/compression.js';

/**
 * Default levels, by measurement (`npm run bench:codecs`, docs/ARCHITECTURE.md
 * "Compression"): gzip 1 and 3 cost the same CPU (~5.6 ms per MB of the benchmark's mix,
 * ~1.7 ms on typical lines) and 3 makes slightly smaller objects; 6 costs 1.5–2.2× the CPU
 * for objects 4–19 % smaller. zstd 1 costs a quarter to half of gzip 3's CPU and makes
 * objects 5–16 % smaller; zstd 3 cost ~15 % more CPU than 1 for no smaller objects on these logs.
 */
export const DEFAULT_S3_LEVELS: DefaultLevels = { gzip: 3, zstd: 1 };

/** The gzip default (the default codec's). */
export const DEFAULT_S3_COMPRESSION_LEVEL = DEFAULT_S3_LEVELS.gzip;

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
