// A crash-safe, bounded disk spool for one sink: batches that cannot be delivered now are
// appended to segment files and handed back, oldest first, until acknowledged.
//
// Layout of `dir`: `<first seq>.seg` segment files (records framed by spool-format.ts) and,
// per segment, an `<first seq>.ack` sidecar listing acknowledged seqs. A segment is deleted
// once every record in it is acknowledged. Records are never rewritten, so a crash can only
// leave a torn tail, which the checksums reveal; reading resynchronises on the next magic.
//
// Memory: only per-segment counters and the records currently handed out are kept; records
// are read one at a time through a 1 MiB window (positional reads), never whole segments.
import { mkdir, open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LogferryError, errorMessage } from '../errors.js';
import {
  HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  RECORD_MAGIC,
  ackFileName,
  decodeAcks,
  decodePayload,
  encodeAck,
  encodeNdjsonRecordParts,
  parseFileName,
  payloadIntact,
  readHeader,
  segmentFileName,
  type BatchName,
  type RecordHeader,
} from './spool-format.js';

export type SpoolFullPolicy = 'drop_oldest' | 'drop_newest';

export interface SpoolOptions {
  /** This sink's own directory (created if missing). */
  readonly dir: string;
  /** Bound on the spool's disk use (segment bytes; may be exceeded by at most one record while appending). */
  readonly maxBytes: number;
  /** Segment file size target (default: maxBytes / 8, at most 8 MiB). */
  readonly segmentBytes?: number;
  readonly onFull: SpoolFullPolicy;
  /**
   * An append resolves only once its record is on disk (fdatasync; default true). Appends that
   * arrive while one fdatasync runs are written at once and share the next one (group commit).
   */
  readonly fsync?: boolean;
  /** Tests: stands in for FileHandle.datasync (to count or delay the calls). */
  readonly datasync?: (fd: FileHandle) => Promise<void>;
}

export interface SpoolRecord {
  /** Position in the spool, increasing. */
  readonly seq: number;
  readonly partition: string;
  /** The batch's durable name stem, as appended (or derived from the payload; see spool-format.ts). */
  readonly key: string;
  /** When the batch's first entry was received (undefined for records of format version 1). */
  readonly receivedAtMs: number | undefined;
  /** The entries' JSON lines (LogEntry.line), in order. */
  readonly lines: readonly string[];
}

/** A queued append encoded as the pieces of its record, waiting to be written with its neighbours. */
interface PlannedRecord {
  readonly item: QueuedAppend;
  readonly parts: Buffer[];
  readonly bytes: number;
}

