import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultBufferBudget, readMemoryLimit } from '../../src/config/memory-budget.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'logferry-memory-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function fake(path: string, text: string): Promise<void> {
  const full = join(root, path);
  await mkdir(join(full, '..'), { recursive: true });
  await writeFile(full, text);
}

describe('readMemoryLimit', () => {
  it('reads cgroup v2 memory.max', async () => {
    await fake('sys/fs/cgroup/memory.max', '268435456\n');
    expect(readMemoryLimit(root, 8 * GiB)).toEqual({ bytes: 256 * MiB, source: 'cgroup v2' });
  });

  it('treats cgroup v2 "max" as no limit and falls through to v1, then total memory', async () => {
    await fake('sys/fs/cgroup/memory.max', 'max\n');
    expect(readMemoryLimit(root, 8 * GiB)).toEqual({ bytes: 8 * GiB, source: 'total memory' });
    await fake('sys/fs/cgroup/memory/memory.limit_in_bytes', '536870912\n');
    expect(readMemoryLimit(root, 8 * GiB)).toEqual({ bytes: 512 * MiB, source: 'cgroup v1' });
  });

  it('reads cgroup v1 memory.limit_in_bytes and ignores its "unlimited" value', async () => {
    await fake('sys/fs/cgroup/memory/memory.limit_in_bytes', '1073741824\n');
    expect(readMemoryLimit(root, 8 * GiB)).toEqual({ bytes: GiB, source: 'cgroup v1' });
    await fake('sys/fs/cgroup/memory/memory.limit_in_bytes', '9223372036854771712\n');
    expect(readMemoryLimit(root, 8 * GiB)).toEqual({ bytes: 8 * GiB, source: 'total memory' });
  });

  it('uses total memory without any cgroup file, and never more than it', async () => {
    expect(readMemoryLimit(root, 3 * GiB)).toEqual({ bytes: 3 * GiB, source: 'total memory' });
    await fake('sys/fs/cgroup/memory.max', String(16 * GiB));
    expect(readMemoryLimit(root, 3 * GiB)).toEqual({ bytes: 3 * GiB, source: 'cgroup v2' });
  });

  it("reads the process's own cgroup named in /proc/self/cgroup (v1 memory controller, v2 unified), the smallest limit winning", async () => {
    await fake('proc/self/cgroup', '12:memory:/logferry-vm\n11:cpu,cpuacct:/\n');
    await fake('sys/fs/cgroup/memory/memory.limit_in_bytes', '9223372036854771712\n');
    await fake('sys/fs/cgroup/memory/logferry-vm/memory.limit_in_bytes', String(256 * MiB));
    expect(readMemoryLimit(root, 8 * GiB)).toEqual({ bytes: 256 * MiB, source: 'cgroup v1' });
    await fake('proc/self/cgroup', '0::/system.slice/logferry.service\n');
    await fake('sys/fs/cgroup/memory.max', 'max\n');
    await fake('sys/fs/cgroup/system.slice/logferry.service/memory.max', String(512 * MiB));
    expect(readMemoryLimit(root, 8 * GiB)).toEqual({ bytes: 512 * MiB, source: 'cgroup v2' });
  });

  it('ignores garbage in the files', async () => {
    await fake('sys/fs/cgroup/memory.max', 'lots\n');
    await fake('sys/fs/cgroup/memory/memory.limit_in_bytes', '-1\n');
    expect(readMemoryLimit(root, 2 * GiB).source).toBe('total memory');
  });
});

describe('defaultBufferBudget', () => {
  it('is an eighth of the limit, between 8 and 64 MiB', () => {
    expect(defaultBufferBudget({ bytes: 256 * MiB, source: 'cgroup v2' })).toBe(32 * MiB);
    expect(defaultBufferBudget({ bytes: 32 * MiB, source: 'cgroup v2' })).toBe(8 * MiB);
    expect(defaultBufferBudget({ bytes: 24 * GiB, source: 'total memory' })).toBe(64 * MiB);
  });

});
