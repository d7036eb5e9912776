// A batch as one gzip NDJSON object, and its SHA-256 for SigV4. Both run in libuv's thread
// pool (zlib stream, WebCrypto digest), so an 8 MiB object does not stall the event loop.
import { webcrypto } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { LogEntry } from '../../src/entry.js';

// Lines go to zlib in chunks of about this many characters: few enough writes to be cheap,
// small enough that no copy of the whole uncompressed batch (often 50+ MiB) is ever made.
const CHUNK_CHARS = 256 * 1024;

function* ndjsonChunks(entries: readonly LogEntry[]): Generator<Buffer> {
  let pending = '';
  for (const entry of entries) {
    pending += entry.line;
    pending += '\n';
    if (pending.length >= CHUNK_CHARS) {
      yield Buffer.from(pending, 'utf8');
      pending = '';
    }
  }
  if (pending !== '') yield Buffer.from(pending, 'utf8');
}

/** One entry's `line` per line, each ending in `\n`, gzip-compressed. */
export async function gzipNdjson(entries: readonly LogEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  await pipeline(Readable.from(ndjsonChunks(entries)), createGzip(), async (compressed: AsyncIterable<Buffer>) => {
    for await (const part of compressed) {
      parts.push(part);
      size += part.length;
    }
  });
  return Buffer.concat(parts, size);
}

export async function sha256Hex(body: Uint8Array): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-256', body);
  return Buffer.from(digest).toString('hex');
}