interface QueuedAppend {
  readonly partition: string;
  readonly ndjson: Buffer;
  readonly count: number;
  readonly batch: BatchName | undefined;
  readonly onWritten: (() => void) | undefined;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface AppendResult {
  /** False when the record was refused: drop_newest with the spool full, or a record larger than maxBytes. */
  readonly stored: boolean;
  /** Entries of older records deleted to make room (drop_oldest). */
  readonly evictedEntries: number;
}

export interface SpoolStats {
  /** Bytes of the segment files on disk now. */
  bytes: number;
  /** The bound on `bytes` (SpoolOptions.maxBytes). */
  readonly maxBytes: number;
  /** The spool's directory. */
  readonly dir: string;
  /** Unacknowledged records and their entries, including those currently handed out. */
  records: number;
  entries: number;
  /** Of those, the ones handed out by next() (or released) and not yet acknowledged. */
  outRecords: number;
  outEntries: number;
  /** Records appended by this process. */
  written: number;
  /** fdatasync calls made for appends (group commit: usually far fewer than `written`). */
  fsyncs: number;
  /** Records handed out by next() (a released record handed out again counts again). */
  replayed: number;
  /** Damaged regions skipped (each torn or corrupt record, or run of garbage, counts once), at open and while reading. */
  corruptSkipped: number;
  /** Entries that were counted as stored (written or recovered) but turned out unreadable; lost, count them dropped. */
  lostEntries: number;
  /** Records refused by append (spool full under drop_newest, or larger than maxBytes). */
  refused: number;
  /** Records and entries evicted by drop_oldest, in total. */
  evictedRecords: number;
  evictedEntries: number;
}

export type SpoolErrorCode = 'SPOOL_UNAVAILABLE' | 'SPOOL_WRITE_FAILED' | 'SPOOL_READ_FAILED' | 'SPOOL_CLOSED';

export class SpoolError extends LogferryError {
  declare readonly code: SpoolErrorCode;
  constructor(code: SpoolErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

// Each segment roll costs several file operations (sync, close, open, directory sync), each
// waiting for a turn of the event loop, which full intake makes long (see ARCHITECTURE).
const MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
const WINDOW_BYTES = 1024 * 1024;

interface Segment {
  readonly firstSeq: number;
  readonly path: string;
  readonly ackPath: string;
  /** Bytes that may be read: the file size at open, or what was written successfully since. */
  size: number;
  /** No more appends: a segment from before this process, or one rotated away from. */
  sealed: boolean;
  /** Deleted by drop_oldest while some of its records were handed out; kept readable through readFd. */
  evicted: boolean;
  /** Valid records not acknowledged yet (and their entries), including handed-out ones. */
  records: number;
  entries: number;
  /** Of those, the ones the read cursor has not reached; what is left when it leaves the segment was lost. */
  ahead: number;
  aheadEntries: number;
  /** Handed out (or released) and not acknowledged. */
  out: number;
  outEntries: number;
  /** Seqs acknowledged before this process started, for the cursor to skip. */
  ackedBefore: Set<number> | undefined;
  /** Damaged regions found at open (start → end), so the cursor skips them without counting twice. */
  damaged: Map<number, number> | undefined;
  readFd: FileHandle | undefined;
  writeFd: FileHandle | undefined;
  ackFd: FileHandle | undefined;
}

interface OutRecord {
  readonly seq: number;
  readonly seg: Segment;
  readonly offset: number;
  readonly entries: number;
  released: boolean;
}

type Inspected =
  | { readonly kind: 'record'; readonly header: RecordHeader; readonly next: number; readonly payload: Buffer | undefined }
  | { readonly kind: 'acked'; readonly header: RecordHeader; readonly next: number }
  | { readonly kind: 'damaged'; readonly resume: number };

/** A read window over one segment at a time; views it returns are valid until the next call. */
class ReadWindow {
  private readonly buf = Buffer.allocUnsafe(WINDOW_BYTES);
  private owner: Segment | undefined;
  private start = 0;
  private length = 0;

  /** Exactly `length` bytes at `offset`; throws on a short read (the file is shorter than expected). */
  async view(seg: Segment, fd: FileHandle, offset: number, length: number): Promise<Buffer> {
    if (seg === this.owner && offset >= this.start && offset + length <= this.start + this.length) {
      return this.buf.subarray(offset - this.start, offset - this.start + length);
    }
    if (length > this.buf.length) {
      const big = Buffer.allocUnsafe(length);
      const got = await readFully(fd, big, length, offset);
      if (got < length) throw shortRead(seg, offset);
      return big;
    }
    this.owner = undefined;
    const got = await readFully(fd, this.buf, this.buf.length, offset);
    this.owner = seg;
    this.start = offset;
    this.length = got;
    if (got < length) throw shortRead(seg, offset);
    return this.buf.subarray(0, length);
  }

  forget(seg: Segment): void {
    if (this.owner === seg) this.owner = undefined;
  }
}

class ShortReadError extends Error {}

function shortRead(seg: Segment, offset: number): ShortReadError {
  return new ShortReadError(`${seg.path} ends before offset ${offset}`);
}

async function readFully(fd: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fd.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Writes `bufs` one after another from `position`, in one writev unless the kernel takes less. */
async function writeAllFully(fd: FileHandle, bufs: readonly Buffer[], position: number): Promise<void> {
  let pending = bufs.filter((b) => b.length > 0);
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await fd.writev(pending, at);
    at += bytesWritten;
    let skip = bytesWritten;
    while (pending.length > 0 && skip >= pending[0]!.length) skip -= pending.shift()!.length;
    if (skip > 0) pending[0] = pending[0]!.subarray(skip);
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

async function closeQuietly(fd: FileHandle | undefined): Promise<void> {
  if (fd === undefined) return;
  try {
    await fd.close();
  } catch {
    // Nothing useful to do: the descriptor is gone either way.
  }
}

function isEio(error: unknown): boolean {
  return error instanceof ShortReadError || (error as NodeJS.ErrnoException | undefined)?.code === 'EIO';
}

function newSegment(dir: string, firstSeq: number): Segment {
  return {
    firstSeq,
    path: join(dir, segmentFileName(firstSeq)),
    ackPath: join(dir, ackFileName(firstSeq)),
    size: 0,
    sealed: false,
    evicted: false,
    records: 0,
    entries: 0,
    ahead: 0,
    aheadEntries: 0,
    out: 0,
    outEntries: 0,
    ackedBefore: undefined,
    damaged: undefined,
    readFd: undefined,
    writeFd: undefined,
    ackFd: undefined,
  };
}

export class Spool {
  readonly stats: SpoolStats;
  /** Entries of unacknowledged records that were on disk at open (for the accounting identity across restarts). */
  readonly recoveredEntries: number;

  readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly onFull: SpoolFullPolicy;
  private readonly fsync: boolean;
  /** Live segments, oldest first; the last one may be the active (appended-to) segment. */
  private readonly segments: Segment[];
  private active: Segment | undefined;
  private nextSeq: number;
  /** Read cursor: the segment and offset of the next record not yet handed out. */
  private cursorSeg: Segment | undefined;
  private cursorOffset = 0;
  private readonly out = new Map<number, OutRecord>();
  /** Released records, by seq; handed out again before anything at the cursor. */
  private readonly released: OutRecord[] = [];
  private readonly window = new ReadWindow();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Segments written since their last fdatasync. */
  private readonly dirty = new Set<Segment>();
  /** Appends written and waiting for an fdatasync that starts after their write. */
  private syncWaiters: Array<() => void> = [];
  /** The group-commit loop, while it runs. */
  private syncLoop: Promise<void> | undefined;
  /** An fdatasync failed: the next append reports it (the records it covered stay readable here). */
  private syncError: unknown;
  /** fdatasync itself, replaceable by tests that count calls. */
  private readonly datasync: (fd: FileHandle) => Promise<void>;
  /** Appends waiting for the lock; the next holder writes them all. */
  private appendQueue: QueuedAppend[] = [];

  private constructor(opts: SpoolOptions, segments: Segment[], nextSeq: number, scanned: { corrupt: number }) {
    this.stats = {
      bytes: 0,
      maxBytes: opts.maxBytes,
      dir: opts.dir,
      records: 0,
      entries: 0,
      outRecords: 0,
      outEntries: 0,
      written: 0,
      fsyncs: 0,
      replayed: 0,
      corruptSkipped: 0,
      lostEntries: 0,
      refused: 0,
      evictedRecords: 0,
      evictedEntries: 0,
    };
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    this.segmentBytes = Math.max(1, Math.min(opts.segmentBytes ?? Math.min(MAX_SEGMENT_BYTES, Math.floor(opts.maxBytes / 8)), opts.maxBytes));
    this.onFull = opts.onFull;
    this.fsync = opts.fsync ?? true;
    this.datasync = opts.datasync ?? ((fd) => fd.datasync());
    this.segments = segments;
    this.nextSeq = nextSeq;
    this.cursorSeg = segments[0];
    let entries = 0;
    for (const seg of segments) {
      this.stats.bytes += seg.size;
      this.stats.records += seg.records;
      entries += seg.entries;
    }
    this.stats.entries = entries;
    this.stats.corruptSkipped = scanned.corrupt;
    this.recoveredEntries = entries;
  }

  /** Opens (creating if needed) the spool in `opts.dir` and scans what a previous run left there. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes <= 0) throw new RangeError('spool maxBytes must be a positive integer');
    if (opts.segmentBytes !== undefined && (!Number.isSafeInteger(opts.segmentBytes) || opts.segmentBytes <= 0)) {
      throw new RangeError('spool segmentBytes must be a positive integer');
    }
    const dir = opts.dir;
    let names: string[];
    try {
      await mkdir(dir, { recursive: true });
      // mkdir succeeds on an existing directory of a read-only file system: prove we can write.
      const probe = join(dir, `.probe-${process.pid}`);
      const fd = await open(probe, 'w');
      try {
        await fd.write(RECORD_MAGIC);
      } finally {
        await fd.close();
      }
      await unlink(probe);
      names = await readdir(dir);
    } catch (error) {
      throw new SpoolError('SPOOL_UNAVAILABLE', `spool directory ${dir} is not usable: ${errorMessage(error)}`, { cause: error });
    }

    const segmentSeqs: number[] = [];
    const ackSeqs = new Set<number>();
    for (const name of names) {
      // A probe left by a process killed between its write and its unlink.
      if (name.startsWith('.probe-')) await unlinkIfPresent(join(dir, name)).catch(() => undefined);
      const parsed = parseFileName(name);
      if (parsed?.kind === 'segment') segmentSeqs.push(parsed.firstSeq);
      else if (parsed?.kind === 'ack') ackSeqs.add(parsed.firstSeq);
    }
    segmentSeqs.sort((a, b) => a - b);

    const window = new ReadWindow();
    const scanned = { corrupt: 0 };
    let maxSeq = 0;
    const live: Segment[] = [];
    try {
      for (const firstSeq of segmentSeqs) {
        maxSeq = Math.max(maxSeq, firstSeq);
        const seg = newSegment(dir, firstSeq);
        const ackedBefore = ackSeqs.has(firstSeq) ? decodeAcks(await readFile(seg.ackPath)) : new Set<number>();
        ackSeqs.delete(firstSeq);
        const lastSeq = await scanSegment(seg, ackedBefore, window, scanned);
        maxSeq = Math.max(maxSeq, lastSeq);
        seg.sealed = true;
        if (seg.records === 0) {
          await unlinkIfPresent(seg.path);
          await unlinkIfPresent(seg.ackPath);
          continue;
        }
        seg.ackedBefore = ackedBefore.size > 0 ? ackedBefore : undefined;
        seg.ahead = seg.records;
        seg.aheadEntries = seg.entries;
        live.push(seg);
      }
      // Sidecars whose segment is gone (a crash between the two unlinks).
      for (const firstSeq of ackSeqs) await unlinkIfPresent(join(dir, ackFileName(firstSeq)));
    } catch (error) {
      throw new SpoolError('SPOOL_UNAVAILABLE', `spool directory ${dir} could not be read: ${errorMessage(error)}`, { cause: error });
    }
    return new Spool(opts, live, maxSeq + 1, scanned);
  }

  /**
   * Appends one batch as one record. Callers may call it concurrently; appends are serialised.
   * Throws SpoolError SPOOL_WRITE_FAILED on disk errors (nothing was stored then).
   */
  append(partition: string, lines: readonly string[], batch?: BatchName): Promise<AppendResult> {
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.includes('\n')) return Promise.reject(new RangeError('spool lines must not contain a raw newline'));
    }
    const ndjson = Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8');
    return this.appendNdjson(partition, ndjson, lines.length, batch);
  }

  /** `append` for `count` lines already framed as NDJSON (a batch's bytes): written as they are. */
  async appendNdjson(partition: string, ndjson: Buffer, count: number, batch?: BatchName, onWritten?: () => void): Promise<AppendResult> {
    const result = await new Promise<AppendResult>((resolve, reject) => {
      this.appendQueue.push({ partition, ndjson, count, batch, onWritten, resolve, reject });
      // Appends that arrive while one is written go out together, in one write: each write
      // waits for a turn of the event loop, which a busy intake makes long (see ARCHITECTURE).
      if (this.appendQueue.length === 1) {
        this.locked(() => this.appendQueuedLocked()).catch((error: unknown) => {
          // Closed before the round ran: nothing queued will be written.
          for (const item of this.appendQueue.splice(0)) item.reject(error);
        });
      }
    });
    // Written under the lock, synced outside it: the next appends write while this one syncs.
    if (result.stored && this.fsync) await this.whenSynced();
    return result;
  }

  /** Resolves after an fdatasync that started after this call covered every dirty segment. */
  private whenSynced(): Promise<void> {
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      this.syncLoop ??= this.runSyncs().finally(() => {
        this.syncLoop = undefined;
      });
    });
  }

