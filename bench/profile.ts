// `npm run bench:profile`: the HTTP full-speed case with the agent under `node --cpu-prof`,
// then the profile's top functions by self time (bench/cpuprofile.ts). The profiler adds
// overhead, so the throughput printed here is not the benchmark's; BENCH_ENTRIES and the
// other BENCH_* knobs apply, BENCH_PROFILE_SINK=s3|loki profiles another sink, and
// BENCH_PROFILE_TOP sets how many functions are listed. The profile is kept (its path is
// printed) for DevTools. The profiler samples the main thread only: compression on libuv's
// pool is in the agent's CPU-seconds but not in the table.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readBenchConfig, type BenchSink } from './config.js';
import { renderSummary, readProfile, summarise } from './cpuprofile.js';
import { REPO_ROOT } from './paths.js';
import { log, startHarness } from './run.js';
import { runFull, setupSink } from './scenario.js';

async function main(): Promise<void> {
  const config = readBenchConfig();
  const dir = process.env.BENCH_PROFILE_DIR ?? join(REPO_ROOT, 'bench-profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  const top = Number(process.env.BENCH_PROFILE_TOP ?? 25);
  const sink = (process.env.BENCH_PROFILE_SINK ?? 'http') as BenchSink;
  if (!['http', 's3', 'loki'].includes(sink)) throw new Error(`BENCH_PROFILE_SINK: expected http, s3 or loki, got "${sink}"`);
  const harness = await startHarness(config);
  let result;
  try {
    const setup = await setupSink(sink, harness.context);
    try {
      log(`[${sink}] agent under --cpu-prof at full speed, ${config.entries} entries…`);
      result = await runFull(setup, harness.context, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    } finally {
      await setup.close();
    }
  } finally {
    await harness.close();
  }
  const profiles = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const file = profiles[0];
  if (file === undefined) throw new Error(`the agent wrote no .cpuprofile in ${dir} (exit code ${result.exitCode})`);
  const seconds = result.elapsedMs / 1000;
  process.stdout.write(
    `\n${sink} full speed under the profiler: ${result.received}/${result.published} entries delivered, ${(result.received / seconds).toFixed(0)} entries/s, ` +
      `agent ${result.cpuSeconds.toFixed(2)} CPU-s (${(result.received / result.cpuSeconds).toFixed(0)} entries/CPU-s), peak RSS ${(result.peakRssBytes / 1024 / 1024).toFixed(1)} MiB\n` +
      `profile: ${file}\n\n${renderSummary(summarise(readProfile(file)), top)}\n`,
  );
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
