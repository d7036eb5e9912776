import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { ConfigError, SinkIoError } from '../../../src/errors.js';
import { defaultFileSinkConfig, describeFileSink, readFileSinkConfig } from '../../../sinks/file/config.js';
import { fileSinkError, isRetryableFsError } from '../../../sinks/file/errors.js';
import { plugin } from '../../../sinks/file/index.js';

const env = (vars: Record<string, string>): EnvReader => new EnvReader(vars);

describe('file sink config', () => {
  test('on only when DATA_DIR is set', () => {
    expect(readFileSinkConfig(env({}))).toBeUndefined();
    expect(readFileSinkConfig(env({ FILE_COMPRESSION_LEVEL: '5' }))).toBeUndefined();
    const c = readFileSinkConfig(env({ DATA_DIR: '/var/lib/logferry' }))!;
    expect(c.dataDir).toBe('/var/lib/logferry');
    expect(c.partitions.template).toBe('app={app}/dt={date}/hour={hour}');
    expect(c).toMatchObject({ compression: { codec: 'gzip', level: 6 } });
  });

  test('the fallback is ./data, resolved, and honours FILE_* when given the environment', () => {
    expect(defaultFileSinkConfig().dataDir).toBe(resolve('data'));
    expect(plugin.defaultConfig().dataDir).toBe(resolve('data'));
    const c = defaultFileSinkConfig(env({ FILE_COMPRESSION_LEVEL: '1', FILE_PARTITION_TEMPLATE: '{app}' }));
    expect(c).toMatchObject({ dataDir: resolve('data'), compression: { codec: 'gzip', level: 1 } });
    expect(c.partitions.template).toBe('{app}');
  });

  test('plugin shape and pipeline defaults', () => {
    expect(plugin.kind).toBe('file');
    expect(plugin.envPrefix).toBe('FILE');
    expect(plugin.defaults).toEqual({
      batch: { maxEntries: 50_000, maxBytes: 4 * 1024 * 1024, maxAgeMs: 5000 },
      maxInFlight: 1,
      bufferMaxBytes: 32 * 1024 * 1024,
    });
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{ FILE_PARTITION_TEMPLATE: 'app={application}' }, 'FILE_PARTITION_TEMPLATE'],
    [{ FILE_PARTITION_TEMPLATE: 'app={app' }, 'FILE_PARTITION_TEMPLATE'],
    [{ FILE_COMPRESSION_LEVEL: '0' }, 'FILE_COMPRESSION_LEVEL'],
    [{ FILE_COMPRESSION: 'lz4' }, 'FILE_COMPRESSION'],
    [{ FILE_COMPRESSION: 'zstd', FILE_COMPRESSION_LEVEL: '23' }, 'FILE_COMPRESSION_LEVEL'],
  ];

  test('FILE_COMPRESSION: gzip (default), zstd (level 1 by default, up to 19) or none', () => {
    expect(readFileSinkConfig(env({ DATA_DIR: '/d', FILE_COMPRESSION: 'zstd' }))!.compression).toEqual({ codec: 'zstd', level: 1 });
    expect(readFileSinkConfig(env({ DATA_DIR: '/d', FILE_COMPRESSION: 'zstd', FILE_COMPRESSION_LEVEL: '19' }))!.compression).toEqual({ codec: 'zstd', level: 19 });
    expect(readFileSinkConfig(env({ DATA_DIR: '/d', FILE_COMPRESSION: 'none' }))!.compression).toEqual({ codec: 'none', level: 0 });
  });
  test.each(bad)('%o is rejected naming %s', (vars, variable) => {
    let error: unknown;
    try {
      readFileSinkConfig(env({ DATA_DIR: '/tmp/x', ...vars }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
  });

  test('describe', () => {
    expect(describeFileSink(readFileSinkConfig(env({ DATA_DIR: '/data' }))!)).toBe(
      'file → /data/app={app}/dt={date}/hour={hour} (one ndjson.gz file per batch, gzip level 6)',
    );
    expect(describeFileSink(readFileSinkConfig(env({ DATA_DIR: '/data', FILE_COMPRESSION: 'zstd' }))!)).toContain('(one ndjson.zst file per batch, zstd level 1)');
    expect(describeFileSink(readFileSinkConfig(env({ DATA_DIR: '/data', FILE_COMPRESSION: 'none' }))!)).toContain('(one ndjson file per batch)');
  });
});

describe('file system errors', () => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: something, open '/d/f'`), { code });

  test.each(['ENOSPC', 'EDQUOT', 'EIO', 'EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EROFS', 'ENOENT', 'EFBIG', 'ESTALE', 'EWHATEVER'])('%s is retried', (code) => {
    expect(isRetryableFsError(err(code))).toBe(true);
    const e = fileSinkError('file sink: cannot append to /d/f', err(code));
    expect(e).toBeInstanceOf(SinkIoError);
    expect(e.retryable).toBe(true);
    expect(plugin.create(defaultFileSinkConfig(), { logger: undefined as never, agentInstanceId: 'a' }).classify(e)).toBe('retry');
  });

  test.each(['EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP', 'EINVAL'])('%s is permanent', (code) => {
    const e = fileSinkError('file sink: cannot append to /d/f', err(code));
    expect(e.retryable).toBe(false);
    expect(e.message).toBe(`file sink: cannot append to /d/f: ${code}: something, open '/d/f'`);
    expect(e.cause).toBeInstanceOf(Error);
    expect(plugin.create(defaultFileSinkConfig(), { logger: undefined as never, agentInstanceId: 'a' }).classify(e)).toBe('permanent');
  });

  test('an error without an errno code is retried', () => {
    expect(isRetryableFsError(new Error('odd'))).toBe(true);
    expect(isRetryableFsError('odd')).toBe(true);
  });
});
