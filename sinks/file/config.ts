// File sink settings. The sink is on when DATA_DIR is set; with no sink configured at all
// the core falls back to defaultFileSinkConfig() (./data), so logs are never shipped nowhere.
import { resolve } from 'node:path';
import { EnvReader } from '../../src/config/env.js';
import { archiveExtension, describeCompression, readCompression, type CompressionSetting, type DefaultLevels } from '../shared/compression.js';
import { DEFAULT_PARTITION_TEMPLATE, PartitionTemplate } from '../shared/object-key.js';

export interface FileSinkConfig {
  /** Absolute path of the root folder. */
  readonly dataDir: string;
  readonly partitions: PartitionTemplate;
  /** Codec and level of the files (FILE_COMPRESSION, FILE_COMPRESSION_LEVEL). */
  readonly compression: CompressionSetting;
}

export const DEFAULT_DATA_DIR = './data';

/**
 * Files stay on local disk, so gzip spends more CPU for smaller files than the S3 default
 * (level 6: 1.5–2.2× level 3's CPU, 4–19 % smaller). zstd 1 is smaller than gzip 6 on the
 * benchmark's mix for a quarter of its CPU (docs/ARCHITECTURE.md, "Compression").
 */
export const FILE_LEVELS: DefaultLevels = { gzip: 6, zstd: 1 };

export function readFileSinkConfig(env: EnvReader): FileSinkConfig | undefined {
  const dataDir = env.raw('DATA_DIR');
  if (dataDir === undefined) return undefined;
  return read(env, dataDir);
}

/**
 * The local default (./data). Pass the environment so FILE_* settings apply to the
 * fallback too; without it every setting is the default.
 */
export function defaultFileSinkConfig(env: EnvReader = new EnvReader({})): FileSinkConfig {
  return read(env, env.raw('DATA_DIR') ?? DEFAULT_DATA_DIR);
}

function read(env: EnvReader, dataDir: string): FileSinkConfig {
  return {
    dataDir: resolve(dataDir),
    partitions: new PartitionTemplate(env.string('FILE_PARTITION_TEMPLATE', DEFAULT_PARTITION_TEMPLATE), 'FILE_PARTITION_TEMPLATE'),
    compression: readCompression(env, 'FILE', FILE_LEVELS),
  };
}

export function describeFileSink(config: FileSinkConfig): string {
  const level = config.compression.codec === 'none' ? '' : `, ${describeCompression(config.compression)}`;
  return `file → ${config.dataDir}/${config.partitions.template} (one ${archiveExtension(config.compression).slice(1)} file per batch${level})`;
}
