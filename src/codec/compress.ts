// One gzip member per request body, compressed on libuv's thread pool so the event loop
// keeps taking messages. Shared by the sinks that compress (HTTP, S3, file, Loki).
//
// Levels 1–3 go to the native encoder (native-gzip.ts) when it is built and not turned off
// (GZIP_ENCODER=zlib): ~35–45 % less CPU per body than zlib level 3 (its check included),
// for bodies ~2–3 % larger (npm run bench:gzip). It writes straight into a pooled body.
// Higher levels, and any body the native encoder fails on, go to zlib.
//
// For zlib: zlib.gzip() builds a new zlib stream per call (~0.5 MB of deflate state) and copies its
// output chunks into one more buffer at the end. Here a few zlib streams are kept and
// reset between bodies. zlib writes into small output chunks (malloc'd from the heap and
// soon reused there); the body is then copied once into a pooled buffer (body-pool.ts)
// that comes back when the sink acknowledged it. Large fresh output buffers cost a page
// fault per 4 KiB written, which measured dearer than compressing the page.
import { constants, createGzip, type Gzip, type ZlibReset } from 'node:zlib';
import { lendBody, returnBodyBuffer, takeBodyBuffer } from '../pipeline/body-pool.js';
import { loadNativeGzip, type NativeGzip } from './native-gzip.js';

// Below glibc's mmap threshold (the Dockerfile sets 256 KiB), so freed chunks are reused
// from the heap instead of being unmapped and faulted in again.
const OUTPUT_CHUNK = 240 * 1024;

/**
 * Idle streams kept, whatever their level: each holds its deflate state (~0.5 MB with
 * memLevel 9). About as many as sinks compress at once (each sink's max in flight is 4
 * by default). Past it, the least recently used goes.
 */
const MAX_IDLE = 6;

/** A gzip stream that writes one member per body, then resets for the next. */
class MemberCompressor {
  // Node documents reset() for the deflate family; @types/node leaves it off Gzip.
  readonly #stream: Gzip & ZlibReset;
  #chunks: Buffer[] = [];
  #finished = false;
  #resolve: ((body: Buffer) => void) | undefined;
  #reject: ((error: Error) => void) | undefined;
  /** The stream failed: it must not be used again. */
  broken = false;

  readonly level: number;

  constructor(level: number) {
    this.level = level;
    // memLevel 9 (a hash table twice as large) measured ~15 % faster than the default 8 on log lines.
    this.#stream = createGzip({ level, memLevel: 9, chunkSize: OUTPUT_CHUNK }) as Gzip & ZlibReset;
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
      // Z_FINISH ends the member (trailer included) without ending the stream.
      this.#stream.flush(constants.Z_FINISH, () => {
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
  const body = out.subarray(0, total);
  lendBody(body);
  return body;
}

// Idle streams, least recently used first.
const idle: MemberCompressor[] = [];

/** The most recently used idle stream of this level, taken out of the list. */
function takeIdle(level: number): MemberCompressor | undefined {
  for (let i = idle.length - 1; i >= 0; i--) {
    const c = idle[i]!;
    if (c.broken) {
      // Failed while idle (it should not): never handed out again.
      idle.splice(i, 1);
      c.close();
    } else if (c.level === level) {
      idle.splice(i, 1);
      return c;
    }
  }
  return undefined;
}

/** Levels up to this use the native encoder; above it, zlib's slower, smaller output is what was asked for. */
export const NATIVE_MAX_LEVEL = 3;

const nativeLoad = loadNativeGzip();
let native: NativeGzip | undefined = nativeLoad.encoder;

/** Bodies the native encoder did not make, by its error code; zlib made them instead. */
export const gzipFallbacks = new Map<string, number>();
let onFallback: ((code: string, error: Error) => void) | undefined;

/** Which encoder levels 1–3 use now, and why the native one is missing when it is. */
export function gzipEncoderInfo(): { readonly encoder: 'native' | 'zlib'; readonly unavailable?: string } {
  if (native !== undefined) return { encoder: 'native' };
  return nativeLoad.error === undefined ? { encoder: 'zlib' } : { encoder: 'zlib', unavailable: nativeLoad.error };
}

/**
 * `zlib`: every body through zlib (GZIP_ENCODER=zlib). `native`: the native encoder when it
 * loaded. Tests pass an encoder of their own. `onFailure` hears of each fallback (main logs it, throttled).
 */
export function useGzipEncoder(choice: 'native' | 'zlib' | NativeGzip, onFailure?: (code: string, error: Error) => void): void {
  native = choice === 'zlib' ? undefined : choice === 'native' ? nativeLoad.encoder : choice;
  onFallback = onFailure;
}

// Most bodies of log lines fit half their input; one that does not (incompressible text)
// is tried again with room for the worst case, rather than every body taking that room.
function firstRoom(encoder: NativeGzip, n: number): number {
  return Math.min(encoder.gzipBound(n), (n >>> 1) + 64 * 1024);
}

async function nativeGzip(encoder: NativeGzip, body: Uint8Array): Promise<Buffer | undefined> {
  let room = firstRoom(encoder, body.length);
  for (;;) {
    const out = takeBodyBuffer(room, room);
    let length: number;
    try {
      length = await encoder.gzipInto(body, out);
    } catch (error) {
      returnBodyBuffer(out);
      const code = (error as { code?: unknown }).code;
      const bound = encoder.gzipBound(body.length);
      if (code === 'ERR_GZIP_CAPACITY' && room < bound) {
        room = bound;
        continue;
      }
      const reason = typeof code === 'string' ? code : 'ERR_GZIP';
      gzipFallbacks.set(reason, (gzipFallbacks.get(reason) ?? 0) + 1);
      onFallback?.(reason, error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
    const zipped = out.subarray(0, length);
    lendBody(zipped);
    return zipped;
  }
}

/**
 * The body as one gzip member, deterministic (no name, mtime 0). Above level 3 (or with
 * zlib chosen) the same bytes as zlib.gzip with these options. The result is a view of a
 * pooled buffer, lent out: the core gives it back (releaseBody) once the sink acknowledged it.
 */
export async function gzip(body: Uint8Array, level: number): Promise<Buffer> {
  if (level <= NATIVE_MAX_LEVEL && native !== undefined) {
    const zipped = await nativeGzip(native, body);
    if (zipped !== undefined) return zipped;
  }
  const compressor = takeIdle(level) ?? new MemberCompressor(level);
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