  /** Group commit: each round syncs what was written before it started and releases those waiting for it. */
  private async runSyncs(): Promise<void> {
    while (this.syncWaiters.length > 0) {
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      const segs = [...this.dirty];
      this.dirty.clear();
      for (const seg of segs) {
        const fd = seg.writeFd;
        if (fd === undefined) continue; // sealed meanwhile: seal() synced it before closing
        try {
          this.stats.fsyncs++;
          await this.datasync(fd);
        } catch (error) {
          // Closed by seal() (which synced first) or removed: nothing to report. Else the data
          // is written but maybe not durable: the records stay readable in this process (and
          // counted); the next append fails, so the caller stops trusting this disk for a while.
          if (seg.writeFd === fd) this.syncError = error;
        }
      }
      for (const resolve of waiters) resolve();
    }
  }

  /** The next unacknowledged record not currently handed out, oldest first; undefined when none. Skips and counts damaged records. */
  next(): Promise<SpoolRecord | undefined> {
    return this.locked(() => this.nextLocked());
  }

  /**
   * The record was delivered (or permanently rejected): never hand it out again, also not after
   * a restart. Unknown seqs are ignored. If persisting the ack fails, it still holds for this
   * process and SPOOL_WRITE_FAILED is thrown (the record may be replayed after a restart).
   */
  ack(seq: number): Promise<void> {
    return this.locked(() => this.ackLocked(seq));
  }

