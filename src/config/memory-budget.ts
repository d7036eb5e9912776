// How much memory the process may really use, and the default memory buffer derived from
// it. A container or VM limit (cgroup v2 memory.max, else v1 memory.limit_in_bytes) wins
// over the machine's total memory, which a limited process can never have.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';

export interface MemoryLimit {
  readonly bytes: number;
  /** Where the number came from, for the start-up line. */
  readonly source: 'cgroup v2' | 'cgroup v1' | 'total memory';
}

// cgroup v1 says "no limit" with a huge number (PAGE_COUNTER_MAX pages, about 2^63); anything
// above this is treated as none.
const NO_LIMIT_ABOVE = 2 ** 50;

function readLimitFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (text === '' || text === 'max') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n >= NO_LIMIT_ABOVE) return undefined;
  return n;
}

/**
 * The memory limit of this process. `root` is the file system root (tests pass a directory of
 * fake files); `total` the machine's memory when no cgroup limit applies.
 */
export function readMemoryLimit(root = '/', total: number = totalmem()): MemoryLimit {
  const v2 = readLimitFile(join(root, 'sys/fs/cgroup/memory.max'));
  if (v2 !== undefined) return { bytes: Math.min(v2, total), source: 'cgroup v2' };
  const v1 = readLimitFile(join(root, 'sys/fs/cgroup/memory/memory.limit_in_bytes'));
  if (v1 !== undefined) return { bytes: Math.min(v1, total), source: 'cgroup v1' };
  return { bytes: total, source: 'total memory' };
}

const MiB = 1024 * 1024;
/** Share of the memory limit the memory buffers of all sinks may hold together. */
export const BUFFER_SHARE_OF_MEMORY = 1 / 8;
export const BUFFER_BUDGET_MIN_BYTES = 8 * MiB;
export const BUFFER_BUDGET_MAX_BYTES = 64 * MiB;

/**
 * The default memory buffer of all sinks together: an eighth of the memory limit, between
 * 8 and 64 MiB. On a 256 MB Fly VM that is 32 MiB; the pipeline may hold up to 1.5 × that in
 * batch buffers, next to Node's ~60 MiB baseline and the heap, so peak RSS stays under 200 MiB.
 * Beyond memory the disk spool takes the overflow, so a larger buffer buys little.
 */
export function defaultBufferBudget(limit: MemoryLimit): number {
  const share = Math.floor(limit.bytes * BUFFER_SHARE_OF_MEMORY);
  return Math.max(BUFFER_BUDGET_MIN_BYTES, Math.min(BUFFER_BUDGET_MAX_BYTES, share));
}

/** Each sink's default buffer: an equal part of the budget (at least 1 MiB). */
export function bufferShare(budget: number, sinks: number): number {
  return Math.max(MiB, Math.floor(budget / Math.max(1, sinks)));
}
