// Snappy (block format, as Loki's protobuf push expects) from the `snappy` package's native
// binding, loaded on first use: a platform without a prebuilt binding must still start, and
// then ships JSON + gzip instead (the sink decides; this only says whether it loaded).
import { createRequire } from 'node:module';
import { LogferryError, errorMessage } from '../../src/errors.js';

/** The one call the push needs: raw snappy of a whole body. */
export interface SnappyCodec {
  compressSync(input: Buffer, options?: { copyOutputData?: boolean }): Buffer;
}

/**
 * Always pass this: by default the output is an external buffer V8 does not count, so GC
 * lets them pile up (measured: 972 MiB RSS for 600 compressions of 1.2 MB, 90 MiB copied,
 * and the copy was faster too).
 */
export const COPY_OUTPUT = { copyOutputData: true } as const;

/** Loads the codec; throws when the native binding cannot be loaded. Injectable for tests. */
export type SnappyLoader = () => SnappyCodec;

/** The native snappy binding could not be loaded on this platform. */
export class SnappyUnavailableError extends LogferryError {
  constructor(cause: unknown) {
    super('LOKI_SNAPPY_UNAVAILABLE', `snappy could not be loaded (${errorMessage(cause)})`, { cause });
  }
}

const require = createRequire(import.meta.url);

export const loadNativeSnappy: SnappyLoader = () => {
  const mod = require('snappy') as Partial<SnappyCodec>;
  if (typeof mod.compressSync !== 'function') throw new Error('the snappy module has no compressSync');
  return mod as SnappyCodec;
};

let native: SnappyCodec | SnappyUnavailableError | undefined;

/** The codec, or the reason it is unavailable. The native one is loaded once per process. */
export function snappyCodec(loader: SnappyLoader = loadNativeSnappy): SnappyCodec | SnappyUnavailableError {
  if (loader === loadNativeSnappy && native !== undefined) return native;
  let result: SnappyCodec | SnappyUnavailableError;
  try {
    result = loader();
  } catch (error) {
    result = new SnappyUnavailableError(error);
  }
  if (loader === loadNativeSnappy) native = result;
  return result;
}
