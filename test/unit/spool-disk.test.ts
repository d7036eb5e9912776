import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mountOf, spoolBoundFromFree, spoolSurvivesRestart } from '../../src/spool/spool-disk.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
// The shape of /proc/self/mountinfo on a Fly machine with a volume at /data.
const FLY_WITH_VOLUME = [
  '22 1 253:1 / / rw,relatime - overlay overlay rw,lowerdir=/x',
  '23 22 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw',
  '30 22 253:2 / /data rw,relatime - ext4 /dev/vdc rw',
  '31 22 0:30 / /tmp rw - tmpfs tmpfs rw',
  '32 22 253:3 / /data\\040old rw - ext4 /dev/vdd rw',
].join('\n');

const root = mkdtempSync(join(tmpdir(), 'logferry-spool-disk-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('spool disk facts', () => {
  it('bounds the default spool at half the free space, between 16 MiB and 10 GiB', () => {
    expect(spoolBoundFromFree(3 * GiB)).toBe(1.5 * GiB);
    expect(spoolBoundFromFree(80 * GiB)).toBe(10 * GiB);
    expect(spoolBoundFromFree(10 * MiB)).toBe(16 * MiB);
  });

  it('finds the mount holding a path: the longest mount point that prefixes it', () => {
    expect(mountOf('/data/spool/http', FLY_WITH_VOLUME)).toEqual({ mountPoint: '/data', fsType: 'ext4' });
    expect(mountOf('/app/data/spool', FLY_WITH_VOLUME)).toEqual({ mountPoint: '/', fsType: 'overlay' });
    expect(mountOf('/database', FLY_WITH_VOLUME)).toEqual({ mountPoint: '/', fsType: 'overlay' });
    expect(mountOf('/data old/spool', FLY_WITH_VOLUME)).toEqual({ mountPoint: '/data old', fsType: 'ext4' });
  });

  it('says a spool survives a restart off Fly, and on Fly only on a mounted volume', async () => {
    const mountinfo = join(root, 'mountinfo');
    writeFileSync(mountinfo, FLY_WITH_VOLUME);
    expect(await spoolSurvivesRestart(root, false, mountinfo)).toBe(true);
    // root (under the OS temp dir) resolves under `/` or `/tmp` of this fake table: not a volume.
    expect(await spoolSurvivesRestart(root, true, mountinfo)).toBe(false);
    writeFileSync(mountinfo, FLY_WITH_VOLUME.replace(' /tmp rw - tmpfs tmpfs', ' /tmp rw - ext4 /dev/vde'));
    expect(await spoolSurvivesRestart(root, true, mountinfo)).toBe(root.startsWith('/tmp/'));
    expect(await spoolSurvivesRestart(join(root, 'missing'), true, mountinfo)).toBe(false);
  });
});
