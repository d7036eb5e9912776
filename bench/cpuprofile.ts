// Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and ranks functions by self time,
// plus a summary by origin (logferry's own code, each dependency, Node internals, GC).
// Only the main thread is profiled: work on libuv's pool (zlib) shows as idle time there.
//
//   node dist/bench/cpuprofile.js <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './paths.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface SelfTimeRow {
  readonly name: string;
  readonly location: string;
  readonly origin: string;
  readonly selfMs: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  /** Every function, most self time first (idle excluded). */
  readonly rows: readonly SelfTimeRow[];
  /** Self time by origin, most first (idle excluded). */
  readonly origins: ReadonlyArray<{ readonly origin: string; readonly selfMs: number }>;
}

function shortUrl(url: string): string {
  let u = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const root = `${REPO_ROOT}/`;
  if (u.startsWith(root)) u = u.slice(root.length);
  return u;
}

/** Where a function comes from: `logferry <dir>`, `npm <package>`, `node`, or V8's pseudo-frames. */
function originOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node';
  const u = shortUrl(url);
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return `npm ${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (u.startsWith('dist/')) return `logferry ${u.split('/').slice(1, -1).join('/') || '.'}`;
  return u;
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // A sample lasts until the next one (as Chrome DevTools counts it); the last until endTime.
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  const times: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    times.push(t);
  }
  for (let i = 0; i < samples.length; i++) {
    const next = i + 1 < samples.length ? times[i + 1]! : profile.endTime;
    const d = Math.max(0, next - times[i]!);
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + d);
  }
  const rows = new Map<string, { name: string; location: string; origin: string; us: number }>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const f = node.callFrame;
    const name = f.functionName || '(anonymous)';
    totalUs += us;
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    const location = f.url === '' ? '' : `${shortUrl(f.url)}:${f.lineNumber + 1}`;
    const key = `${name}\u0000${location}`;
    const row = rows.get(key) ?? { name, location, origin: originOf(f.url, name), us: 0 };
    row.us += us;
    rows.set(key, row);
  }
  const list = [...rows.values()].sort((a, b) => b.us - a.us).map((r) => ({ name: r.name, location: r.location, origin: r.origin, selfMs: r.us / 1000 }));
  const origins = new Map<string, number>();
  for (const r of list) origins.set(r.origin, (origins.get(r.origin) ?? 0) + r.selfMs);
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    rows: list,
    origins: [...origins].map(([origin, selfMs]) => ({ origin, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function renderSummary(summary: ProfileSummary, top = 25): string {
  const busy = summary.totalMs - summary.idleMs;
  const pct = (v: number): string => `${((v / busy) * 100).toFixed(1).padStart(5)} %`;
  const lines: string[] = [];
  lines.push(`main thread: ${(summary.totalMs / 1000).toFixed(2)} s profiled, ${(busy / 1000).toFixed(2)} s busy, ${(summary.idleMs / 1000).toFixed(2)} s idle (percentages are of busy time)`);
  lines.push('');
  lines.push(`top ${top} functions by self time:`);
  lines.push('| # | self ms | share | function | where |');
  lines.push('|---:|---:|---:|---|---|');
  summary.rows.slice(0, top).forEach((r, i) => {
    lines.push(`| ${i + 1} | ${r.selfMs.toFixed(1)} | ${pct(r.selfMs)} | \`${r.name}\` | ${r.location || r.origin} |`);
  });
  lines.push('');
  lines.push('self time by origin:');
  lines.push('| origin | self ms | share |');
  lines.push('|---|---:|---:|');
  for (const o of summary.origins.slice(0, 20)) lines.push(`| ${o.origin} | ${o.selfMs.toFixed(1)} | ${pct(o.selfMs)} |`);
  return lines.join('\n');
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: node dist/bench/cpuprofile.js <file.cpuprofile> [top=25]\n');
    process.exit(2);
  }
  process.stdout.write(`${renderSummary(summarise(readProfile(file)), Number(process.argv[3] ?? 25))}\n`);
}
