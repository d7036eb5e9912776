// One gzip member from a whole request body, compressed on libuv's thread pool so the
// event loop keeps taking messages. Shared by the sinks that compress (HTTP, S3, file, Loki).
import { gzip as gzipCallback, type ZlibOptions } from 'node:zlib';

const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 4 * 1024 * 1024;

/**
 * Deterministic (no name, mtime 0). zlib hands its output back to the main thread one
 * `chunkSize` at a time; its default 16 KiB meant ~100 main-thread callbacks per 4 MiB
 * batch (7 % of the agent's main-thread time in the benchmark profile), so the chunk is
 * sized to hold about the whole compressed body. memLevel 9 (a hash table twice as large,
 * +256 KiB while compressing) measured ~15 % faster than the default 8 on log lines.
 */
export function gzip(body: Uint8Array, level: number): Promise<Buffer> {
  const chunkSize = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.ceil(body.length / 3)));
  const options: ZlibOptions = { level, memLevel: 9, chunkSize };
  return new Promise((resolve, reject) => {
    gzipCallback(body, options, (error, result) => (error === null ? resolve(result) : reject(error)));
  });
}
