// The file sink on a real file system (a temporary DATA_DIR per test).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import type { LogEntry } from '../../../src/intake/entry.js';
import { SinkIoError } from '../../../src/errors.js';
import type { Batch } from '../../../src/pipeline/sink.js';
import { plugin } from '../../../sinks/file/index.js';
import { readFileSinkConfig, type FileSinkConfig } from '../../../sinks/file/config.js';
import { listFileSinkFiles, readFileSinkFile } from '../../../sinks/file/read.js';
import { FileSink } from '../../../sinks/file/sink.js';
import { batchesFor, makeBatch, sampleEntries, sinkContractSuite, SAMPLE_RECEIVED_AT_MS } from '../../support/sink-contract.js';
import { batchLines } from '../../../src/pipeline/batch.js';

const AGENT = 'test-agent';

function configFor(dataDir: string, env: Record<string, string> = {}): FileSinkConfig {
  return readFileSinkConfig(new EnvReader({ DATA_DIR: dataDir, ...env }))!;
}

/** Every entry in every file under `root`, files in name order (partition, then time). */
async function storedUnder(root: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (const rel of await listFileSinkFiles(root)) {
    const { lines, torn } = await readFileSinkFile(join(root, rel));
    if (torn) throw new Error(`${rel} is torn`);
    for (const line of lines) out.push(JSON.parse(line) as Record<string, unknown>);
  }
  return out;
}

