// What the OS says about a process (Linux /proc): CPU-seconds and memory. The benchmark
// compares CPU cost, not wall-clock, because the machine is shared and noisy; /proc counts
// every thread of the process, so compression on libuv's pool is charged to the agent too.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU-seconds the process has used so far (all threads). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / clockTicks();
}

/** CPU-seconds per thread name so far (`/proc/<pid>/task`; threads of one name summed). */
export function threadCpu(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byName.set(name, (byName.get(name) ?? 0) + (Number(rest[11]) + Number(rest[12])) / clockTicks());
    }
  } catch {
    // The process (or a thread) is gone.
  }
  return byName;
}

/**
 * CPU-seconds per thread since `before` (a threadCpu reading), e.g. "MainThread 2.10,
 * libuv-worker 0.85, V8Worker 0.02": where the CPU goes besides the main thread (compression
 * runs on libuv's pool). Diagnostics for the log, not a benchmark figure.
 */
export function threadCpuText(pid: number, before: ReadonlyMap<string, number> = new Map()): string {
  return [...threadCpu(pid)]
    .map(([n, s]) => [n, s - (before.get(n) ?? 0)] as const)
    .sort(([, a], [, b]) => b - a)
    .filter(([, s]) => s >= 0.01)
    .map(([n, s]) => `${n} ${s.toFixed(2)}`)
    .join(', ');
}

/** Minor page faults so far (all threads): each first touch of freshly mapped memory is one. */
export function minorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

export interface MemoryStatus {
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** Peak resident set size (VmHWM), bytes. */
  readonly peakRss: number;
}

export function memoryStatus(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rss: kib('VmRSS'), peakRss: kib('VmHWM') };
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly natsServer: string;
  readonly loadAverage: readonly number[];
  /** V8's heap limit for a process started without flags on this machine (V8 sizes it from the memory it sees). */
  readonly v8HeapLimitBytes: number;
  readonly commit: string;
  readonly date: string;
}

function tryRun(command: string, args: readonly string[], cwd?: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(natsServerBin: string, repoRoot: string): MachineInfo {
  const list = cpus();
  let dirty = '';
  const status = tryRun('git', ['status', '--porcelain', '--untracked-files=no'], repoRoot);
  if (status !== '' && status !== 'unknown') dirty = ' (with uncommitted changes)';
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryBytes: totalmem(),
    node: process.version,
    natsServer: tryRun(natsServerBin, ['--version']),
    loadAverage: loadavg(),
    v8HeapLimitBytes: getHeapStatistics().heap_size_limit,
    commit: tryRun('git', ['rev-parse', '--short', 'HEAD'], repoRoot) + dirty,
    date: new Date().toISOString(),
  };
}
