// How the archive sinks (s3, file) compress their NDJSON: `<PREFIX>_COMPRESSION`
// (gzip, zstd or none) and `<PREFIX>_COMPRESSION_LEVEL`, whose range and default depend on
// the codec. One reader for both, so the two sinks take the same values.
import type { EnvReader } from '../../src/config/env.js';
import { CODEC_FILES, CODEC_LEVELS, compress, type Codec } from '../../src/codec/compress.js';
import type { Batch } from '../../src/pipeline/sink.js';

export type ArchiveCompression = Codec | 'none';

export interface CompressionSetting {
  readonly codec: ArchiveCompression;
  /** The codec's level; 0 with `none`. */
  readonly level: number;
}

/** Default level per codec, chosen by measurement (docs/ARCHITECTURE.md, "Compression"). */
export type DefaultLevels = Readonly<Record<Codec, number>>;

export function readCompression(env: EnvReader, prefix: string, defaults: DefaultLevels, fallback: ArchiveCompression = 'gzip'): CompressionSetting {
  const codec = env.oneOf<ArchiveCompression>(`${prefix}_COMPRESSION`, ['gzip', 'zstd', 'none'], fallback);
  // A level given for `none` is left unread: nothing is compressed.
  if (codec === 'none') return { codec, level: 0 };
  const { min, max } = CODEC_LEVELS[codec];
  return { codec, level: env.int(`${prefix}_COMPRESSION_LEVEL`, defaults[codec], { min, max }) };
}

/** The file name ending of objects and files made with this setting. */
export function archiveExtension(setting: CompressionSetting): string {
  return CODEC_FILES[setting.codec].extension;
}

/** The Content-Type of an object made with this setting (stored bytes, no Content-Encoding). */
export function archiveContentType(setting: CompressionSetting): string {
  return CODEC_FILES[setting.codec].contentType;
}

/** `gzip level 3`, `zstd level 1`, `uncompressed`: for the start-up line. */
export function describeCompression(setting: CompressionSetting): string {
  return setting.codec === 'none' ? 'uncompressed' : `${setting.codec} level ${setting.level}`;
}

/**
 * The batch's NDJSON as one gzip member or zstd frame (off the main thread; a lent pooled
 * body), or the NDJSON itself with `none`.
 */
export function compressNdjson(batch: Batch, setting: CompressionSetting): Promise<Uint8Array> {
  return setting.codec === 'none' ? Promise.resolve(batch.ndjson) : compress(setting.codec, batch.ndjson, setting.level);
}

/** What the core assumes encoded ÷ line bytes is before it has measured real batches. */
export function initialRatio(setting: CompressionSetting): number {
  // gzip'd and zstd'd JSON logs shrink to roughly a sixth to a tenth.
  return setting.codec === 'none' ? 1 : 0.15;
}
