// S3 sink configuration: fly-log-shipper's and `fly storage create`'s variable names,
// addressing (virtual-hosted or path-style), and errors that name the variable and never
// show a secret.
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { EnvReader, type Env } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/errors.js';
import { S3Address } from '../../../sinks/s3/address.js';
import { readS3Config, type S3Config } from '../../../sinks/s3/config.js';
import { plugin } from '../../../sinks/s3/index.js';
import { configErrorOf, configured } from '../../support/config-error.js';

const SECRET = 'tid_SuperSecretValue_9f8e7d';
const base: Env = { AWS_ACCESS_KEY_ID: 'tid_access', AWS_SECRET_ACCESS_KEY: SECRET };

function read(env: Env): S3Config | undefined {
  return readS3Config(new EnvReader(env));
}

function mustRead(env: Env): S3Config {
  return configured(read(env));
}

function configError(env: Env): ConfigError {
  return configErrorOf(() => read(env));
}

describe('S3 sink config', () => {
  test('off when no bucket is set, whatever else is', () => {
    expect(read({ ...base, AWS_REGION: 'auto', S3_ENDPOINT: 'https://fly.storage.tigris.dev' })).toBeUndefined();
    expect(read({ ...base, AWS_BUCKET: '  ' })).toBeUndefined();
  });

  test('what `fly storage create` sets for Tigris is enough: virtual-hosted, region auto', () => {
    const c = mustRead({
      BUCKET_NAME: 'my-logs',
      AWS_ACCESS_KEY_ID: 'tid_access',
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_ENDPOINT_URL_S3: 'https://fly.storage.tigris.dev',
      AWS_REGION: 'auto',
    });
    expect(c.bucket).toBe('my-logs');
    expect(c.region).toBe('auto');
    expect(c.endpoint?.href).toBe('https://fly.storage.tigris.dev/');
    expect(c.keyPrefix).toBe('');
    expect(c.partitionTemplate.template).toBe('app={app}/dt={date}/hour={hour}');
    expect(c.storageClass).toBeUndefined();
    expect(c.sse).toBeUndefined();
    const address = new S3Address(c);
    expect(address.pathStyle).toBe(false);
    expect(address.location).toEqual({ origin: 'https://my-logs.fly.storage.tigris.dev', host: 'my-logs.fly.storage.tigris.dev' });
    expect(address.objectPath('app=web/dt=2026-11-26/hour=20/x.ndjson.gz')).toBe('/app%3Dweb/dt%3D2026-11-26/hour%3D20/x.ndjson.gz');
    expect(plugin.describe(c)).toBe(
      's3 bucket "my-logs" at my-logs.fly.storage.tigris.dev (region auto, virtual-hosted), keys app={app}/dt={date}/hour={hour}/<time>-<agent>-<seq>.ndjson.gz',
    );
  });

  test('AWS_BUCKET wins over BUCKET_NAME; S3_ENDPOINT wins over AWS_ENDPOINT_URL_S3', () => {
    const c = mustRead({ ...base, AWS_BUCKET: 'a', BUCKET_NAME: 'b', S3_ENDPOINT: 'http://minio:9000', AWS_ENDPOINT_URL_S3: 'https://other.example' });
    expect(c.bucket).toBe('a');
    expect(c.endpoint?.host).toBe('minio:9000');
  });

  test('AWS by default: us-east-1, virtual-hosted regional endpoint; path-style when forced or when the name needs it', () => {
    const c = mustRead({ ...base, AWS_BUCKET: 'logs' });
    expect(c.region).toBe('us-east-1');
    expect(c.endpoint).toBeUndefined();
    expect(new S3Address(c).location.origin).toBe('https://logs.s3.us-east-1.amazonaws.com');
    const eu = new S3Address(mustRead({ ...base, AWS_BUCKET: 'logs', AWS_REGION: 'eu-west-1', S3_FORCE_PATH_STYLE: 'true' }));
    expect(eu.location.origin).toBe('https://s3.eu-west-1.amazonaws.com');
    expect(eu.objectPath('k')).toBe('/logs/k');
    expect(eu.bucketPath('list-type=2')).toBe('/logs?list-type=2');
    // A dotted name cannot sit under the *.s3 wildcard certificate.
    expect(new S3Address(mustRead({ ...base, AWS_BUCKET: 'logs.example.com' })).pathStyle).toBe(true);
  });

  test('an IP or localhost endpoint (MinIO, s3rver) is addressed path-style; an endpoint path is kept', () => {
    const ip = new S3Address(mustRead({ ...base, AWS_BUCKET: 'logs', S3_ENDPOINT: 'http://127.0.0.1:9000' }));
    expect(ip.pathStyle).toBe(true);
    expect(ip.location).toEqual({ origin: 'http://127.0.0.1:9000', host: '127.0.0.1:9000' });
    expect(ip.objectPath('a b/c')).toBe('/logs/a%20b/c');
    const proxied = new S3Address(mustRead({ ...base, AWS_BUCKET: 'logs', S3_ENDPOINT: 'https://storage.example/s3/', S3_FORCE_PATH_STYLE: '1' }));
    expect(proxied.objectPath('k')).toBe('/s3/logs/k');
    expect(proxied.bucketPath('')).toBe('/s3/logs');
  });

  test('key prefix gets one trailing slash and no leading one; storage class is upper-cased', () => {
    expect(mustRead({ ...base, AWS_BUCKET: 'b', S3_KEY_PREFIX: '/fly/logs' }).keyPrefix).toBe('fly/logs/');
    expect(mustRead({ ...base, AWS_BUCKET: 'b', S3_KEY_PREFIX: 'fly/' }).keyPrefix).toBe('fly/');
    expect(mustRead({ ...base, AWS_BUCKET: 'b', S3_STORAGE_CLASS: 'glacier_ir' }).storageClass).toBe('GLACIER_IR');
  });

  test('SSE: AES256, or aws:kms with an optional key id', () => {
    expect(mustRead({ ...base, AWS_BUCKET: 'b', S3_SSE: 'aes256' }).sse).toBe('AES256');
    const kms = mustRead({ ...base, AWS_BUCKET: 'b', S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: 'alias/logs' });
    expect(kms.sse).toBe('aws:kms');
    expect(kms.sseKmsKeyId).toBe('alias/logs');
    expect(plugin.describe(kms)).toContain('SSE aws:kms with a KMS key');
    expect(plugin.describe(kms)).not.toContain('alias/logs');
  });

  test('invalid values name their variable', () => {
    const cases: Array<[Env, string]> = [
      [{ AWS_BUCKET: 'b', AWS_SECRET_ACCESS_KEY: SECRET }, 'AWS_ACCESS_KEY_ID'],
      [{ AWS_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'x' }, 'AWS_SECRET_ACCESS_KEY'],
      [{ ...base, BUCKET_NAME: 'has/slash' }, 'BUCKET_NAME'],
      [{ ...base, AWS_BUCKET: 'b', AWS_REGION: 'auto' }, 'AWS_REGION'],
      [{ ...base, AWS_BUCKET: 'b', AWS_REGION: 'us east' }, 'AWS_REGION'],
      [{ ...base, AWS_BUCKET: 'b', S3_ENDPOINT: 'fly.storage.tigris.dev' }, 'S3_ENDPOINT'],
      [{ ...base, AWS_BUCKET: 'b', AWS_ENDPOINT_URL_S3: 'ftp://x' }, 'AWS_ENDPOINT_URL_S3'],
      [{ ...base, AWS_BUCKET: 'b', S3_ENDPOINT: 'https://key:secret@x' }, 'S3_ENDPOINT'],
      [{ ...base, AWS_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'maybe' }, 'S3_FORCE_PATH_STYLE'],
      [{ ...base, AWS_BUCKET: 'b', S3_PARTITION_TEMPLATE: 'app={application}' }, 'S3_PARTITION_TEMPLATE'],
      [{ ...base, AWS_BUCKET: 'b', S3_STORAGE_CLASS: 'cold storage' }, 'S3_STORAGE_CLASS'],
      [{ ...base, AWS_BUCKET: 'b', S3_SSE: 'aws:kms:dsse' }, 'S3_SSE'],
      [{ ...base, AWS_BUCKET: 'b', S3_SSE_KMS_KEY_ID: 'alias/logs' }, 'S3_SSE_KMS_KEY_ID'],
      [{ ...base, AWS_BUCKET: 'b', S3_SSE: 'AES256', S3_SSE_KMS_KEY_ID: 'alias/logs' }, 'S3_SSE_KMS_KEY_ID'],
    ];
    for (const [env, variable] of cases) {
      const error = configError(env);
      expect(error.variable, JSON.stringify(env)).toBe(variable);
      expect(error.message.startsWith(`${variable}: `)).toBe(true);
    }
  });

  test('secrets appear in no error, describe() line, JSON or inspect of the config', () => {
    const token = 'session_token_abc123';
    const c = mustRead({ ...base, AWS_BUCKET: 'b', AWS_SESSION_TOKEN: token, S3_ENDPOINT: 'https://x.example' });
    expect(c.credentials.secretAccessKey).toBe(SECRET);
    expect(c.credentials.sessionToken).toBe(token);
    for (const shown of [plugin.describe(c), JSON.stringify(c), inspect(c, { depth: 5 })]) {
      expect(shown).not.toContain(SECRET);
      expect(shown).not.toContain(token);
    }
    expect(configError({ ...base, AWS_BUCKET: 'b', S3_ENDPOINT: 'https://key:secret@x' }).message).not.toContain('secret@');
  });

  test('defaults fit object storage', () => {
    expect(plugin.kind).toBe('s3');
    expect(plugin.envPrefix).toBe('S3');
    expect(plugin.defaults).toEqual({
      batch: { maxEntries: 1_000_000, maxBytes: 4 * 1024 * 1024, maxAgeMs: 300_000, maxLineBytes: 12 * 1024 * 1024 },
      maxInFlight: 4,
      bufferMaxBytes: 24 * 1024 * 1024,
    });
  });
});
