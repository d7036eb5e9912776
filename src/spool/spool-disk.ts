// Facts about the disk under the spool, read once at start: how much the spool may use when
// SPOOL_MAX_BYTES is not set, and whether what it holds survives the machine's restart.
import { readFileSync } from 'node:fs';
import { mkdir, realpath, statfs } from 'node:fs/promises';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Share of the free space at start the spools of all sinks may fill together. */
export const SPOOL_SHARE_OF_FREE = 1 / 2;
export const SPOOL_DEFAULT_MAX_BYTES = 10 * GiB;
export const SPOOL_DEFAULT_MIN_BYTES = 16 * MiB;

/** The spool's default bound, all sinks together: half the free space, at most 10 GiB, at least 16 MiB. */
export function spoolBoundFromFree(freeBytes: number): number {
  return Math.max(SPOOL_DEFAULT_MIN_BYTES, Math.min(SPOOL_DEFAULT_MAX_BYTES, Math.floor(freeBytes * SPOOL_SHARE_OF_FREE)));
}

/** Free bytes (for an unprivileged user) on the file system holding `dir`, which is created if missing. */
export async function freeBytesAt(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

export interface MountFacts {
  readonly mountPoint: string;
  readonly fsType: string;
}

/** The mount (from /proc/self/mountinfo text) that holds `path`: the longest mount point that prefixes it. */
export function mountOf(path: string, mountinfo: string): MountFacts | undefined {
  let best: MountFacts | undefined;
  for (const line of mountinfo.split('\n')) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": field 5 is the mount point; the type follows " - ".
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (fields.length < 5 || dash === -1 || dash + 1 >= fields.length) continue;
    const mountPoint = fields[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    const inside = mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);
    if (inside && (best === undefined || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, fsType: fields[dash + 1]! };
  }
  return best;
}

/**
 * Whether a spool at `dir` outlives a restart of the machine. Off Fly: yes (a local disk).
 * On Fly the root file system is rebuilt from the image on every deploy; only a mounted
 * volume (any mount other than `/`, overlay or rootfs) keeps its files.
 */
export async function spoolSurvivesRestart(dir: string, onFly: boolean, mountinfoPath = '/proc/self/mountinfo'): Promise<boolean> {
  if (!onFly) return true;
  let text: string;
  let real: string;
  try {
    text = readFileSync(mountinfoPath, 'utf8');
    real = await realpath(dir);
  } catch {
    return false;
  }
  const mount = mountOf(real, text);
  if (mount === undefined) return false;
  return mount.mountPoint !== '/' && !['overlay', 'rootfs', 'tmpfs'].includes(mount.fsType);
}
