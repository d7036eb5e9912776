// The native gzip encoder (native/, built by `npm ci` through node-gyp): ~35–45 % less CPU
// per body than zlib level 3, each member checked by inflating it back (native/gzip.c).
// Loaded once; when the addon is missing (not built), compress.ts uses zlib and main.ts says so.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface NativeGzip {
  /** Compresses `input` into `output` as one gzip member on libuv's pool; resolves with its length. Rejects with an Error whose `code` is ERR_GZIP_CAPACITY (output too small), ERR_GZIP_VERIFY, ERR_GZIP_NOMEM or ERR_GZIP_TOO_LARGE. */
  gzipInto(input: Uint8Array, output: Uint8Array): Promise<number>;
  /** Output room that always suffices for `n` input bytes. */
  gzipBound(n: number): number;
  /** Whether `member` inflates back to exactly `input` (the check gzipInto runs; exposed for tests). */
  checkMember(input: Uint8Array, member: Uint8Array): boolean;
  /** The Huffman code lengths the encoder would use for these symbol counts (exposed for tests). */
  codeLengths(freqs: Uint32Array, maxBits: number): Uint8Array;
}

export interface NativeGzipLoad {
  readonly encoder: NativeGzip | undefined;
  /** Why it is missing, for the start-up log. */
  readonly error?: string;
}

const ADDON = 'build/Release/logferry_native.node';

/** The addon from the package root: one level up from src/ (tests), two from dist/src/. */
export function loadNativeGzip(): NativeGzipLoad {
  const require = createRequire(import.meta.url);
  for (const up of ['../../', '../../../']) {
    const path = fileURLToPath(new URL(up + ADDON, import.meta.url));
    if (!existsSync(path)) continue;
    try {
      return { encoder: require(path) as NativeGzip };
    } catch (error) {
      return { encoder: undefined, error: `${path}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return { encoder: undefined, error: `${ADDON} is not built (npm ci builds it with node-gyp: python3, make and a C compiler)` };
}
