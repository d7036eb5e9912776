// Request bodies compressed with node:zlib: one gzip member or one zstd frame per body
// (zstd: Node 24's built-in zstd). Shared by the sinks that compress (HTTP, S3, file, Loki).
// zlib streams do their work on libuv's thread pool, so the event loop keeps taking
// messages while a batch is compressed. Levels and their cost: docs/ARCHITECTURE.md
// ("Compression", measured with `npm run bench:codecs`).
//
// zlib.gzip()/zstdCompress() build a new stream per call (~0.5 MB of deflate state, a few MB
// of zstd context) and copy their output chunks into one more buffer at the end. Here a
// few streams are kept and reset between bodies. They write into small output chunks
// (malloc'd from the heap and soon reused there); the body is then copied once into a
// pooled buffer (body-pool.ts) that comes back when the sink acknowledged it. Large fresh
// output buffers cost a page fault per 4 KiB written, which measured dearer than
// compressing the page.
import { constants, createGzip, createZstdCompress, type Gzip, type ZlibReset, type ZstdCompress } from 'node:zlib';
import { freeNow } from '../pipeline/batch.js';
import { lendBody, takeBodyBuffer } from '../pipeline/body-pool.js';

/** The codecs a sink may compress with. */
export type Codec = 'gzip' | 'zstd';

/** Valid levels per codec (zstd's 20–22 need far more memory than a 256 MB VM should give one body). */
export const CODEC_LEVELS: Readonly<Record<Codec, { readonly min: number; readonly max: number }>> = {
  gzip: { min: 1, max: 9 },
  zstd: { min: 1, max: 19 },
};

/** What an object or file of each codec is called and announced as. */
export const CODEC_FILES: Readonly<Record<Codec | 'none', { readonly extension: string; readonly contentType: string }>> = {
  gzip: { extension: '.ndjson.gz', contentType: 'application/gzip' },
  // RFC 8878 registers application/zstd.
  zstd: { extension: '.ndjson.zst', contentType: 'application/zstd' },
  none: { extension: '.ndjson', contentType: 'application/x-ndjson' },
};

// Below glibc's mmap threshold (the Dockerfile sets 256 KiB), so freed chunks are reused
// from the heap instead of being unmapped and faulted in again.
const OUTPUT_CHUNK = 240 * 1024;

/**
 * Idle streams kept, whatever their codec and level: each holds its state (~0.5 MB of
 * deflate state with memLevel 9, a few MB of zstd context). About as many as sinks compress
 * at once (each sink's max in flight is 4 by default). Past it, the least recently used goes.
 */
const MAX_IDLE = 6;

type ResettableStream = (Gzip | ZstdCompress) & ZlibReset;

/** A compression stream that writes one gzip member (or zstd frame) per body, then resets for the next. */
class MemberCompressor {
  // Node documents reset() for every zlib stream; @types/node leaves it off Gzip and ZstdCompress.
  readonly #stream: ResettableStream;
  readonly #finish: number;
  #chunks: Buffer[] = [];
  #finished = false;
  #resolve: ((body: Buffer) => void) | undefined;
  #reject: ((error: Error) => void) | undefined;
  /** The stream failed: it must not be used again. */
  broken = false;

  readonly codec: Codec;
  readonly level: number;

  constructor(codec: Codec, level: number) {
    this.codec = codec;
    this.level = level;
    if (codec === 'gzip') {
      // memLevel 9 (a hash table twice as large) measured ~15 % faster than the default 8 on log lines.
      this.#stream = createGzip({ level, memLevel: 9, chunkSize: OUTPUT_CHUNK }) as ResettableStream;
      // Z_FINISH ends the member (trailer included) without ending the stream.
      this.#finish = constants.Z_FINISH;
    } else {
      this.#stream = createZstdCompress({ chunkSize: OUTPUT_CHUNK, params: { [constants.ZSTD_c_compressionLevel]: level } }) as ResettableStream;
      // ZSTD_e_end ends the frame (checksum-free, as zstd's default) without ending the stream.
      this.#finish = constants.ZSTD_e_end;
    }
    this.#stream.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#settleIfDone();
    });
    this.#stream.on('error', (error: Error) => {
      this.broken = true;
      const reject = this.#reject;
      this.#clear();
      reject?.(error);
    });
  }

  compress(body: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#finished = false;
      if (body.length > 0) this.#stream.write(body);
      this.#stream.flush(this.#finish, () => {
        this.#finished = true;
        this.#settleIfDone();
      });
    });
  }

  close(): void {
    this.#stream.destroy();
  }

  /** Done once the finishing flush has run and every chunk it produced has been seen. */
  #settleIfDone(): void {
    if (!this.#finished || this.#stream.readableLength > 0 || this.#resolve === undefined) return;
    const chunks = this.#chunks;
    const resolve = this.#resolve;
    this.#clear();
    this.#stream.reset();
    resolve(joinIntoPooledBody(chunks));
  }

  #clear(): void {
    this.#chunks = [];
    this.#finished = false;
    this.#resolve = undefined;
    this.#reject = undefined;
  }
}

/** The chunks copied into one pooled buffer, lent out as the body. */
function joinIntoPooledBody(chunks: readonly Buffer[]): Buffer {
  let total = 0;
  for (const c of chunks) total += c.length;
  // Some room over this body, so the next, slightly larger one fits the same buffer.
  const out = takeBodyBuffer(total, total + (total >>> 3));
  let at = 0;
  for (const c of chunks) at += c.copy(out, at);
  // The output chunks are garbage now, megabytes per body that the GC would free late. Each
  // full output buffer is freed at once; the last chunk's may still be the stream's.
  const last = chunks.at(-1)?.buffer;
  for (const c of chunks) if (c.buffer !== last) freeNow(c);
  const body = out.subarray(0, total);
  lendBody(body);
  return body;
}

// Idle streams, least recently used first.
const idle: MemberCompressor[] = [];

/** The most recently used idle stream of this codec and level, taken out of the list. */
function takeIdle(codec: Codec, level: number): MemberCompressor | undefined {
  for (let i = idle.length - 1; i >= 0; i--) {
    const c = idle[i]!;
    if (c.broken) {
      // Failed while idle (it should not): never handed out again.
      idle.splice(i, 1);
      c.close();
    } else if (c.codec === codec && c.level === level) {
      idle.splice(i, 1);
      return c;
    }
  }
  return undefined;
}

/**
 * The body as one gzip member (deterministic: no name, mtime 0; the same bytes as
 * zlib.gzipSync with level and memLevel 9) or one zstd frame (deterministic; streamed, so
 * its header carries no content size, unlike zlib.zstdCompressSync's). The result is a view of a pooled buffer, lent out:
 * the core gives it back (releaseBody) once the sink acknowledged it.
 */
export async function compress(codec: Codec, body: Uint8Array, level: number): Promise<Buffer> {
  const compressor = takeIdle(codec, level) ?? new MemberCompressor(codec, level);
  try {
    return await compressor.compress(body);
  } finally {
    if (compressor.broken) {
      compressor.close();
    } else {
      idle.push(compressor);
      if (idle.length > MAX_IDLE) idle.shift()!.close();
    }
  }
}

/** compress('gzip', ...): one gzip member. */
export function gzip(body: Uint8Array, level: number): Promise<Buffer> {
  return compress('gzip', body, level);
}

/** compress('zstd', ...): one zstd frame. */
export function zstd(body: Uint8Array, level: number): Promise<Buffer> {
  return compress('zstd', body, level);
}
