// File sink settings. The sink is on when DATA_DIR is set; with no sink configured at all
// the core falls back to defaultFileSinkConfig() (./data), so logs are never shipped nowhere.
import { resolve } from 'node:path';
import { EnvReader } from '../../src/config/env.js';
import { DEFAULT_PARTITION_TEMPLATE, PartitionTemplate } from '../shared/object-key.js';

export interface FileSinkConfig {
  /** Absolute path of the root folder. */
  readonly dataDir: string;
  readonly partitions: PartitionTemplate;
  /** gzip level 1..9. */
  readonly compressionLevel: number;
}

export const DEFAULT_DATA_DIR = './data';

export const FILE_DEFAULTS = {
  compressionLevel: 6,
} as const;

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
    compressionLevel: env.int('FILE_COMPRESSION_LEVEL', FILE_DEFAULTS.compressionLevel, { min: 1, max: 9 }),
  };
}

export function describeFileSink(config: FileSinkConfig): string {
  return `file → ${config.dataDir}/${config.partitions.template} (one ndjson.gz file per batch)`;
}