  /** The record could not be delivered now; next() hands it out again, before newer records. */
  release(seq: number): void {
    const rec = this.out.get(seq);
    if (rec === undefined || rec.released) return;
    rec.released = true;
    // Few records are ever out at once: a sorted insert is cheaper than a heap.
    let i = this.released.length;
    while (i > 0 && this.released[i - 1]!.seq > seq) i--;
    this.released.splice(i, 0, rec);
  }

  /** Waits for pending operations and closes every file. Unacknowledged records stay on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    const done = this.chain.then(async () => {
      this.closed = true;
      // Appends already written are waiting for their fdatasync: let it finish first.
      while (this.syncLoop !== undefined) await this.syncLoop;
      const segs = new Set<Segment>(this.segments);
      for (const rec of this.out.values()) segs.add(rec.seg);
      for (const seg of segs) {
        await closeQuietly(seg.readFd);
        await closeQuietly(seg.writeFd);
        await closeQuietly(seg.ackFd);
        seg.readFd = seg.writeFd = seg.ackFd = undefined;
      }
      this.out.clear();
      this.released.length = 0;
    });
    this.chain = done;
    await done;
  }

  private locked<T>(op: () => Promise<T>): Promise<T> {
    const result = this.chain.then(() => {
      if (this.closed) throw new SpoolError('SPOOL_CLOSED', `spool ${this.dir} is closed`);
      return op();
    });
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Writes every queued append: consecutive records of a segment in one write. */
  private async appendQueuedLocked(): Promise<void> {
    const queue = this.appendQueue;
    this.appendQueue = [];
    let group: PlannedRecord[] = [];
    let groupSeg: Segment | undefined;
    try {
      if (this.syncError !== undefined) {
        const error = this.syncError;
        this.syncError = undefined;
        throw new SpoolError('SPOOL_WRITE_FAILED', `spool fdatasync in ${this.dir} failed: ${errorMessage(error)}`, { cause: error });
      }
      let planned = 0;
      for (const item of queue) {
        const parts = encodeNdjsonRecordParts(this.nextSeq, item.partition, item.ndjson, item.count, item.batch);
        let n = 0;
        for (const part of parts) n += part.length;
        // A fully acknowledged active segment only holds space: give it back before judging fullness.
        if (group.length === 0 && this.stats.bytes + n > this.maxBytes && this.active !== undefined && this.active.records === 0) await this.seal(this.active);
        if (n > this.maxBytes || n - HEADER_BYTES > MAX_PAYLOAD_BYTES || (this.onFull === 'drop_newest' && this.stats.bytes + planned + n > this.maxBytes)) {
          this.stats.refused++;
          item.resolve({ stored: false, evictedEntries: 0 });
          continue;
        }
        this.nextSeq++;
        let seg = this.active;
        if (seg !== undefined && seg.size + planned > 0 && seg.size + planned + n > this.segmentBytes) {
          await this.writeGroup(groupSeg, group);
          group = [];
          planned = 0;
          await this.seal(seg);
          seg = undefined;
        }
        if (seg === undefined) seg = await this.createSegment(this.nextSeq - 1);
        groupSeg = seg;
        group.push({ item, parts, bytes: n });
        planned += n;
      }
      await this.writeGroup(groupSeg, group);
    } catch (error) {
      // This group and everything after it in the queue: not stored (their callers keep them).
      // Records already stored were resolved, and a settled promise ignores the rejection.
      for (const item of queue) item.reject(error);
    }
  }

