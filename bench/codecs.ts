// `npm run bench:codecs`: the codecs the sinks can use, on the benchmark's entries, in one
// process: gzip (node:zlib, memLevel 9 as compress.ts uses it) at levels 1, 3 and 6 against
// zstd (node:zlib, Node 24) at levels 1, 3 and 6. Batches of ~1.5 MB of NDJSON, as a busy sink
// seals them. Two corpora: the benchmark's realistic mix (~2 % of entries are 8 KiB lines of
// random text, about half the bytes, which no codec shrinks much) and the same mix without
// those (typical log lines). Process CPU (user + system, every thread) per entry and per MB of input, and
// output ÷ input. Alternating rounds, each codec's best round shown (the machine is shared:
// the best is the least disturbed). The numbers back the defaults in docs/ARCHITECTURE.md.
import { constants, gzipSync, zstdCompressSync } from 'node:zlib';
import { makeFlyEntries, type FlyEntryKind } from '../test/support/fly-entries.js';

const ENTRIES = Number(process.env['CODECS_ENTRIES'] ?? 40_000);
const ROUNDS = Number(process.env['CODECS_ROUNDS'] ?? 5);
const BATCH_BYTES = 1_500_000;

const TYPICAL: readonly FlyEntryKind[] = ['access', 'json', 'stack', 'unicode', 'ansi', 'proxy', 'quoted'];

function batchesOf(lines: readonly string[]): Buffer[] {
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
  return batches;
}

const startMs = Date.UTC(2026, 10, 26);
const corpora: Record<string, Buffer[]> = {
  'realistic mix': batchesOf(makeFlyEntries(ENTRIES, { seed: 1, startMs }).map((e) => `${e.payload}\n`)),
  'typical lines (no 8 KiB random lines)': batchesOf(makeFlyEntries(ENTRIES, { seed: 1, startMs, kinds: TYPICAL }).map((e) => `${e.payload}\n`)),
};

const gzipAt = (level: number) => (batch: Buffer) => gzipSync(batch, { level, memLevel: 9 }).length;
const zstdAt = (level: number) => (batch: Buffer) => zstdCompressSync(batch, { params: { [constants.ZSTD_c_compressionLevel]: level } }).length;
const codecs: Record<string, (batch: Buffer) => number> = {
  'gzip level 1': gzipAt(1),
  'gzip level 3': gzipAt(3),
  'gzip level 6': gzipAt(6),
  'zstd level 1': zstdAt(1),
  'zstd level 3': zstdAt(3),
  'zstd level 6': zstdAt(6),
};

for (const [corpus, batches] of Object.entries(corpora)) {
  const inputBytes = batches.reduce((sum, b) => sum + b.length, 0);
  const best = new Map<string, { cpuUs: number; outBytes: number }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, encode] of Object.entries(codecs)) {
      const before = process.cpuUsage();
      let outBytes = 0;
      for (const batch of batches) outBytes += encode(batch);
      const used = process.cpuUsage(before);
      const cpuUs = used.user + used.system;
      const previous = best.get(name);
      if (previous === undefined || cpuUs < previous.cpuUs) best.set(name, { cpuUs, outBytes });
    }
  }
  console.log(`\n${corpus}: ${ENTRIES} entries, ${(inputBytes / 1e6).toFixed(1)} MB in ${batches.length} batches; best of ${ROUNDS} rounds, Node ${process.version}`);
  console.log('| codec | CPU per entry | CPU per MB of input | MB/s of input | output ÷ input |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, r] of best) {
    console.log(
      `| ${name} | ${(r.cpuUs / ENTRIES).toFixed(2)} µs | ${(r.cpuUs / 1000 / (inputBytes / 1e6)).toFixed(1)} ms | ${(inputBytes / r.cpuUs).toFixed(0)} | ${(r.outBytes / inputBytes).toFixed(4)} |`,
    );
  }
}
