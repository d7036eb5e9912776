// The deployment target's memory: fly.toml's VM has 256 MB, and the agent sizes its default
// memory buffer from the limit it sees (src/config/memory-budget.ts). When this machine lets us
// create cgroup v1 memory groups, every agent and bare-subscriber process runs in one of its
// own with that limit, so the agent reads the limit itself, exactly as on Fly; otherwise the
// agent is told the buffer that limit would give (BUFFER_MAX_BYTES), and nothing limits it.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUFFER_SHARE_OF_MEMORY, defaultBufferBudget, type MemoryLimit } from '../src/config/memory-budget.js';

const CGROUP_V1_MEMORY = '/sys/fs/cgroup/memory';

export interface VmMemory {
  /** The VM's memory, bytes; undefined: the machine as it is (BENCH_VM_MEMORY=0). */
  readonly bytes: number | undefined;
  /** How the limit is applied. */
  readonly mode: 'cgroup v1' | 'emulated' | 'none';
  /** What the agent's config sees as its machine (for the bench's own loadConfig). */
  readonly limit: MemoryLimit | undefined;
  /** Extra agent environment: BUFFER_MAX_BYTES when emulated. */
  readonly agentEnv: Readonly<Record<string, string>>;
  /** One line for BENCHMARKS.md's machine table. */
  readonly description: string;
}

let probed: boolean | undefined;

/** Whether we may create memory cgroups (v1) here: tried once, by creating and removing one. */
function cgroupV1Writable(): boolean {
  if (probed !== undefined) return probed;
  const dir = join(CGROUP_V1_MEMORY, `logferry-bench-probe-${process.pid}`);
  try {
    mkdirSync(dir);
    try {
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(256 * 1024 * 1024));
      probed = true;
    } finally {
      rmdirSync(dir);
    }
  } catch {
    probed = false;
  }
  return probed;
}

export function vmMemory(bytes: number | undefined): VmMemory {
  if (bytes === undefined) return { bytes, mode: 'none', limit: undefined, agentEnv: {}, description: "none: the agent sees this machine's memory" };
  const budget = defaultBufferBudget({ bytes, source: 'cgroup v1' });
  const mb = `${Math.round(bytes / 1024 / 1024)} MiB`;
  const budgetText = `${budget / 1024 / 1024} MiB`;
  if (cgroupV1Writable()) {
    return {
      bytes,
      mode: 'cgroup v1',
      limit: { bytes, source: 'cgroup v1' },
      agentEnv: {},
      description: `${mb} (fly.toml's VM): each agent and bare-subscriber process runs in a cgroup v1 memory group of its own with \`memory.limit_in_bytes=${bytes}\`; the agent reads the limit itself, so its default buffer budget is ${budgetText} (${BUFFER_SHARE_OF_MEMORY * 8}/8 of it)`,
    };
  }
  return {
    bytes,
    mode: 'emulated',
    limit: { bytes, source: 'cgroup v1' },
    agentEnv: { BUFFER_MAX_BYTES: String(budget) },
    description: `${mb} (fly.toml's VM), emulated: no writable cgroup v1 memory controller here, so the agent gets \`BUFFER_MAX_BYTES=${budget}\` (the ${budgetText} budget it would derive on that VM) and nothing limits its memory`,
  };
}

let groups = 0;

/** A memory cgroup for one process, with the VM's limit; removed once the process has exited. */
export class ProcessCgroup {
  readonly dir: string;

  constructor(bytes: number) {
    this.dir = join(CGROUP_V1_MEMORY, `logferry-bench-${process.pid}-${++groups}`);
    mkdirSync(this.dir);
    writeFileSync(join(this.dir, 'memory.limit_in_bytes'), String(bytes));
  }

  /**
   * `/bin/sh` that joins this group and then execs `command` (so the process is in the group
   * from its first allocation and sees the limit at start-up). Returns [file, args].
   */
  wrap(command: string, args: readonly string[]): [string, string[]] {
    return ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.dir, command, ...args]];
  }

  /** The group's peak memory charge (RSS plus page cache), bytes. */
  maxUsage(): number {
    try {
      return Number(readFileSync(join(this.dir, 'memory.max_usage_in_bytes'), 'utf8').trim());
    } catch {
      return Number.NaN;
    }
  }

  /** Times the limit was hit (the kernel reclaimed or the OOM killer acted). */
  failCount(): number {
    try {
      return Number(readFileSync(join(this.dir, 'memory.failcnt'), 'utf8').trim());
    } catch {
      return Number.NaN;
    }
  }

  /** After the process exited (its group may take a moment to empty). */
  async remove(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        rmdirSync(this.dir);
        return;
      } catch (error) {
        if (i >= 50) throw error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

/** A group for one process when the bench runs in cgroup mode; undefined otherwise. */
export function processCgroup(vm: VmMemory): ProcessCgroup | undefined {
  return vm.mode === 'cgroup v1' && vm.bytes !== undefined ? new ProcessCgroup(vm.bytes) : undefined;
}