  /** Writes records to the end of `seg` in one call, then counts them and evicts for room. */
  private async writeGroup(seg: Segment | undefined, group: readonly PlannedRecord[]): Promise<void> {
    if (seg === undefined || group.length === 0) return;
    const records = group.flatMap((g) => g.parts);
    try {
      await writeAllFully(seg.writeFd!, records, seg.size);
    } catch (error) {
      // Whatever part reached the file lies past `size`: never read in this process, a torn
      // tail after a restart. Appends continue in a fresh segment.
      await this.seal(seg);
      throw new SpoolError('SPOOL_WRITE_FAILED', `spool write to ${seg.path} failed: ${errorMessage(error)}`, { cause: error });
    }
    for (const { item, bytes: n } of group) {
      item.onWritten?.();
      seg.size += n;
      seg.records++;
      seg.entries += item.count;
      seg.ahead++;
      seg.aheadEntries += item.count;
      this.stats.bytes += n;
      this.stats.records++;
      this.stats.entries += item.count;
      this.stats.written++;
    }
    if (this.fsync) this.dirty.add(seg);
    let evictedEntries = 0;
    if (this.onFull === 'drop_oldest') {
      while (this.stats.bytes > this.maxBytes) {
        const oldest = this.segments[0];
        if (oldest === undefined || oldest === seg) break;
        evictedEntries += await this.evict(oldest);
      }
    }
    // Evictions are reported once, with the group's first record.
    for (const [i, { item }] of group.entries()) {
      item.resolve({ stored: true, evictedEntries: i === 0 ? evictedEntries : 0 });
    }
  }

