// The S3-compatible archive sink (Tigris, AWS S3, R2, MinIO): gzip (or zstd) NDJSON objects under
// Hive-style keys, queryable in place with DuckDB, Athena, ClickHouse or Spark.
import type { SinkPlugin } from '../../src/pipeline/sink.js';
import { S3Address } from './address.js';
import { readS3Config, type S3Config } from './config.js';
import { DEFAULT_S3_COMPRESSION_LEVEL } from './encode.js';
import { S3Sink } from './sink.js';
import { archiveExtension, describeCompression } from '../shared/compression.js';

const MiB = 1024 * 1024;

export const plugin: SinkPlugin<S3Config> = {
  kind: 's3',
  envPrefix: 'S3',
  // Objects of several MiB compressed and at most a few minutes old: few, large PUTs are
  // what object stores (and the engines that query them) handle best. Sized for a 256 MB VM:
  // with 64 MiB the agent peaked at 200–240 MiB RSS in the benchmark's full-speed run; 24 MiB,
  // with no batch over 12 MiB of lines, keeps it near 150. Logs that compress to a tenth then
  // make ~1.2 MiB objects.
  defaults: {
    batch: { maxEntries: 1_000_000, maxBytes: 4 * MiB, maxAgeMs: 5 * 60_000, maxLineBytes: 12 * MiB },
    maxInFlight: 4,
    bufferMaxBytes: 24 * MiB,
  },
  readConfig: readS3Config,
  describe(config) {
    const address = new S3Address(config);
    const extras = [
      `region ${config.region}`,
      address.pathStyle ? 'path-style' : 'virtual-hosted',
      config.compression.codec === 'gzip' && config.compression.level === DEFAULT_S3_COMPRESSION_LEVEL ? undefined : describeCompression(config.compression),
      config.storageClass === undefined ? undefined : `storage class ${config.storageClass}`,
      config.sse === undefined ? undefined : `SSE ${config.sse}${config.sseKmsKeyId === undefined ? '' : ' with a KMS key'}`,
    ].filter((x) => x !== undefined);
    const template = config.partitionTemplate.template;
    const keys = `${config.keyPrefix}${template === '' ? '' : `${template}/`}<time>-<agent>-<seq>${archiveExtension(config.compression)}`;
    return `s3 bucket "${config.bucket}" at ${address.location.host} (${extras.join(', ')}), keys ${keys}`;
  },
  create(config, context) {
    return new S3Sink(config, context);
  },
};
