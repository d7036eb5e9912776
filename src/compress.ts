// One gzip member per request body, compressed on libuv's thread pool so the event loop
// keeps taking messages. Shared by the sinks that compress (HTTP, S3, file, Loki).
//
// zlib.gzip() builds a new zlib stream per call (~0.5 MB of deflate state) and copies its
// output chunks into one more buffer at the end. At full speed that was ~2.5 bytes of
// short-lived external memory per compressed byte, and V8 counts external memory towards
// its next full GC: it ran one every ~10 MB. Here a few zlib streams are kept and reset
// between bodies, and a body comes back as a view of zlib's own output buffer whenever it
// lies in one piece there (it nearly always does): ~1 byte allocated per compressed byte.
import { constants, createGzip, type Gzip, type ZlibReset } from 'node:zlib';

const MIN_OUTPUT_CHUNK = 256 * 1024;
const MAX_OUTPUT_CHUNK = 4 * 1024 * 1024;

/**
 * zlib's output buffer size for a body: the power of two at or above ¾ of the body, from
 * 256 KiB to 4 MiB. A compressed body is usually well under a third of its size, so a few
 * fit in one buffer and few straddle two (one that does is copied into one piece). Not
 * larger: a slowly filled buffer's written pages stay resident until the GC frees it whole.
 */
function outputChunkFor(bodyBytes: number): number {
  let chunk = MIN_OUTPUT_CHUNK;
  while (chunk < MAX_OUTPUT_CHUNK && chunk < bodyBytes * 0.75) chunk *= 2;
  return chunk;
}

/**
 * Idle streams kept, whatever their level and output size: each holds its deflate state
 * (~0.5 MB with memLevel 9) and the rest of its output buffer. About as many as sinks
 * compress at once (each sink's max in flight is 4 by default): a stream made per body
 * would allocate a new output buffer each time. Past it, the least recently used goes.
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
  readonly outputChunk: number;

  constructor(level: number, outputChunk: number) {
    this.level = level;
    this.outputChunk = outputChunk;
    // memLevel 9 (a hash table twice as large) measured ~15 % faster than the default 8 on log lines.
    this.#stream = createGzip({ level, memLevel: 9, chunkSize: outputChunk }) as Gzip & ZlibReset;
    this.#stream.on('data', (chunk: Buffer) => {
      this.#add(chunk);
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

  /** Consecutive slices of one output buffer are joined as a view, not copied. */
  #add(chunk: Buffer): void {
    const last = this.#chunks.at(-1);
    if (last !== undefined && last.buffer === chunk.buffer && last.byteOffset + last.length === chunk.byteOffset) {
      this.#chunks[this.#chunks.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + chunk.length);
    } else {
      this.#chunks.push(chunk);
    }
  }

  /** Done once the finishing flush has run and every chunk it produced has been seen. */
  #settleIfDone(): void {
    if (!this.#finished || this.#stream.readableLength > 0 || this.#resolve === undefined) return;
    const chunks = this.#chunks;
    const resolve = this.#resolve;
    this.#clear();
    this.#stream.reset();
    resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  #clear(): void {
    this.#chunks = [];
    this.#finished = false;
    this.#resolve = undefined;
    this.#reject = undefined;
  }
}

// Idle streams, least recently used first.
const idle: MemberCompressor[] = [];

/** The most recently used idle stream of this level and output size, taken out of the list. */
function takeIdle(level: number, outputChunk: number): MemberCompressor | undefined {
  for (let i = idle.length - 1; i >= 0; i--) {
    const c = idle[i]!;
    if (c.broken) {
      // Failed while idle (it should not): never handed out again.
      idle.splice(i, 1);
      c.close();
    } else if (c.level === level && c.outputChunk === outputChunk) {
      idle.splice(i, 1);
      return c;
    }
  }
  return undefined;
}

/**
 * The body as one gzip member. Deterministic (no name, mtime 0), the same bytes as
 * zlib.gzip with these options. The result may be a view of a larger buffer (zlib's
 * output buffer, shared with other bodies): it is never written to again.
 */
export async function gzip(body: Uint8Array, level: number): Promise<Buffer> {
  const outputChunk = outputChunkFor(body.length);
  const compressor = takeIdle(level, outputChunk) ?? new MemberCompressor(level, outputChunk);
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