  private async createSegment(firstSeq: number): Promise<Segment> {
    const seg = newSegment(this.dir, firstSeq);
    try {
      seg.writeFd = await open(seg.path, 'w');
      // The new directory entry must survive a power cut too, not only the data in it.
      if (this.fsync) {
        const dirFd = await open(this.dir, 'r');
        try {
          await dirFd.sync();
        } finally {
          await dirFd.close();
        }
      }
    } catch (error) {
      await closeQuietly(seg.writeFd);
      throw new SpoolError('SPOOL_WRITE_FAILED', `spool segment ${seg.path} could not be created: ${errorMessage(error)}`, { cause: error });
    }
    this.segments.push(seg);
    this.active = seg;
    if (this.cursorSeg === undefined) {
      this.cursorSeg = seg;
      this.cursorOffset = 0;
    }
    return seg;
  }

  private async seal(seg: Segment): Promise<void> {
    seg.sealed = true;
    if (this.active === seg) this.active = undefined;
    const fd = seg.writeFd;
    // Appends waiting for the group commit trust this: sync before the descriptor goes.
    // (Also when a group-commit round holding it may not have reached it yet.)
    if (fd !== undefined && this.fsync && (this.dirty.delete(seg) || this.syncLoop !== undefined)) {
      try {
        this.stats.fsyncs++;
        await this.datasync(fd);
      } catch (error) {
        this.syncError = error;
      }
    }
    seg.writeFd = undefined;
    await closeQuietly(fd);
    if (seg.records === 0) await this.remove(seg);
  }

  /** drop_oldest: deletes a segment; records handed out stay readable until acknowledged. Returns the entries lost. */
  private async evict(seg: Segment): Promise<number> {
    const records = seg.records - seg.out;
    const entries = seg.entries - seg.outEntries;
    this.stats.records -= records;
    this.stats.entries -= entries;
    this.stats.evictedRecords += records;
    this.stats.evictedEntries += entries;
    seg.records = seg.out;
    seg.entries = seg.outEntries;
    seg.ahead = 0;
    seg.aheadEntries = 0;
    if (seg.out > 0 && seg.readFd === undefined) {
      try {
        seg.readFd = await open(seg.path, 'r');
      } catch {
        // Handed-out records that are released will then count as lost when re-read.
      }
    }
    await this.remove(seg);
    return entries;
  }

  /** Forgets a segment and deletes its files (segment first: an orphaned sidecar is harmless). */
  private async remove(seg: Segment): Promise<void> {
    const i = this.segments.indexOf(seg);
    if (i === -1) return;
    this.segments.splice(i, 1);
    if (this.active === seg) this.active = undefined;
    if (this.cursorSeg === seg) {
      this.cursorSeg = this.segments[i];
      this.cursorOffset = 0;
    }
    this.stats.bytes -= seg.size;
    seg.ackedBefore = undefined;
    seg.damaged = undefined;
    this.dirty.delete(seg);
    const { writeFd, ackFd } = seg;
    seg.writeFd = seg.ackFd = undefined;
    await closeQuietly(writeFd);
    await closeQuietly(ackFd);
    if (seg.out > 0) {
      seg.evicted = true;
    } else {
      await closeQuietly(seg.readFd);
      seg.readFd = undefined;
      this.window.forget(seg);
    }
    try {
      await unlinkIfPresent(seg.path);
      await unlinkIfPresent(seg.ackPath);
    } catch {
      // The files stay behind and are scanned again after a restart: at worst duplicates, never a loss.
    }
  }

