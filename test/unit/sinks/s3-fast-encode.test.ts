// The S3 sink's fast paths: the gzip encoder (large batches, oversized lines, entries
// whose `bytes` is wrong, levels) and the partition cache (same folders as
// rendering the template, whatever the order of apps, hours and timestamp forms).
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { EntryView, entryFromLine, intake, parseSubject, type LogEntry } from '../../../src/intake/entry.js';
import { EnvReader, type Env } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/errors.js';
import { createLogger } from '../../../src/ops/logger.js';
import { PartitionTemplate } from '../../../sinks/shared/object-key.js';
import { DEFAULT_S3_COMPRESSION_LEVEL, gzipNdjson } from '../../../sinks/s3/encode.js';
import { plugin } from '../../../sinks/s3/index.js';
import { PartitionCache } from '../../../sinks/s3/partition-cache.js';
import { prng } from '../../support/fly-entries.js';
import { makeBatch } from '../../../src/pipeline/batch.js';

function batchOf(entries: readonly LogEntry[]) {
  return makeBatch(1, '', entries);
}

const MiB = 1024 * 1024;
const env: Env = { AWS_BUCKET: 'logs', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', S3_ENDPOINT: 'http://127.0.0.1:1' };

function entry(app: string, timestamp: string, message: string, region = 'ams', instance = 'e2865'): LogEntry {
  const line = JSON.stringify({ fly: { app: { instance, name: app }, region }, log: { level: 'info' }, message, timestamp });
  return entryFromLine(line, Date.parse('2026-11-26T21:00:00Z'));
}

function ndjson(entries: readonly LogEntry[]): string {
  let text = '';
  for (const e of entries) text += `${e.line}\n`;
  return text;
}

describe('S3 gzip encoder', () => {
  test('a large batch: every line whole and in order', async () => {
    const entries: LogEntry[] = [];
    // ~6 MiB of varied lines, with multi-byte characters straddling chunk ends.
    for (let i = 0; i < 12_000; i++) entries.push(entry(`app${i % 7}`, '2026-11-26T20:34:37.000000000Z', `${i} ünïcødé 🚀 ${'x'.repeat(i % 900)}`));
    const body = await gzipNdjson(batchOf(entries));
    expect(gunzipSync(body).toString('utf8')).toBe(ndjson(entries));
  });

  test('a line of several MiB between short ones', async () => {
    const entries = [entry('web', '2026-11-26T20:34:37Z', 'before'), entry('web', '2026-11-26T20:34:37Z', 'é'.repeat(MiB)), entry('web', '2026-11-26T20:34:38Z', 'after')];
    expect(entries[1]!.bytes).toBeGreaterThan(2 * MiB);
    const body = await gzipNdjson(batchOf(entries));
    expect(gunzipSync(body).toString('utf8')).toBe(ndjson(entries));
  });

  test('an entry whose `bytes` is wrong still comes out whole', async () => {
    const filler = entry('web', '2026-11-26T20:34:37Z', 'y'.repeat(MiB - 300));
    const real = entry('web', '2026-11-26T20:34:37Z', '日本語のログ行 ✅ '.repeat(40));
    // Understated at a chunk's end (would be cut), overstated, and understated mid-chunk.
    const entries = [filler, { ...real, bytes: 100 }, { ...real, bytes: real.bytes + 50 }, { ...real, bytes: 10 }, real];
    const body = await gzipNdjson(batchOf(entries));
    expect(gunzipSync(body).toString('utf8')).toBe(ndjson(entries));
  });

  test('an empty batch is an empty gzip file', async () => {
    const body = await gzipNdjson(batchOf([]));
    expect(gunzipSync(body).length).toBe(0);
  });

  test('the level changes the bytes, not the content; the same input gives the same bytes', async () => {
    const rand = prng(3);
    const entries: LogEntry[] = [];
    for (let i = 0; i < 3000; i++) entries.push(entry('web', '2026-11-26T20:34:37Z', `req ${i} took ${Math.floor(rand() * 1000)} ms on /api/v1/items/${Math.floor(rand() * 50)}`));
    const fast = await gzipNdjson(batchOf(entries), 1);
    const best = await gzipNdjson(batchOf(entries), 9);
    expect(gunzipSync(fast).toString('utf8')).toBe(ndjson(entries));
    expect(gunzipSync(best).toString('utf8')).toBe(ndjson(entries));
    expect(best.length).toBeLessThan(fast.length);
    expect((await gzipNdjson(batchOf(entries), 1)).equals(fast)).toBe(true);
    expect((await gzipNdjson(batchOf(entries))).equals(await gzipNdjson(batchOf(entries), DEFAULT_S3_COMPRESSION_LEVEL))).toBe(true);
  });
});

describe('S3_COMPRESSION_LEVEL', () => {
  test('defaults to 3 and takes 1–9; the sink compresses at that level', async () => {
    expect(DEFAULT_S3_COMPRESSION_LEVEL).toBe(3);
    expect(plugin.readConfig(new EnvReader(env))!.compression).toEqual({ codec: 'gzip', level: 3 });
    const logger = createLogger('silent');
    const entries: LogEntry[] = [];
    for (let i = 0; i < 2000; i++) entries.push(entry('web', '2026-11-26T20:34:37Z', `line ${i} ${'abc'.repeat(i % 30)}`));
    const batch = makeBatch(1, 'app=web/dt=2026-11-26/hour=20', entries);
    const bodies: Buffer[] = [];
    for (const level of ['1', '9']) {
      const config = plugin.readConfig(new EnvReader({ ...env, S3_COMPRESSION_LEVEL: level }))!;
      expect(config.compression).toEqual({ codec: 'gzip', level: Number(level) });
      const sink = plugin.create(config, { logger, agentInstanceId: 'a' });
      const body = Buffer.from((await sink.encode(batch)).body);
      expect(body.equals(await gzipNdjson(batchOf(entries), Number(level)))).toBe(true);
      bodies.push(body);
      await sink.close?.();
    }
    expect(bodies[0]!.equals(bodies[1]!)).toBe(false);
  });

  test.each(['0', '10', 'fast', '3.5'])('%s is refused, naming the variable', (value) => {
    const read = (): unknown => plugin.readConfig(new EnvReader({ ...env, S3_COMPRESSION_LEVEL: value }));
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/S3_COMPRESSION_LEVEL/);
  });
});

