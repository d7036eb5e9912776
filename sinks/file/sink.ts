// Local gzip (or zstd, or plain) NDJSON files in Hive-style partition folders (DATA_DIR/app=…/dt=…/hour=…/).
//
// Each batch is its own file, named like the S3 sink's objects after the batch's first entry
// time and its key (Batch.key), which every attempt and every replay of the batch shares,
// also after a crash. It is written whole to a hidden temporary file in the same folder,
// synced, and renamed to its name: rename replaces a file of that name atomically, so a
// replay of a batch an earlier attempt had already written replaces that copy, and a crash
// mid-write leaves at most a hidden temporary file, never a torn or second copy.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { classifyFailure, type FailureAction } from '../../src/errors.js';
import type { LogEntry } from '../../src/intake/entry.js';
import { objectFileName, type PartitionTemplate } from '../shared/object-key.js';
import type { Batch, EncodedBatch, SendResult, Sink, SinkContext, SinkKind } from '../../src/pipeline/sink.js';
import { firstEntry } from '../../src/pipeline/batch.js';
import { archiveExtension, compressNdjson, initialRatio } from '../shared/compression.js';
import type { FileSinkConfig } from './config.js';
import { fileSinkError } from './errors.js';

export interface FileSinkOptions {
  /** Instance name (metrics and logs label); default 'file'. */
  readonly name?: string;
}

export class FileSink implements Sink {
  readonly name: string;
  readonly kind: SinkKind = 'file';
  /** Until the core has measured real batches. */
  readonly initialEncodedRatio: number;
  readonly #extension: string;
  readonly #config: FileSinkConfig;
  readonly #template: PartitionTemplate;
  // Writes run one at a time whatever the core's in-flight limit: two attempts of one batch
  // (its key, its temporary file) never overlap.
  #tail: Promise<unknown> = Promise.resolve();

  constructor(config: FileSinkConfig, _context: Pick<SinkContext, 'agentInstanceId'>, options: FileSinkOptions = {}) {
    this.name = options.name ?? 'file';
    this.#config = config;
    this.#template = config.partitions;
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

  async send(encoded: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<SendResult | undefined> {
    signal.throwIfAborted();
    const run = this.#tail.then(() => this.#write(encoded.body, batch, signal));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Where a batch's file goes (absolute path); for tests and tools. */
  pathOf(batch: Batch): string {
    return join(this.#config.dataDir, batch.partition, objectFileName(firstEntryMs(batch), batch.key, this.#extension));
  }

  async #write(body: Uint8Array, batch: Batch, signal: AbortSignal): Promise<SendResult | undefined> {
    // Checked again here: the batch may have waited behind another write.
    signal.throwIfAborted();
    const path = this.pathOf(batch);
    const dir = join(this.#config.dataDir, batch.partition);
    const name = path.slice(dir.length + 1);
    // Hidden and not `.ndjson*`, so readers skip it; the same for every attempt of the batch,
    // so a replay takes over a temporary file a crash left behind.
    const temp = join(dir, `.${name}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw fileSinkError(`file sink: cannot create ${dir}`, error);
    }
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, 'w');
      await handle.writeFile(body);
      // Delivered means on disk: the core forgets the batch once send resolves.
      await handle.datasync();
      await handle.close();
      handle = undefined;
      // A replay may find its own earlier copy (written, then the process died before the spool's ack).
      const existed = batch.replay === true && existsSync(path);
      await rename(temp, path);
      // The new name must survive a power cut too, not only the bytes.
      await syncDirectory(dir);
      return existed ? { overwrote: true } : undefined;
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw fileSinkError(`file sink: cannot write ${path}`, error);
    }
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
    // No handle stays open between batches; wait for a write in progress.
    return this.#tail.then(() => undefined);
  }
}

/** The time of the batch's first entry (file names sort by it); its receive time when unparseable. */
function firstEntryMs(batch: Batch): number {
  const first = firstEntry(batch);
  if (first === undefined) return batch.receivedAtMs;
  const ms = Date.parse(first.timestamp);
  return Number.isNaN(ms) ? first.receivedAtMs : ms;
}

/** Makes a renamed file's directory entry durable too (best effort: not every file system supports it). */
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
