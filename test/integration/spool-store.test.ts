// The spool store against real files and real crashes: a child node process appends (and
// acknowledges) records and is killed with SIGKILL mid-stream; a 200 MB spool is drained
// while RSS is watched. The child runs src/spool/spool.ts directly through Node's type stripping,
// so these tests do not depend on a build.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../support/agent.js';
import { waitFor } from '../support/poll.js';
import { Spool, type SpoolRecord } from '../../src/spool/spool.js';

const root = mkdtempSync(join(tmpdir(), 'logferry-spool-int-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SPOOL_MODULE = pathToFileURL(join(REPO_ROOT, 'src', 'spool', 'spool.ts')).href;

// Resolves the sources' `.js` imports to their `.ts` files, then runs the scenario named by MODE.
const CHILD = `
import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); } catch (error) {
      if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
      throw error;
    }
  },
});
const { Spool } = await import(process.env.SPOOL_MODULE);
const env = process.env;
const out = (line) => process.stdout.write(line + '\\n');
if (env.MODE === 'crash') {
  // Appends batches forever; every fourth append it takes the oldest record and acknowledges it.
  const spool = await Spool.open({ dir: env.DIR, maxBytes: 1e9, segmentBytes: 64 * 1024, onFull: 'drop_oldest' });
  out('open ' + spool.recoveredEntries);
  for (let b = Number(env.START); ; b++) {
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ b, i, pad: 'x'.repeat(150) }));
    await spool.append('p' + (b % 3), lines);
    out('A ' + b);
    if (b % 4 === 3) {
      const rec = await spool.next();
      if (rec) {
        const rb = JSON.parse(rec.lines[0]).b;
        out('k ' + rb);
        await spool.ack(rec.seq);
        out('K ' + rb);
      }
    }
  }
} else if (env.MODE === 'fill') {
  const spool = await Spool.open({ dir: env.DIR, maxBytes: 1e10, onFull: 'drop_oldest', fsync: false });
  const pad = 'y'.repeat(Number(env.LINE_BYTES));
  for (let b = 0; b < Number(env.RECORDS); b++) {
    await spool.append('p', Array.from({ length: Number(env.LINES) }, (_, i) => '{"b":' + b + ',"i":' + i + ',"pad":"' + pad + '"}'));
  }
  out('filled ' + spool.stats.bytes);
  await spool.close();
}
`;

interface ChildRun {
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
  stderr(): string;
}

function runChild(env: Record<string, string>): ChildRun {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', CHILD], {
    env: { PATH: process.env.PATH ?? '', SPOOL_MODULE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let err = '';
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { lines, exited, kill: () => child.kill('SIGKILL'), stderr: () => err };
}

function numbersAfter(lines: readonly string[], tag: string): number[] {
  return lines.filter((l) => l.startsWith(`${tag} `)).map((l) => Number(l.slice(tag.length + 1)));
}

const batchOf = (rec: SpoolRecord): number => (JSON.parse(rec.lines[0]!) as { b: number }).b;

describe('spool store with real crashes', () => {
  it('kill -9 mid-appends, twice: every confirmed record survives exactly once, acknowledged ones never come back', async () => {
    const dir = join(root, 'crash');
    const appended = new Set<number>();
    const ackStarted = new Set<number>();
    const acked = new Set<number>();
    let recoveredAtSecondStart = -1;

    for (const [round, start] of [[1, 0], [2, 100_000]] as const) {
      const child = runChild({ MODE: 'crash', DIR: dir, START: String(start) });
      await waitFor(() => numbersAfter(child.lines, 'A').length >= 150 && numbersAfter(child.lines, 'K').length >= 30, {
        what: `round ${round}: child appended 150 batches and acknowledged 30`,
        timeoutMs: 30_000,
        context: () => `stdout tail: ${child.lines.slice(-5).join(' | ')}\nstderr: ${child.stderr()}`,
      });
      child.kill();
      expect(await child.exited).toMatchObject({ signal: 'SIGKILL' });
      if (round === 2) recoveredAtSecondStart = Number(child.lines[0]!.split(' ')[1]);
      numbersAfter(child.lines, 'A').forEach((b) => appended.add(b));
      numbersAfter(child.lines, 'k').forEach((b) => ackStarted.add(b));
      numbersAfter(child.lines, 'K').forEach((b) => acked.add(b));
    }
    // The second child found the first one's unacknowledged records (it acknowledged some of them).
    expect(recoveredAtSecondStart).toBeGreaterThan(0);
    expect([...acked].some((b) => b < 100_000)).toBe(true);

    const spool = await Spool.open({ dir, maxBytes: 1e9, onFull: 'drop_oldest' });
    const replayed: SpoolRecord[] = [];
    for (let rec = await spool.next(); rec !== undefined; rec = await spool.next()) {
      replayed.push(rec);
      await spool.ack(rec.seq);
    }
    const got = replayed.map(batchOf);
    const expected = [...appended].filter((b) => !acked.has(b)).sort((a, b) => a - b);
    const maxConfirmed = (from: number): number => Math.max(...[...appended].filter((b) => b >= from && b < from + 100_000));
    // In flight at each kill: the append after the last confirmed one, and an acknowledgement begun but not confirmed.
    const mayBeExtra = new Set([maxConfirmed(0) + 1, maxConfirmed(100_000) + 1]);
    const mayBeMissing = new Set([...ackStarted].filter((b) => !acked.has(b)));

    expect(got).toEqual([...got].sort((a, b) => a - b)); // oldest first
    expect(new Set(got).size).toBe(got.length); // no duplicates
    expect(got.filter((b) => acked.has(b))).toEqual([]); // acknowledged: never replayed
    expect(expected.filter((b) => !got.includes(b) && !mayBeMissing.has(b))).toEqual([]); // confirmed: never lost
    expect(got.filter((b) => !expected.includes(b) && !mayBeExtra.has(b))).toEqual([]);
    for (const rec of replayed) {
      const b = batchOf(rec);
      expect(rec.partition).toBe(`p${b % 3}`);
      expect(rec.lines).toEqual(Array.from({ length: 20 }, (_, i) => JSON.stringify({ b, i, pad: 'x'.repeat(150) })));
    }
    expect(spool.recoveredEntries).toBe(replayed.length * 20);
    // A kill can at most tear the record being written in each round.
    expect(spool.stats.corruptSkipped).toBeLessThanOrEqual(2);
    expect(spool.stats.lostEntries).toBe(0);
    console.log(
      `spool crash test: ${appended.size} appends confirmed, ${acked.size} acks confirmed, ${got.length} records replayed after two SIGKILLs, ${spool.stats.corruptSkipped} torn`,
    );
    await spool.close();
  });

  it('drains a ~200 MB spool with flat memory (RSS measured, generous bound asserted)', async () => {
    const dir = join(root, 'big');
    // 200 records of 2000 lines of ~520 bytes: ~210 MB on disk.
    const fill = runChild({ MODE: 'fill', DIR: dir, RECORDS: '200', LINES: '2000', LINE_BYTES: '500' });
    const status = await fill.exited;
    expect(status, fill.stderr()).toMatchObject({ code: 0 });
    const diskBytes = Number(fill.lines.find((l) => l.startsWith('filled '))!.split(' ')[1]);
    expect(diskBytes).toBeGreaterThan(200e6);

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    const started = performance.now();
    const spool = await Spool.open({ dir, maxBytes: 1e10, onFull: 'drop_oldest' });
    sample();
    const openMs = performance.now() - started;
    expect(spool.stats.bytes).toBe(diskBytes);
    expect(spool.recoveredEntries).toBe(200 * 2000);

    let records = 0;
    let entries = 0;
    for (let rec = await spool.next(); rec !== undefined; rec = await spool.next()) {
      expect(batchOf(rec)).toBe(records);
      records++;
      entries += rec.lines.length;
      await spool.ack(rec.seq);
      sample();
    }
    const drainMs = performance.now() - started - openMs;
    expect(records).toBe(200);
    expect(entries).toBe(400_000);
    expect(spool.stats).toMatchObject({ records: 0, entries: 0, bytes: 0 });
    await spool.close();
    const growthMb = (peak - baseline) / 1e6;
    console.log(
      `spool memory test: ${(diskBytes / 1e6).toFixed(0)} MB on disk; open (scan) ${openMs.toFixed(0)} ms, drain ${drainMs.toFixed(0)} ms; RSS baseline ${(baseline / 1e6).toFixed(0)} MB, peak ${(peak / 1e6).toFixed(0)} MB (+${growthMb.toFixed(0)} MB)`,
    );
    // Loading the spool would add at least its 200 MB; streaming holds about one record (~1 MB) at a time.
    expect(growthMb).toBeLessThan(120);
  });
});