  private async nextLocked(): Promise<SpoolRecord | undefined> {
    for (;;) {
      const again = this.released.shift();
      if (again !== undefined) {
        again.released = false;
        const rec = await this.reread(again);
        if (rec !== undefined) {
          this.stats.replayed++;
          return rec;
        }
        continue;
      }

      const seg = this.cursorSeg;
      if (seg === undefined) return undefined;
      const offset = this.cursorOffset;
      if (offset >= seg.size) {
        if (!seg.sealed) return undefined;
        await this.leave(seg);
        continue;
      }
      const known = seg.damaged?.get(offset);
      if (known !== undefined) {
        this.cursorOffset = known;
        continue;
      }

      let found: Inspected;
      try {
        found = await inspect(seg, await this.readFd(seg), this.window, offset, seg.ackedBefore, true);
      } catch (error) {
        if (!isEio(error)) throw new SpoolError('SPOOL_READ_FAILED', `spool read from ${seg.path} failed: ${errorMessage(error)}`, { cause: error });
        // An unreadable stretch of disk: give up on the rest of this segment, keep draining the others.
        found = { kind: 'damaged', resume: seg.size };
      }
      if (found.kind === 'damaged') {
        this.stats.corruptSkipped++;
        this.cursorOffset = found.resume;
        continue;
      }
      this.cursorOffset = found.next;
      if (found.kind === 'acked') continue;
      const decoded = decodePayload(found.payload!, found.header.entries, found.header.version);
      if (decoded === undefined) {
        this.stats.corruptSkipped++;
        continue;
      }
      const { seq, entries } = found.header;
      seg.ahead--;
      seg.aheadEntries -= entries;
      seg.out++;
      seg.outEntries += entries;
      this.stats.outRecords++;
      this.stats.outEntries += entries;
      this.out.set(seq, { seq, seg, offset, entries, released: false });
      this.stats.replayed++;
      return { seq, partition: decoded.partition, key: decoded.key, receivedAtMs: decoded.receivedAtMs, lines: decoded.lines };
    }
  }

  /** A released record, read again from where it was first found; undefined (and counted lost) if that fails now. */
  private async reread(rec: OutRecord): Promise<SpoolRecord | undefined> {
    const seg = rec.seg;
    try {
      const fd = seg.readFd ?? (seg.evicted ? undefined : await this.readFd(seg));
      if (fd !== undefined) {
        const found = await inspect(seg, fd, this.window, rec.offset, undefined, true);
        if (found.kind === 'record' && found.header.seq === rec.seq) {
          const decoded = decodePayload(found.payload!, found.header.entries, found.header.version);
          if (decoded !== undefined) return { seq: rec.seq, partition: decoded.partition, key: decoded.key, receivedAtMs: decoded.receivedAtMs, lines: decoded.lines };
        }
      }
    } catch (error) {
      if (!isEio(error)) {
        // Perhaps transient (out of descriptors): keep it for a later attempt.
        this.release(rec.seq);
        throw new SpoolError('SPOOL_READ_FAILED', `spool read from ${seg.path} failed: ${errorMessage(error)}`, { cause: error });
      }
    }
    this.stats.corruptSkipped++;
    this.stats.lostEntries += rec.entries;
    await this.settle(rec);
    return undefined;
  }

  /** The cursor leaves a sealed segment; valid records it never reached were destroyed in this run. */
  private async leave(seg: Segment): Promise<void> {
    if (seg.ahead > 0) {
      this.stats.lostEntries += seg.aheadEntries;
      this.stats.records -= seg.ahead;
      this.stats.entries -= seg.aheadEntries;
      seg.records -= seg.ahead;
      seg.entries -= seg.aheadEntries;
      seg.ahead = 0;
      seg.aheadEntries = 0;
    }
    seg.ackedBefore = undefined;
    seg.damaged = undefined;
    const i = this.segments.indexOf(seg);
    this.cursorSeg = this.segments[i + 1];
    this.cursorOffset = 0;
    if (seg.records === 0) {
      await this.remove(seg);
    } else if (seg.out === 0) {
      await closeQuietly(seg.readFd);
      seg.readFd = undefined;
    }
  }

  private async ackLocked(seq: number): Promise<void> {
    const rec = this.out.get(seq);
    if (rec === undefined) return;
    if (rec.released) this.released.splice(this.released.indexOf(rec), 1);
    const seg = rec.seg;
    await this.settle(rec);
    if (seg.evicted || this.segments.indexOf(seg) === -1) return;
    try {
      seg.ackFd ??= await open(seg.ackPath, 'a');
      // Not fsynced: after a power cut the record is replayed, which at-least-once allows.
      await seg.ackFd.write(encodeAck(seq));
    } catch (error) {
      throw new SpoolError('SPOOL_WRITE_FAILED', `spool ack to ${seg.ackPath} failed: ${errorMessage(error)}`, { cause: error });
    }
  }