sinkContractSuite('file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logferry-file-contract-'));
  const sink = plugin.create(configFor(dir), { logger: undefined as never, agentInstanceId: AGENT });
  return {
    sink,
    stored: () => storedUnder(dir),
    close: async () => {
      await sink.close?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

for (const compression of ['zstd', 'none']) {
  sinkContractSuite(`file (FILE_COMPRESSION=${compression})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `logferry-file-contract-${compression}-`));
    const sink = plugin.create(configFor(dir, { FILE_COMPRESSION: compression }), { logger: undefined as never, agentInstanceId: AGENT });
    return {
      sink,
      stored: () => storedUnder(dir),
      close: async () => {
        await sink.close?.();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

/** Entries with incompressible messages, so sizes on disk are predictable enough for rotation tests. */
function bulkyEntries(count: number, app = 'bulky', timestamp = '2026-11-26T20:34:37.000000001Z'): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const line = JSON.stringify({ fly: { app: { name: app, instance: 'i1' }, region: 'ams' }, message: randomBytes(300).toString('base64'), timestamp });
    out.push({ line, bytes: Buffer.byteLength(line), app, region: 'ams', instance: 'i1', timestamp, receivedAtMs: SAMPLE_RECEIVED_AT_MS });
  }
  return out;
}

describe('file sink', () => {
  let dir: string;
  let now: number;
  const live = new AbortController().signal;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logferry-file-'));
    now = Date.parse('2026-11-26T20:40:00Z');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function sinkWith(env: Record<string, string> = {}): FileSink {
    return new FileSink(configFor(dir, env), { agentInstanceId: AGENT }, { clock: () => now });
  }

  async function ship(sink: FileSink, batch: Batch): Promise<void> {
    await sink.send(await sink.encode(batch), batch, live);
  }

  function files(): string[] {
    const out: string[] = [];
    const walk = (rel: string): void => {
      for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
        const child = rel === '' ? d.name : `${rel}/${d.name}`;
        if (d.isDirectory()) walk(child);
        else out.push(child);
      }
    };
    walk('');
    return out.sort();
  }

  test('layout: app=<app>/dt=<YYYY-MM-DD>/hour=<HH>/<time>-<agent>-<seq>.ndjson.gz, one partition per app and hour', async () => {
    const sink = sinkWith();
    for (const batch of batchesFor(sink, sampleEntries())) await ship(sink, batch);
    expect(files()).toEqual([
      'app=dc-team-52-simon-46d213/dt=2022-09-27/hour=20/20220927T203437.253Z-test-agent-000001.ndjson.gz',
      'app=edge-cache/dt=2026-11-26/hour=20/20261126T203443.999Z-test-agent-000006.ndjson.gz',
      'app=logferry/dt=2026-11-26/hour=20/20261126T203442.000Z-test-agent-000005.ndjson.gz',
      'app=shop-api/dt=2026-11-26/hour=20/20261126T203437.000Z-test-agent-000002.ndjson.gz',
      'app=terrateam-app-production/dt=2026-11-26/hour=20/20261126T203439.500Z-test-agent-000003.ndjson.gz',
      'app=terrateam-db-production/dt=2026-11-26/hour=20/20261126T203441.002Z-test-agent-000004.ndjson.gz',
    ]);
    // Every file is plain gzip NDJSON that the system's gzip reads.
    for (const f of files()) {
      const out = spawnSync('gzip', ['-dc', join(dir, f)], { encoding: 'utf8' });
      expect(out.status).toBe(0);
      for (const line of out.stdout.trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    }
  });

  test('a custom FILE_PARTITION_TEMPLATE', async () => {
    const sink = sinkWith({ FILE_PARTITION_TEMPLATE: 'region={region}/{year}/{month}/{day}' });
    for (const batch of batchesFor(sink, sampleEntries())) await ship(sink, batch);
    const folders = [...new Set(files().map((f) => f.slice(0, f.lastIndexOf('/'))))];
    expect(folders).toEqual(['region=ams/2026/11/26', 'region=fra/2026/11/26', 'region=iad/2026/11/26', 'region=sjc/2022/09/27', 'region=syd/2026/11/26']);
  });

  test('batches of a partition are appended to one file as separate gzip members', async () => {
    const sink = sinkWith();
    const batches = [bulkyEntries(3), bulkyEntries(4), bulkyEntries(5)].map((e) => makeBatch(e, sink.partitionKey(e[0]!)));
    let expectedSize = 0;
    for (const b of batches) {
      const encoded = await sink.encode(b);
      expectedSize += encoded.body.length;
      await sink.send(encoded, b, live);
    }
    expect(files()).toHaveLength(1);
    const path = join(dir, files()[0]!);
    expect(statSync(path).size).toBe(expectedSize);
    const raw = readFileSync(path);
    expect(gunzipSync(raw).toString('utf8')).toBe(batches.map((b) => b.ndjson.toString('utf8')).join(''));
    const zcat = spawnSync('zcat', [path], { encoding: 'utf8' });
    expect(zcat.status).toBe(0);
    expect(zcat.stdout.split('\n').filter(Boolean)).toHaveLength(12);
  });

  test('rotation by size: a file that reached FILE_ROTATE_BYTES takes no more batches', async () => {
    const sink = sinkWith({ FILE_ROTATE_BYTES: '4KiB' });
    // Each batch is about 2 KiB compressed (random base64 hardly compresses).
    for (let i = 0; i < 5; i++) {
      const entries = bulkyEntries(5);
      await ship(sink, makeBatch(entries, sink.partitionKey(entries[0]!)));
    }
    const sizes = files().map((f) => statSync(join(dir, f)).size);
    expect(sizes.length).toBeGreaterThanOrEqual(2);
    expect(sizes.length).toBeLessThan(5);
    // Only the last file may be under the limit; no file got a batch after crossing it.
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(4096);
    expect((await storedUnder(dir)).length).toBe(25);
  });

  test('rotation by age: a file older than FILE_ROTATE_AGE takes no more batches', async () => {
    const sink = sinkWith({ FILE_ROTATE_AGE: '10m' });
    const batch = (): Batch => {
      const entries = bulkyEntries(2);
      return makeBatch(entries, sink.partitionKey(entries[0]!));
    };
    await ship(sink, batch());
    now += 9 * 60_000;
    await ship(sink, batch());
    expect(files()).toHaveLength(1);
    now += 60_000; // 10 minutes since the file was started
    await ship(sink, batch());
    expect(files()).toHaveLength(2);
    expect(files()[1]).toMatch(/-000002\.ndjson\.gz$/);
    expect((await storedUnder(dir)).length).toBe(6);
  });

  test('state of idle partitions is forgotten', async () => {
    const sink = sinkWith({ FILE_ROTATE_AGE: '2m' });
    for (const app of ['a', 'b', 'c']) {
      const entries = bulkyEntries(1, app);
      await ship(sink, makeBatch(entries, sink.partitionKey(entries[0]!)));
    }
    expect(sink.currentFiles().size).toBe(3);
    now += 3 * 60_000;
    const entries = bulkyEntries(1, 'd');
    await ship(sink, makeBatch(entries, sink.partitionKey(entries[0]!)));
    expect([...sink.currentFiles().keys()]).toEqual(['app=d/dt=2026-11-26/hour=20']);
  });

  test('a torn last member (crash mid-append) leaves the earlier members readable', async () => {
    const sink = sinkWith();
    const first = bulkyEntries(3);
    const second = bulkyEntries(4);
    await ship(sink, makeBatch(first, sink.partitionKey(first[0]!)));
    await ship(sink, makeBatch(second, sink.partitionKey(second[0]!)));
    const path = join(dir, files()[0]!);
    // What a crash halfway through the third append leaves behind.
    const third = await sink.encode(makeBatch(bulkyEntries(5), 'x'));
    appendFileSync(path, third.body.subarray(0, Math.floor(third.body.length / 2)));

    const read = await readFileSinkFile(path);
    expect(read.torn).toBe(true);
    expect(read.lines.slice(0, 7)).toEqual([...first, ...second].map((e) => e.line));
    // The system's zcat prints the whole members and then reports the damage.
    const zcat = spawnSync('zcat', [path], { encoding: 'utf8' });
    expect(zcat.status).not.toBe(0);
    expect(zcat.stdout.split('\n').slice(0, 7)).toEqual([...first, ...second].map((e) => e.line));
  });

  test('FILE_COMPRESSION=zstd: .ndjson.zst files of one zstd frame per batch, read by zstd and by the reader', async () => {
    const sink = sinkWith({ FILE_COMPRESSION: 'zstd' });
    const batches = [bulkyEntries(3), bulkyEntries(4), bulkyEntries(5)].map((e) => makeBatch(e, sink.partitionKey(e[0]!)));
    for (const b of batches) await ship(sink, b);
    expect(files()).toEqual(['app=bulky/dt=2026-11-26/hour=20/20261126T203437.000Z-test-agent-000001.ndjson.zst']);
    const path = join(dir, files()[0]!);
    const all = batches.map((b) => b.ndjson.toString('utf8')).join('');
    expect(zstdDecompressSync(readFileSync(path)).toString('utf8')).toBe(all);
    const zstdcat = spawnSync('zstd', ['-dc', path], { encoding: 'utf8' });
    expect(zstdcat.status).toBe(0);
    expect(zstdcat.stdout).toBe(all);
    expect(await readFileSinkFile(path)).toEqual({ lines: batches.flatMap((b) => batchLines(b)), torn: false });

    // A torn last frame (crash mid-append): the frames before it still read.
    const third = await sink.encode(makeBatch(bulkyEntries(5), 'x'));
    appendFileSync(path, third.body.subarray(0, Math.floor(third.body.length / 2)));
    const read = await readFileSinkFile(path);
    expect(read.torn).toBe(true);
    expect(read.lines.slice(0, 12)).toEqual(batches.flatMap((b) => batchLines(b)));
  });

  test('FILE_COMPRESSION=none: plain .ndjson files', async () => {
    const sink = sinkWith({ FILE_COMPRESSION: 'none' });
    const batches = [bulkyEntries(2), bulkyEntries(3)].map((e) => makeBatch(e, sink.partitionKey(e[0]!)));
    for (const b of batches) await ship(sink, b);
    expect(files()).toEqual(['app=bulky/dt=2026-11-26/hour=20/20261126T203437.000Z-test-agent-000001.ndjson']);
    expect(readFileSync(join(dir, files()[0]!), 'utf8')).toBe(batches.map((b) => b.ndjson.toString('utf8')).join(''));
    expect(await listFileSinkFiles(dir)).toEqual(files());
  });

  test('a failed append is cut back and the partition moves to a new file', async () => {
    const sink = sinkWith();
    const make = (): Batch => {
      const entries = bulkyEntries(2);
      return makeBatch(entries, sink.partitionKey(entries[0]!));
    };
    await ship(sink, make());
    const [firstFile] = files();
    // Something replaces the current file by a folder: the next append fails (EISDIR).
    unlinkSync(join(dir, firstFile!));
    mkdirSync(join(dir, firstFile!));
    const failing = make();
    const error = await sink.send(await sink.encode(failing), failing, live).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkIoError);
    expect((error as SinkIoError).message).toContain(firstFile!.split('/').pop());
    expect(sink.classify(error)).toBe('permanent');
    // The retry goes to a fresh file.
    await sink.send(await sink.encode(failing), failing, live);
    const written = files().filter((f) => f !== firstFile);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/-000002\.ndjson\.gz$/);
    expect((await readFileSinkFile(join(dir, written[0]!))).lines).toEqual(batchLines(failing));
  });

  test('concurrent sends are appended one at a time, members intact', async () => {
    const sink = sinkWith();
    const batches = Array.from({ length: 8 }, () => {
      const entries = bulkyEntries(20);
      return makeBatch(entries, sink.partitionKey(entries[0]!));
    });
    const encoded = await Promise.all(batches.map((b) => sink.encode(b)));
    await Promise.all(batches.map((b, i) => sink.send(encoded[i]!, b, live)));
    const read = await readFileSinkFile(join(dir, files()[0]!));
    expect(read.torn).toBe(false);
    expect(read.lines).toEqual(batches.flatMap((b) => batchLines(b)));
  });

  test('a DATA_DIR below a regular file: healthcheck and send fail with a clear, permanent error', async () => {
    writeFileSync(join(dir, 'not-a-folder'), 'x');
    const bad = join(dir, 'not-a-folder', 'data');
    const sink = new FileSink(configFor(bad), { agentInstanceId: AGENT });
    const health = await sink.healthcheck(live).catch((e: unknown) => e);
    expect(health).toBeInstanceOf(SinkIoError);
    expect((health as Error).message).toContain(`DATA_DIR ${bad} cannot be created`);
    expect((health as Error).message).toContain('ENOTDIR');
    const [batch] = batchesFor(sink, sampleEntries());
    const error = await sink.send(await sink.encode(batch!), batch!, live).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkIoError);
    expect(sink.classify(error)).toBe('permanent');
  });

  test('healthcheck creates DATA_DIR and leaves no probe behind', async () => {
    const fresh = join(dir, 'a', 'b');
    const sink = new FileSink(configFor(fresh), { agentInstanceId: AGENT });
    await sink.healthcheck(live);
    expect(readdirSync(fresh)).toEqual([]);
  });
});
