// Local gzip NDJSON files in Hive-style partition folders (DATA_DIR/app=…/dt=…/hour=…/);
// zstd or plain NDJSON with FILE_COMPRESSION.
//
// Each batch is appended to its partition's current file as ONE complete gzip member (zstd
// frame), in one append. Concatenated members are a valid gzip file (zcat, Node's gunzip,
// DuckDB), concatenated frames a valid zstd file (zstdcat, Node's zstdDecompress), so a
// crash can leave at most a torn last member, and every member before it stays readable. A failed attempt is cut back off the file (truncate to its size before the
// attempt) and the partition moves to a new file, so a retried batch is never written twice
// and a half-written member is never followed by good ones.
import { randomBytes } from 'node:crypto';
import { mkdir, open, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { classifyFailure, type FailureAction } from '../../src/errors.js';
import type { LogEntry } from '../../src/intake/entry.js';
import { objectFileName, type PartitionTemplate } from '../shared/object-key.js';
import type { Batch, EncodedBatch, Sink, SinkContext, SinkKind } from '../../src/pipeline/sink.js';
import { firstEntry } from '../../src/pipeline/batch.js';
import { archiveExtension, compressNdjson, initialRatio } from '../shared/compression.js';
import type { FileSinkConfig } from './config.js';
import { fileSinkError } from './errors.js';

export interface FileSinkOptions {
  /** Instance name (metrics and logs label); default 'file'. */
  readonly name?: string;
  /** Wall clock for rotation by age; tests pass a fake one. */
  readonly clock?: () => number;
}

interface CurrentFile {
  readonly path: string;
  readonly openedAtMs: number;
  /** Bytes this sink has appended (the file's size, as nobody else writes to it). */
  bytes: number;
}

// Partitions with a current file. A partition not written to for rotateAge would rotate
// anyway, so its state is dropped; the cap bounds memory even for templates like {instance}
// (past it, the least recently written partition starts a new file on its next batch).
const MAX_CURRENT_FILES = 10_000;

export class FileSink implements Sink {
  readonly name: string;
  readonly kind: SinkKind = 'file';
  /** Until the core has measured real batches: compressed JSON logs shrink to roughly a sixth. */
  readonly initialEncodedRatio: number;
  readonly #config: FileSinkConfig;
  readonly #template: PartitionTemplate;
  readonly #agentInstanceId: string;
  readonly #clock: () => number;
  readonly #extension: string;
  readonly #current = new LRUCache<string, CurrentFile>({ max: MAX_CURRENT_FILES });
  #seq = 0;
  #lastSweepMs = 0;
  // Appends run one at a time whatever the core's in-flight limit, so a partition's
  // members stay whole and in order and a failed append can be cut back safely.
  #tail: Promise<unknown> = Promise.resolve();

  constructor(config: FileSinkConfig, context: Pick<SinkContext, 'agentInstanceId'>, options: FileSinkOptions = {}) {
    this.name = options.name ?? 'file';
    this.#config = config;
    this.#template = config.partitions;
    this.#agentInstanceId = context.agentInstanceId;
    this.#clock = options.clock ?? Date.now;
    this.#extension = archiveExtension(config.compression);
    this.initialEncodedRatio = initialRatio(config.compression);
  }

  partitionKey(entry: LogEntry): string {
    return this.#template.render(entry);
  }

  async encode(batch: Batch): Promise<EncodedBatch> {
    const body = await compressNdjson(batch, this.#config.compression);
    return { body, entryCount: batch.count };
  }

  async send(encoded: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const run = this.#tail.then(() => this.#append(encoded.body, batch, signal));
    this.#tail = run.catch(() => undefined);
    await run;
  }

  /** Each partition's current file (absolute path), its size and when it was started; for tests and debugging. */
  currentFiles(): ReadonlyMap<string, { readonly path: string; readonly bytes: number; readonly openedAtMs: number }> {
    return new Map(this.#current.entries());
  }

  async #append(body: Uint8Array, batch: Batch, signal: AbortSignal): Promise<void> {
    // Checked again here: the batch may have waited behind another append. Past this
    // point the append runs to the end, since stopping halfway would tear a member.
    signal.throwIfAborted();
    const now = this.#clock();
    this.#sweep(now);
    const partition = batch.partition;
    let file = this.#current.get(partition);
    if (file !== undefined && (file.bytes >= this.#config.rotateBytes || now - file.openedAtMs >= this.#config.rotateAgeMs)) {
      this.#current.delete(partition);
      file = undefined;
    }
    let fresh = false;
    if (file === undefined) {
      const dir = join(this.#config.dataDir, partition);
      try {
        await mkdir(dir, { recursive: true });
      } catch (error) {
        throw fileSinkError(`file sink: cannot create ${dir}`, error);
      }
      signal.throwIfAborted();
      this.#seq++;
      file = { path: join(dir, objectFileName(firstEntryMs(batch), this.#agentInstanceId, this.#seq, this.#extension)), openedAtMs: now, bytes: 0 };
      fresh = true;
    }

    let handle: FileHandle | undefined;
    let sizeBefore = file.bytes;
    let writing = false;
    try {
      handle = await open(file.path, 'a');
      writing = true;
      sizeBefore = (await handle.stat()).size;
      await handle.appendFile(body);
      // Delivered means on disk: the core forgets the batch once send resolves.
      await handle.datasync();
      writing = false;
    } catch (error) {
      this.#current.delete(partition);
      if (handle !== undefined && writing) await cutBack(handle, file.path, sizeBefore, fresh);
      throw fileSinkError(`file sink: cannot append to ${file.path}`, error);
    } finally {
      await handle?.close().catch(() => undefined);
    }
    if (fresh) await syncDirectory(join(this.#config.dataDir, partition));

    file.bytes = sizeBefore + body.length;
    if (file.bytes >= this.#config.rotateBytes) {
      this.#current.delete(partition);
    } else if (fresh) {
      this.#current.set(partition, file);
    }
  }

  /** Drops partitions whose file is due for rotation anyway; runs at most a few times per rotation age. */
  #sweep(now: number): void {
    const every = Math.min(this.#config.rotateAgeMs, 60_000);
    if (now - this.#lastSweepMs < every) return;
    this.#lastSweepMs = now;
    const due: string[] = [];
    for (const [partition, file] of this.#current.entries()) if (now - file.openedAtMs >= this.#config.rotateAgeMs) due.push(partition);
    for (const partition of due) this.#current.delete(partition);
  }

  classify(error: unknown): FailureAction {
    return classifyFailure(error);
  }

  /** DATA_DIR can be created and written: writes and removes a probe file. */
  async healthcheck(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const dir = this.#config.dataDir;
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw fileSinkError(`DATA_DIR ${dir} cannot be created`, error);
    }
    const probe = join(dir, `.logferry-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(probe, 'probe\n', { signal });
    } catch (error) {
      throw fileSinkError(`DATA_DIR ${dir} is not writable`, error);
    }
    await unlink(probe).catch(() => undefined);
  }

  close(): Promise<void> {
    // No handle stays open between batches; wait for an append in progress.
    return this.#tail.then(() => undefined);
  }
}

/** The time of the batch's first entry (file names sort by it); its receive time when unparseable. */
function firstEntryMs(batch: Batch): number {
  const first = firstEntry(batch);
  if (first === undefined) return Date.now();
  const ms = Date.parse(first.timestamp);
  return Number.isNaN(ms) ? first.receivedAtMs : ms;
}

/** Undoes a failed append: the file goes back to its size before it, or away if it was new. */
async function cutBack(handle: FileHandle, path: string, sizeBefore: number, fresh: boolean): Promise<void> {
  try {
    await handle.truncate(sizeBefore);
    if (fresh && sizeBefore === 0) await unlink(path);
  } catch {
    // Best effort: the partition moves to a new file either way, so a torn member can only be a file's last.
  }
}

/** Makes a new file's directory entry durable too (best effort: not every file system supports it). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Durability of the name is a bonus; the data itself is already synced.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
