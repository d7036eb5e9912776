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
  // In a container the process's cgroup is the root of its view; elsewhere (systemd, a child
  // cgroup) /proc/self/cgroup names it. The smallest limit on the way applies.
  const own = ownCgroups(root);
  const v2 = minLimit([join(root, 'sys/fs/cgroup/memory.max'), ...(own.v2 !== undefined ? [join(root, 'sys/fs/cgroup', own.v2, 'memory.max')] : [])]);
  if (v2 !== undefined) return { bytes: Math.min(v2, total), source: 'cgroup v2' };
  const v1 = minLimit([join(root, 'sys/fs/cgroup/memory/memory.limit_in_bytes'), ...(own.v1 !== undefined ? [join(root, 'sys/fs/cgroup/memory', own.v1, 'memory.limit_in_bytes')] : [])]);
  if (v1 !== undefined) return { bytes: Math.min(v1, total), source: 'cgroup v1' };
  return { bytes: total, source: 'total memory' };
}

function minLimit(paths: readonly string[]): number | undefined {
  let min: number | undefined;
  for (const path of paths) {
    const n = readLimitFile(path);
    if (n !== undefined && (min === undefined || n < min)) min = n;
  }
  return min;
}

/** This process's cgroup paths from /proc/self/cgroup: v2 (`0::/path`) and v1's memory controller (`N:memory:/path`). */
function ownCgroups(root: string): { v2?: string; v1?: string } {
  let text: string;
  try {
    text = readFileSync(join(root, 'proc/self/cgroup'), 'utf8');
  } catch {
    return {};
  }
  const found: { v2?: string; v1?: string } = {};
  for (const line of text.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (path === undefined || path === '/' || path.includes('..')) continue;
    if (controllers === '') found.v2 = path;
    else if (controllers!.split(',').includes('memory')) found.v1 = path;
  }
  return found;
}

const MiB = 1024 * 1024;
/** Share of the memory limit the memory buffers of all sinks may hold together (one budget they share). */
export const BUFFER_SHARE_OF_MEMORY = 1 / 8;
export const BUFFER_BUDGET_MIN_BYTES = 8 * MiB;
export const BUFFER_BUDGET_MAX_BYTES = 64 * MiB;

/**
 * The default memory buffer of all sinks together: an eighth of the memory limit, between
 * 8 and 64 MiB. On a 256 MB Fly VM that is 32 MiB; entries held may briefly reach twice that
 * while the spool writes the overflow, next to Node's ~60 MiB baseline and the heap, so peak
 * RSS stays under 200 MiB. Beyond memory the disk spool takes the overflow, so a larger
 * buffer buys little.
 */
export function defaultBufferBudget(limit: MemoryLimit): number {
  const share = Math.floor(limit.bytes * BUFFER_SHARE_OF_MEMORY);
  return Math.max(BUFFER_BUDGET_MIN_BYTES, Math.min(BUFFER_BUDGET_MAX_BYTES, share));
}

