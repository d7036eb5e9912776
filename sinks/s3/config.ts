// S3 sink settings from the environment, with fly-log-shipper's names and those that
// `fly storage create` sets for Tigris (BUCKET_NAME, AWS_ENDPOINT_URL_S3, AWS_REGION=auto).
import type { EnvReader } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_PARTITION_TEMPLATE, PartitionTemplate } from '../shared/object-key.js';
import { readCompression, type CompressionSetting } from '../shared/compression.js';
import { DEFAULT_S3_LEVELS } from './encode.js';
import { makeCredentials, type S3Credentials } from './signing.js';

export type SseMode = 'AES256' | 'aws:kms';

export interface S3Config {
  readonly bucket: string;
  readonly credentials: S3Credentials;
  /** The SigV4 signing region (`auto` for Tigris and R2). */
  readonly region: string;
  /** Custom endpoint (Tigris, R2, MinIO); undefined for AWS. */
  readonly endpoint: URL | undefined;
  readonly forcePathStyle: boolean;
  /** Empty, or ending in `/`. */
  readonly keyPrefix: string;
  readonly partitionTemplate: PartitionTemplate;
  readonly storageClass: string | undefined;
  readonly sse: SseMode | undefined;
  readonly sseKmsKeyId: string | undefined;
  /** Codec and level of the objects (S3_COMPRESSION, S3_COMPRESSION_LEVEL). */
  readonly compression: CompressionSetting;
}

export const DEFAULT_REGION = 'us-east-1';

export function readS3Config(env: EnvReader): S3Config | undefined {
  const bucketVar = env.firstSet('AWS_BUCKET', 'BUCKET_NAME');
  if (bucketVar === undefined) return undefined;
  const bucket = env.required(bucketVar, 'the bucket name');
  // The name goes into a host name or a path: slashes, spaces and the like can only be a mistake.
  if (!/^[A-Za-z0-9._-]{1,255}$/.test(bucket)) {
    throw new ConfigError(bucketVar, `expected a bucket name (letters, digits, ".", "-", "_"), got "${bucket}"`);
  }

  const accessKeyId = env.required('AWS_ACCESS_KEY_ID', `the access key id for bucket "${bucket}"`);
  const secretAccessKey = env.required('AWS_SECRET_ACCESS_KEY', `the secret access key for bucket "${bucket}"`);
  const sessionToken = env.string('AWS_SESSION_TOKEN');

  const endpointVar = env.firstSet('S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3');
  const endpoint = endpointVar === undefined ? undefined : env.url(endpointVar, { secret: true });
  if (endpoint !== undefined && (endpoint.username !== '' || endpoint.password !== '' || endpoint.search !== '' || endpoint.hash !== '')) {
    throw new ConfigError(endpointVar!, 'expected a plain endpoint URL such as https://fly.storage.tigris.dev (no credentials, query or fragment)');
  }

  const region = env.string('AWS_REGION', DEFAULT_REGION).toLowerCase();
  if (!/^[a-z0-9-]{1,40}$/.test(region)) {
    throw new ConfigError('AWS_REGION', `expected a region such as us-east-1 or auto, got "${region}"`);
  }
  if (region === 'auto' && endpoint === undefined) {
    // `auto` names no AWS region, so no AWS endpoint can be derived from it.
    throw new ConfigError('AWS_REGION', '"auto" is only valid with S3_ENDPOINT or AWS_ENDPOINT_URL_S3 (Tigris, R2); for AWS set the bucket\'s region');
  }

  let keyPrefix = (env.raw('S3_KEY_PREFIX') ?? '').replace(/^\/+/, '');
  // A prefix joined straight to `app=...` would break Hive partition names.
  if (keyPrefix !== '' && !keyPrefix.endsWith('/')) keyPrefix += '/';

  const partitionTemplate = new PartitionTemplate(env.string('S3_PARTITION_TEMPLATE', DEFAULT_PARTITION_TEMPLATE), 'S3_PARTITION_TEMPLATE');

  const storageClassRaw = env.raw('S3_STORAGE_CLASS');
  const storageClass = storageClassRaw?.toUpperCase();
  if (storageClass !== undefined && !/^[A-Z][A-Z_]{1,40}$/.test(storageClass)) {
    throw new ConfigError('S3_STORAGE_CLASS', `expected a storage class such as STANDARD, STANDARD_IA or GLACIER_IR, got "${storageClassRaw}"`);
  }

  const sse = env.has('S3_SSE') ? env.oneOf<SseMode>('S3_SSE', ['AES256', 'aws:kms'], 'AES256') : undefined;
  const sseKmsKeyId = env.string('S3_SSE_KMS_KEY_ID');
  if (sseKmsKeyId !== undefined && sse !== 'aws:kms') {
    throw new ConfigError('S3_SSE_KMS_KEY_ID', 'is only used with S3_SSE=aws:kms');
  }

  return {
    bucket,
    credentials: makeCredentials(accessKeyId, secretAccessKey, sessionToken),
    region,
    endpoint,
    forcePathStyle: env.bool('S3_FORCE_PATH_STYLE', false),
    keyPrefix,
    partitionTemplate,
    storageClass,
    sse,
    sseKmsKeyId,
    compression: readCompression(env, 'S3', DEFAULT_S3_LEVELS),
  };
}
