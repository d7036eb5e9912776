// `node dist/bench/hot-path.js`: the agent's own per-message work in one process, without
// NATS, a socket or a sink: the benchmark's entries packed into 64 KiB "reads" as nats.js
// delivers them (a Buffer slice per message, the subject as a string, in the pool's mixed
// order), then: only the slicing; the subject split (cached); the byte-level scan; the whole
// router without sinks; and, for reference, what the bare subscriber does per message
// (decode + JSON.parse). Prints ns per message, best of 8 rounds. For the gap analysis in
// docs/ARCHITECTURE.md ("The benchmark"); CPU-seconds of the real agent come from `npm run bench`.
import { EntryRouter } from '../src/intake/router.js';
import { parseSubject, scanFlyJson } from '../src/intake/entry.js';
import type { ScanResult } from '../src/codec/json-scan.js';
import { makeFlyEntries } from '../test/support/fly-entries.js';
import type { ThrottledLog } from '../src/ops/logger.js';
import type { SourceStats } from '../src/ops/stats.js';

const entries = makeFlyEntries(50_000, { seed: 1, startMs: Date.now() - 50_000 });
const READ = 64 * 1024;
const reads: Array<{ buf: Buffer; offsets: number[]; subjects: string[] }> = [];
{
  let cur = { buf: Buffer.allocUnsafe(READ), offsets: [0], subjects: [] as string[] };
  let used = 0;
  for (const e of entries) {
    const data = Buffer.from(e.payload, 'utf8');
    if (used + data.length > READ) {
      reads.push(cur);
      cur = { buf: Buffer.allocUnsafe(Math.max(READ, data.length)), offsets: [0], subjects: [] };
      used = 0;
    }
    data.copy(cur.buf, used);
    used += data.length;
    cur.offsets.push(used);
    cur.subjects.push(e.subject);
  }
  reads.push(cur);
}
const total = entries.length;

const stats = { messagesReceived: 0, dropped: new Map(), malformed: new Map() } as unknown as SourceStats;
const throttled = { warn() {}, error() {}, info() {} } as unknown as ThrottledLog;
const router = new EntryRouter([], new Set(), stats, throttled);
const spans = new Int32Array(8);
const scan: ScanResult = { valid: false, multiline: false, ambiguous: false, escaped: 0 };
const decoder = new TextDecoder();
type Mode = 'slice' | 'subject' | 'scan' | 'router' | 'bare: decode + JSON.parse';
let sink = 0;

function run(mode: Mode): number {
  const t0 = process.hrtime.bigint();
  for (const r of reads) {
    for (let k = 0; k < r.subjects.length; k++) {
      const data = r.buf.subarray(r.offsets[k]!, r.offsets[k + 1]!);
      if (mode === 'slice') sink += data.length;
      else if (mode === 'subject') sink += parseSubject(r.subjects[k]!).app.length;
      else if (mode === 'scan') {
        scanFlyJson(data, spans, scan, 0, data.length);
        sink += scan.valid ? 1 : 0;
      } else if (mode === 'router') router.handle(r.subjects[k]!, data, 0, data.length, Date.now());
      else if (typeof JSON.parse(decoder.decode(data)) === 'object') sink++;
    }
  }
  return Number(process.hrtime.bigint() - t0) / total;
}

for (const mode of ['slice', 'subject', 'scan', 'router', 'bare: decode + JSON.parse'] as const) {
  let best = Infinity;
  for (let round = 0; round < 8; round++) best = Math.min(best, run(mode));
  process.stdout.write(`${mode}: ${best.toFixed(0)} ns per message\n`);
}
if (sink < 0) process.stdout.write('unreachable\n');