describe('S3_COMPRESSION', () => {
  const logger = createLogger('silent');
  const entries: LogEntry[] = [];
  for (let i = 0; i < 2000; i++) entries.push(entry('web', '2026-11-26T20:34:37Z', `line ${i} ${'abc'.repeat(i % 30)} ünïcødé`));
  const batch = makeBatch(1, 'app=web/dt=2026-11-26/hour=20', entries);

  test('zstd: .ndjson.zst objects that zstd reads back line for line, application/zstd, level 1 by default and up to 19', async () => {
    const config = plugin.readConfig(new EnvReader({ ...env, S3_COMPRESSION: 'zstd' }))!;
    expect(config.compression).toEqual({ codec: 'zstd', level: 1 });
    expect(plugin.describe(config)).toContain('zstd level 1');
    expect(plugin.describe(config)).toContain('<seq>.ndjson.zst');
    expect(plugin.readConfig(new EnvReader({ ...env, S3_COMPRESSION: 'ZSTD', S3_COMPRESSION_LEVEL: '19' }))!.compression).toEqual({ codec: 'zstd', level: 19 });
    const sink = plugin.create(config, { logger, agentInstanceId: 'a' });
    expect(sink.initialEncodedRatio).toBeLessThan(0.5);
    const encoded = await sink.encode(batch);
    expect(encoded.meta?.key).toMatch(/^app=web\/dt=2026-11-26\/hour=20\/20261126T203437\.000Z-batch-1\.ndjson\.zst$/);
    expect(zstdDecompressSync(encoded.body).toString('utf8')).toBe(ndjson(entries));
    await sink.close?.();
  });

  test('none: plain .ndjson objects, the batch bytes as they are', async () => {
    const config = plugin.readConfig(new EnvReader({ ...env, S3_COMPRESSION: 'none', S3_COMPRESSION_LEVEL: '42' }))!;
    expect(config.compression).toEqual({ codec: 'none', level: 0 });
    const sink = plugin.create(config, { logger, agentInstanceId: 'a' });
    expect(sink.initialEncodedRatio).toBe(1);
    const encoded = await sink.encode(batch);
    expect(encoded.meta?.key).toMatch(/-batch-1\.ndjson$/);
    expect(Buffer.from(encoded.body).toString('utf8')).toBe(ndjson(entries));
    await sink.close?.();
  });

  test('gzip stays the default and keeps .ndjson.gz', async () => {
    const sink = plugin.create(plugin.readConfig(new EnvReader(env))!, { logger, agentInstanceId: 'a' });
    const encoded = await sink.encode(batch);
    expect(encoded.meta?.key).toMatch(/\.ndjson\.gz$/);
    expect(gunzipSync(encoded.body).toString('utf8')).toBe(ndjson(entries));
    await sink.close?.();
  });

  test.each([
    [{ S3_COMPRESSION: 'brotli' }, 'S3_COMPRESSION'],
    [{ S3_COMPRESSION: 'zstd', S3_COMPRESSION_LEVEL: '20' }, 'S3_COMPRESSION_LEVEL'],
    [{ S3_COMPRESSION: 'gzip', S3_COMPRESSION_LEVEL: '12' }, 'S3_COMPRESSION_LEVEL'],
  ])('%j is refused, naming %s', (extra, variable) => {
    const read = (): unknown => plugin.readConfig(new EnvReader({ ...env, ...extra }));
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(new RegExp(variable));
  });
});

