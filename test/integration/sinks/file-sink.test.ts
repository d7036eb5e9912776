// The file sink on a real file system (a temporary DATA_DIR per test).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
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
import { batchFromLines, batchLines } from '../../../src/pipeline/batch.js';

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

/** Entries with incompressible messages (bodies of a few KiB). */
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
  const live = new AbortController().signal;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logferry-file-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function sinkWith(env: Record<string, string> = {}): FileSink {
    return new FileSink(configFor(dir, env), { agentInstanceId: AGENT });
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

  test('layout: app=<app>/dt=<YYYY-MM-DD>/hour=<HH>/<time>-<batch key>.ndjson.gz, one file per batch', async () => {
    const sink = sinkWith();
    const batches = batchesFor(sink, sampleEntries());
    for (const batch of batches) await ship(sink, batch);
    expect(files()).toEqual(
      [
        `app=dc-team-52-simon-46d213/dt=2022-09-27/hour=20/20220927T203437.253Z-${batches[0]!.key}.ndjson.gz`,
        `app=shop-api/dt=2026-11-26/hour=20/20261126T203437.000Z-${batches[1]!.key}.ndjson.gz`,
        `app=terrateam-app-production/dt=2026-11-26/hour=20/20261126T203439.500Z-${batches[2]!.key}.ndjson.gz`,
        `app=terrateam-db-production/dt=2026-11-26/hour=20/20261126T203441.002Z-${batches[3]!.key}.ndjson.gz`,
        `app=logferry/dt=2026-11-26/hour=20/20261126T203442.000Z-${batches[4]!.key}.ndjson.gz`,
        `app=edge-cache/dt=2026-11-26/hour=20/20261126T203443.999Z-${batches[5]!.key}.ndjson.gz`,
      ].sort(),
    );
    for (const b of batches) expect(sink.pathOf(b).startsWith(`${dir}/`)).toBe(true);
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

  test('batches of one partition are files of their own, each exactly its batch', async () => {
    const sink = sinkWith();
    const batches = [bulkyEntries(3), bulkyEntries(4), bulkyEntries(5)].map((e) => makeBatch(e, sink.partitionKey(e[0]!)));
    for (const b of batches) await ship(sink, b);
    expect(files()).toHaveLength(3);
    for (const b of batches) {
      const raw = readFileSync(sink.pathOf(b));
      expect(gunzipSync(raw).toString('utf8')).toBe(b.ndjson.toString('utf8'));
    }
    expect((await storedUnder(dir)).length).toBe(12);
  });

  test('a replayed batch replaces the copy an earlier attempt wrote: one copy, and the overwrite is reported', async () => {
    const sink = sinkWith();
    const entries = bulkyEntries(4);
    const batch = makeBatch(entries, sink.partitionKey(entries[0]!));
    // The first attempt wrote the file; the process died before the spool's acknowledgement.
    expect(await sink.send(await sink.encode(batch), batch, live)).toBeUndefined();
    // The next process reads the record back: same key, same entries, marked as a replay.
    const replay: Batch = { ...batchFromLines(99, batch.partition, batchLines(batch), batch.receivedAtMs, batch.key, true) };
    const fresh = new FileSink(configFor(dir), { agentInstanceId: 'another-run' });
    expect(await fresh.send(await fresh.encode(replay), replay, live)).toEqual({ overwrote: true });
    expect(files()).toEqual([relative(dir, sink.pathOf(batch))]);
    expect((await storedUnder(dir)).length).toBe(4);
    // A replay whose first attempt never got as far reports no overwrite.
    const other = makeBatch(bulkyEntries(2), batch.partition);
    const otherReplay = batchFromLines(100, other.partition, batchLines(other), other.receivedAtMs, other.key, true);
    expect(await fresh.send(await fresh.encode(otherReplay), otherReplay, live)).toBeUndefined();
    expect((await storedUnder(dir)).length).toBe(6);
  });

  test('a crash mid-write leaves only a hidden temporary file, which readers skip and the replay takes over', async () => {
    const sink = sinkWith();
    const entries = bulkyEntries(3);
    const batch = makeBatch(entries, sink.partitionKey(entries[0]!));
    const path = sink.pathOf(batch);
    const encoded = await sink.encode(batch);
    // What a kill -9 halfway through the write leaves behind.
    const temp = join(dirname(path), `.${basename(path)}.tmp`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temp, encoded.body.subarray(0, Math.floor(encoded.body.length / 2)));
    expect(await listFileSinkFiles(dir)).toEqual([]);
    const replay = batchFromLines(7, batch.partition, batchLines(batch), batch.receivedAtMs, batch.key, true);
    expect(await sink.send(await sink.encode(replay), replay, live)).toBeUndefined();
    expect(files()).toEqual([relative(dir, path)]);
    const read = await readFileSinkFile(path);
    expect(read).toEqual({ lines: batchLines(batch), torn: false });
  });

  test('a failed write leaves nothing behind and is retried under the same name', async () => {
    const sink = sinkWith();
    const entries = bulkyEntries(2);
    const batch = makeBatch(entries, sink.partitionKey(entries[0]!));
    // Something holds the batch's name as a folder: the rename fails (EISDIR).
    mkdirSync(sink.pathOf(batch), { recursive: true });
    const error = await sink.send(await sink.encode(batch), batch, live).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkIoError);
    expect((error as SinkIoError).message).toContain(basename(sink.pathOf(batch)));
    expect(sink.classify(error)).toBe('permanent');
    expect(files()).toEqual([]);
    rmSync(sink.pathOf(batch), { recursive: true });
    await sink.send(await sink.encode(batch), batch, live);
    expect(files()).toEqual([relative(dir, sink.pathOf(batch))]);
    expect((await readFileSinkFile(sink.pathOf(batch))).lines).toEqual(batchLines(batch));
  });

  test('concurrent sends each land whole in their own file', async () => {
    const sink = sinkWith();
    const batches = Array.from({ length: 8 }, () => {
      const entries = bulkyEntries(20);
      return makeBatch(entries, sink.partitionKey(entries[0]!));
    });
    const encoded = await Promise.all(batches.map((b) => sink.encode(b)));
    await Promise.all(batches.map((b, i) => sink.send(encoded[i]!, b, live)));
    expect(files()).toHaveLength(8);
    for (const b of batches) expect(await readFileSinkFile(sink.pathOf(b))).toEqual({ lines: batchLines(b), torn: false });
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
