// `npm run bench:gzip`: the gzip encoders on the benchmark's entries, in one process, for
// the numbers README and the level defaults quote: CPU per entry and output ÷ input of the
// native encoder (check included) against zlib at levels 1, 3 and 6. Batches of ~1.5 MB of
// NDJSON, as a busy sink seals them; alternating rounds, each encoder's best round shown
// (the machine is shared: the best is the least disturbed).
import { gzipSync } from 'node:zlib';
import { makeFlyEntries } from '../test/support/fly-entries.js';
import { loadNativeGzip } from '../src/codec/native-gzip.js';

const ENTRIES = 40_000;
const BATCH_BYTES = 1_500_000;
const ROUNDS = 5;

const load = loadNativeGzip();
if (load.encoder === undefined) throw new Error(`the native encoder is not built: ${load.error}`);
const native = load.encoder;

const lines = makeFlyEntries(ENTRIES, { seed: 1, startMs: Date.UTC(2026, 10, 26) }).map((e) => `${e.payload}\n`);
const batches: Buffer[] = [];
let open: string[] = [];
let openBytes = 0;
for (const line of lines) {
  open.push(line);
  openBytes += line.length;
  if (openBytes >= BATCH_BYTES) {
    batches.push(Buffer.from(open.join('')));
    open = [];
    openBytes = 0;
  }
}
if (open.length > 0) batches.push(Buffer.from(open.join('')));
const inputBytes = batches.reduce((sum, b) => sum + b.length, 0);
const out = Buffer.allocUnsafe(native.gzipBound(Math.max(...batches.map((b) => b.length))));

type Encoder = (batch: Buffer) => Promise<number>;
const encoders: Record<string, Encoder> = {
  'native (checked)': (batch) => native.gzipInto(batch, out),
  'zlib level 1': async (batch) => gzipSync(batch, { level: 1, memLevel: 9 }).length,
  'zlib level 3': async (batch) => gzipSync(batch, { level: 3, memLevel: 9 }).length,
  'zlib level 6': async (batch) => gzipSync(batch, { level: 6, memLevel: 9 }).length,
};

// Process CPU (all threads: the native encoder runs on libuv's pool).
const best = new Map<string, { cpuUs: number; outBytes: number }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, encode] of Object.entries(encoders)) {
    const before = process.cpuUsage();
    let outBytes = 0;
    for (const batch of batches) outBytes += await encode(batch);
    const used = process.cpuUsage(before);
    const cpuUs = used.user + used.system;
    const previous = best.get(name);
    if (previous === undefined || cpuUs < previous.cpuUs) best.set(name, { cpuUs, outBytes });
  }
}

console.log(`${ENTRIES} entries of the benchmark's mix, ${(inputBytes / 1e6).toFixed(1)} MB in ${batches.length} batches; best of ${ROUNDS} rounds, Node ${process.version}`);
console.log('| encoder | CPU per entry | MB/s of input | output ÷ input |');
console.log('|---|---:|---:|---:|');
for (const [name, r] of best) {
  console.log(`| ${name} | ${(r.cpuUs / ENTRIES).toFixed(2)} µs | ${(inputBytes / r.cpuUs).toFixed(0)} | ${(r.outBytes / inputBytes).toFixed(4)} |`);
}
