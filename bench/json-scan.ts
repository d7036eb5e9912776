// Micro-benchmark of the JSON toolkit's two users, per entry, on the benchmark's entry mix
// (test/support/fly-entries.ts): the intake's scan of a NATS read buffer, and the Loki push
// encoder (scan + streams + body, uncompressed) in both push formats. Not part of `npm run bench`:
// `npx tsc -p tsconfig.json && node dist/bench/json-scan.js`.
import { batchFromLines } from '../src/pipeline/batch.js';
import { intake, parseSubject, EntryView } from '../src/intake/entry.js';
import { buildPush } from '../sinks/loki/encode.js';
import { DEFAULT_LABELS } from '../sinks/loki/config.js';
import { makeFlyEntries } from '../test/support/fly-entries.js';

const entries = makeFlyEntries(10_000, { seed: 7 });
const payloads = entries.map((e) => Buffer.from(e.payload, 'utf8'));
// One buffer holding every payload, as a NATS read buffer holds many messages.
const read = Buffer.concat(payloads);
const offsets: number[] = [];
let at = 0;
for (const p of payloads) {
  offsets.push(at);
  at += p.length;
}
const subjects = entries.map((e) => parseSubject(e.subject));
const view = new EntryView();

function intakeRound(): void {
  for (let i = 0; i < payloads.length; i++) intake(subjects[i]!, read, offsets[i]!, offsets[i]! + payloads[i]!.length, 0, view);
}

const batch = batchFromLines(1, 'p', entries.map((e) => e.payload), Date.now());
const options = { labels: DEFAULT_LABELS, staticLabels: [], structuredMetadata: [], lineFormat: 'json' as const, maxLineBytes: 256 * 1024 };

function perEntryNs(round: () => void, rounds: number): number {
  for (let r = 0; r < 5; r++) round();
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    round();
    times.push(Number(process.hrtime.bigint() - t0) / entries.length);
  }
  // The fastest round: the machine is shared, and load only ever adds time.
  return Math.min(...times);
}

console.log(`intake scan:        ${perEntryNs(intakeRound, 40).toFixed(0)} ns/entry (fastest of 40 rounds of ${entries.length})`);
for (const format of ['json', 'protobuf'] as const) {
  const ns = perEntryNs(() => {
    buildPush(batch, options, format);
  }, 30);
  console.log(`loki encode ${format.padEnd(8)} ${ns.toFixed(0)} ns/entry`);
}
