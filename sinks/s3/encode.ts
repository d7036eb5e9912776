// A batch as one gzip NDJSON object, and its SHA-256 for SigV4. Deflate and the digest run
// in libuv's thread pool (zlib stream, WebCrypto), so a 4 MiB object (30–40 MiB of lines)
// does not stall the event loop; the main thread only copies line bytes into chunks.
import { webcrypto } from 'node:crypto';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createGzip, type ZlibOptions } from 'node:zlib';
import type { LogEntry } from '../../src/entry.js';

// Lines are copied straight into buffers of this size (no joined string, no per-line
// Buffer) and zlib answers in output chunks of the same size: a 4 MiB object takes a handful
// of main-thread callbacks instead of hundreds with zlib's default 16 KiB. At most two
// chunks wait in zlib and one is being filled, so no copy of the whole uncompressed batch
// is ever made: encoding a 65 MiB batch raised peak RSS by 18 MiB (97 MiB with the previous
// string-building encoder).
const CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * Default gzip level, chosen by measurement: this encoder on the benchmark's entries
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

/** One entry's `line` per line, each ending in `\n`, gzip-compressed (one gzip member). */
export async function gzipNdjson(entries: readonly LogEntry[], level = DEFAULT_S3_COMPRESSION_LEVEL): Promise<Buffer> {
  // Two chunks queued before write() asks to wait: one compresses while the next is filled.
  // zlib passes stream options on to its Transform; its typings just do not list them.
  const options: ZlibOptions & { writableHighWaterMark: number } = { level, memLevel: 9, chunkSize: CHUNK_BYTES, writableHighWaterMark: 2 * CHUNK_BYTES };
  const gz = createGzip(options);
  const parts: Buffer[] = [];
  let size = 0;
  gz.on('data', (part: Buffer) => {
    parts.push(part);
    size += part.length;
  });
  const done = finished(gz);
  // A zlib error while waiting for 'drain' rejects that wait too; `done` is awaited below.
  done.catch(() => undefined);

  // Chunks handed to zlib and not yet known to be consumed; after 'drain' all of them are.
  const queued: Buffer[] = [];
  const spare: Buffer[] = [];
  let chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let offset = 0;

  const write = async (data: Buffer, reusable: Buffer | undefined): Promise<void> => {
    // A stream that failed between two waits would never emit 'drain'.
    if (gz.errored !== null) throw gz.errored;
    if (reusable !== undefined) queued.push(reusable);
    if (gz.write(data)) return;
    await once(gz, 'drain');
    for (const b of queued) spare.push(b);
    queued.length = 0;
  };
  const flush = async (): Promise<void> => {
    const full = chunk.subarray(0, offset);
    const filled = chunk;
    chunk = spare.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
    offset = 0;
    await write(full, filled);
  };

  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const line = entry.line;
    if (entry.bytes + 1 > CHUNK_BYTES - offset) {
      if (offset > 0) await flush();
      if (entry.bytes + 1 > CHUNK_BYTES) {
        await write(Buffer.from(`${line}\n`, 'utf8'), undefined);
        continue;
      }
    }
    const written = chunk.write(line, offset, 'utf8');
    if (written === entry.bytes) {
      offset += written;
      chunk[offset++] = NEWLINE;
      continue;
    }
    // `bytes` was wrong (entries are built to make this impossible): the line may have been
    // cut at the chunk's end, so it is written on its own from its real bytes.
    if (offset > 0) await flush();
    await write(Buffer.from(`${line}\n`, 'utf8'), undefined);
  }
  gz.end(offset > 0 ? chunk.subarray(0, offset) : undefined);
  await done;
  return Buffer.concat(parts, size);
}

export async function sha256Hex(body: Uint8Array): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-256', body);
  return Buffer.from(digest).toString('hex');
}