  /** A handed-out record is done with (acknowledged, or lost): drop it from every count. */
  private async settle(rec: OutRecord): Promise<void> {
    this.out.delete(rec.seq);
    const seg = rec.seg;
    seg.out--;
    seg.outEntries -= rec.entries;
    seg.records--;
    seg.entries -= rec.entries;
    this.stats.outRecords--;
    this.stats.outEntries -= rec.entries;
    this.stats.records--;
    this.stats.entries -= rec.entries;
    if (seg.evicted) {
      if (seg.out === 0) {
        await closeQuietly(seg.readFd);
        seg.readFd = undefined;
        this.window.forget(seg);
      }
      return;
    }
    if (seg.sealed && seg.records === 0) await this.remove(seg);
  }

  private async readFd(seg: Segment): Promise<FileHandle> {
    seg.readFd ??= await open(seg.path, 'r');
    return seg.readFd;
  }
}

/**
 * What lies at `offset`: an intact record (payload verified when `withPayload`), a record
 * acknowledged before (not read further), or a damaged region and where the next intact
 * header starts. Reads only through the window, so memory stays at one record.
 */
async function inspect(
  seg: Segment,
  fd: FileHandle,
  window: ReadWindow,
  offset: number,
  ackedBefore: Set<number> | undefined,
  withPayload: boolean,
): Promise<Inspected> {
  const end = seg.size;
  if (offset + HEADER_BYTES > end) return { kind: 'damaged', resume: end };
  const header = readHeader(await window.view(seg, fd, offset, HEADER_BYTES));
  if (header === undefined) return { kind: 'damaged', resume: await resync(seg, fd, window, offset + 1) };
  const next = offset + HEADER_BYTES + header.payloadBytes;
  // A torn tail: the header made it to disk, not all of the payload.
  if (next > end) return { kind: 'damaged', resume: await resync(seg, fd, window, offset + 1) };
  if (ackedBefore?.has(header.seq)) return { kind: 'acked', header, next };
  if (!withPayload) return { kind: 'record', header, next, payload: undefined };
  const payload = await window.view(seg, fd, offset + HEADER_BYTES, header.payloadBytes);
  // The header is intact, so its length can be trusted to step over the damaged payload.
  if (!payloadIntact(payload, header)) return { kind: 'damaged', resume: next };
  return { kind: 'record', header, next, payload };
}

/** The offset of the next intact header at or after `from`, or the segment's end. */
async function resync(seg: Segment, fd: FileHandle, window: ReadWindow, from: number): Promise<number> {
  const end = seg.size;
  let pos = from;
  while (pos + HEADER_BYTES <= end) {
    const chunk = await window.view(seg, fd, pos, Math.min(WINDOW_BYTES, end - pos));
    const hit = chunk.indexOf(RECORD_MAGIC);
    if (hit === -1) {
      // Keep the last bytes: a magic may straddle the chunk boundary.
      pos += Math.max(1, chunk.length - (RECORD_MAGIC.length - 1));
      continue;
    }
    const candidate = pos + hit;
    if (candidate + HEADER_BYTES > end) return end;
    if (readHeader(await window.view(seg, fd, candidate, HEADER_BYTES)) !== undefined) return candidate;
    pos = candidate + 1;
  }
  return end;
}

/** Open-time scan of one segment: counts its valid unacknowledged records and notes damaged regions. Returns the highest seq seen. */
async function scanSegment(seg: Segment, ackedBefore: Set<number>, window: ReadWindow, scanned: { corrupt: number }): Promise<number> {
  const fd = await open(seg.path, 'r');
  let maxSeq = 0;
  try {
    seg.size = (await fd.stat()).size;
    let offset = 0;
    while (offset < seg.size) {
      let found: Inspected;
      try {
        found = await inspect(seg, fd, window, offset, ackedBefore, true);
      } catch (error) {
        if (!isEio(error)) throw error;
        found = { kind: 'damaged', resume: seg.size };
      }
      if (found.kind === 'damaged') {
        scanned.corrupt++;
        (seg.damaged ??= new Map()).set(offset, found.resume);
        offset = found.resume;
        continue;
      }
      maxSeq = Math.max(maxSeq, found.header.seq);
      offset = found.next;
      if (found.kind === 'acked') continue;
      seg.records++;
      seg.entries += found.header.entries;
    }
  } finally {
    window.forget(seg);
    await fd.close();
  }
  return maxSeq;
}