describe('S3 partition cache', () => {
  const TEMPLATES = [
    'app={app}/dt={date}/hour={hour}',
    '{app}/{year}/{month}/{day}',
    '{app}',
    'fixed',
    '',
    'region={region}/app={app}/dt={date}',
    '{instance}/{hour}',
  ];
  const APPS = ['shop-api', 'Weird App!', '', 'edge-cache', '..'];
  const STAMPS = [
    '2026-11-26T20:34:37.253123456Z',
    '2026-11-26T20:59:59.999999999Z',
    '2026-11-26T21:00:00Z',
    '2026-11-27T00:00:00.000Z',
    '2026-11-26T23:30:00+02:00', // not UTC: same prefix as a UTC 23h, another hour
    '2026-11-26T23:30:00.5Z',
    '2026-11-26T20:34:37.253z',
    'not a time',
    '',
  ];

  test.each(TEMPLATES)('template %j: the same folder as rendering, in any order', (template) => {
    const t = new PartitionTemplate(template, 'S3_PARTITION_TEMPLATE');
    const cache = new PartitionCache(t);
    const rand = prng(template.length + 1);
    for (let i = 0; i < 2000; i++) {
      const e = entry(APPS[Math.floor(rand() * APPS.length)]!, STAMPS[Math.floor(rand() * STAMPS.length)]!, 'm', rand() < 0.5 ? 'ams' : 'syd', rand() < 0.5 ? 'e1' : 'e2');
      // entryFromLine fills a missing timestamp; keep the odd ones as they are.
      const odd = { ...e, timestamp: STAMPS[i % STAMPS.length]! };
      expect(cache.folder(e)).toBe(t.render(e));
      expect(cache.folder(odd)).toBe(t.render(odd));
    }
  });

  test.each(TEMPLATES)('template %j: intake views (compared on their bytes) get the same folders as rendering', (template) => {
    const t = new PartitionTemplate(template, 'S3_PARTITION_TEMPLATE');
    const cache = new PartitionCache(t);
    const rand = prng(template.length + 7);
    const view = new EntryView();
    for (let i = 0; i < 2000; i++) {
      const app = APPS[Math.floor(rand() * APPS.length)]!;
      const region = rand() < 0.5 ? 'ams' : 'syd';
      const stamp = STAMPS[Math.floor(rand() * STAMPS.length)]!;
      const line = JSON.stringify({ fly: { app: { instance: 'e1', name: app }, region }, message: 'm', timestamp: stamp });
      const buf = Buffer.from(`xx${line}yy`);
      intake(parseSubject(`logs.${app}.${region}.e1`), buf, 2, buf.length - 2, 0, view);
      const expected = t.render(view.toEntry());
      intake(parseSubject(`logs.${app}.${region}.e1`), buf, 2, buf.length - 2, 0, view);
      expect(cache.folder(view)).toBe(expected);
    }
  });

  test('more apps than it keeps: still right', () => {
    const t = new PartitionTemplate('app={app}/dt={date}/hour={hour}', 'S3_PARTITION_TEMPLATE');
    const cache = new PartitionCache(t);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 12_000; i++) {
        const e = entry(`app-${i}`, round === 0 ? '2026-11-26T20:00:00Z' : '2026-11-26T21:00:00Z', 'm');
        expect(cache.folder(e)).toBe(`app=app-${i}/dt=2026-11-26/hour=${round === 0 ? '20' : '21'}`);
      }
    }
  });

  test('past its bound it forgets the least recently seen app, not the busy ones', () => {
    const t = new PartitionTemplate('app={app}/dt={date}/hour={hour}', 'S3_PARTITION_TEMPLATE');
    const cache = new PartitionCache(t);
    let renders = 0;
    const render = t.render.bind(t);
    t.render = (e) => {
      renders++;
      return render(e);
    };
    const busy = entry('busy', '2026-11-26T20:00:00Z', 'm');
    expect(cache.folder(busy)).toBe('app=busy/dt=2026-11-26/hour=20');
    for (let i = 0; i < 25_000; i++) {
      cache.folder(entry(`app-${i}`, '2026-11-26T20:00:00Z', 'm'));
      if (i % 500 === 0) cache.folder(busy);
    }
    // The busy app's folder was remembered throughout: rendered once only.
    const before = renders;
    expect(cache.folder(busy)).toBe('app=busy/dt=2026-11-26/hour=20');
    expect(renders).toBe(before);
    // A long-forgotten app is rendered again, correctly.
    expect(cache.folder(entry('app-0', '2026-11-26T20:00:00Z', 'm'))).toBe('app=app-0/dt=2026-11-26/hour=20');
    expect(renders).toBe(before + 1);
  });

  test('the sink partitions through it', () => {
    const config = plugin.readConfig(new EnvReader(env))!;
    const sink = plugin.create(config, { logger: createLogger('silent'), agentInstanceId: 'a' });
    const a = entry('shop-api', '2026-11-26T20:34:37.253123456Z', 'a');
    const b = entry('shop-api', '2026-11-26T21:00:00.000000001Z', 'b');
    expect(sink.partitionKey!(a)).toBe('app=shop-api/dt=2026-11-26/hour=20');
    expect(sink.partitionKey!(b)).toBe('app=shop-api/dt=2026-11-26/hour=21');
    expect(sink.partitionKey!(a)).toBe('app=shop-api/dt=2026-11-26/hour=20');
  });
});
