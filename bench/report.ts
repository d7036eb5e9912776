// The results as markdown: printed after every run and written to BENCHMARKS.md by
// bench/run.ts (never by hand). Targets come from issues 6 and 16 (ratios) and 14 (slow sink).
import { dockerRuntimeEnv, type BenchConfig, type BenchSink } from './config.js';
import type { MachineInfo } from './proc.js';
import type { SinkResult } from './scenario.js';
import type { SlowSinkResult } from './slow-sink.js';
import type { VmMemory } from './vm-memory.js';

const MiB = 1024 * 1024;

/** Agent entries per CPU-second ÷ the bare subscriber's, per sink (issue 16). */
export const RATIO_TARGETS: Readonly<Record<BenchSink, number>> = { http: 0.6, s3: 0.6, loki: 0.45 };
/** Peak RSS in the slow-sink case (issue 14). */
export const SLOW_SINK_RSS_TARGET = 200 * MiB;
export const LAG_TARGET_MS = 2000;
export const PEAK_RSS_TARGET = 150 * MiB;
export const STEADY_RSS_TARGET = 100 * MiB;
export const LATENCY_MARGIN_MS = 250;

export interface Report {
  readonly machine: MachineInfo;
  readonly config: BenchConfig;
  readonly vm: VmMemory;
  readonly pool: { readonly size: number; readonly bytes: number; readonly kinds: Readonly<Record<string, number>> };
  readonly results: readonly SinkResult[];
  /** The slow-sink case, when it ran. */
  readonly slowSink?: SlowSinkResult | undefined;
  readonly slowSinkError?: string | undefined;
  readonly durationSeconds: number;
}

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return '—';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function mib(bytes: number | undefined): string {
  return bytes === undefined || Number.isNaN(bytes) ? '—' : `${fmt(bytes / MiB, 1)} MiB`;
}

function ms(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  return v >= 10_000 ? `${fmt(v / 1000, 1)} s` : `${fmt(v)} ms`;
}

export function perCpuSecond(entries: number, cpu: number): number {
  return cpu > 0 ? entries / cpu : Number.NaN;
}

/** The median of the per-pair ratios (each agent run against the bare run just before it). */
export function ratio(r: SinkResult): number | undefined {
  if (r.ratios.length === 0) return undefined;
  // Delivered entries: in flood mode the agent may drop some, and those must not count as work done.
  const sorted = [...r.ratios].sort((a, b) => a - b);
  const mid = sorted.length >>> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function ratioText(r: SinkResult): string {
  const q = ratio(r);
  if (q === undefined) return '—';
  return r.ratios.length > 1 ? `${fmt(q, 2)}× (${r.ratios.map((x) => fmt(x, 2)).join(', ')})` : `${fmt(q, 2)}×`;
}

/** Every entry published was counted at the receiver exactly once and the agent counted none dropped or rejected. */
function lossless(a: { warmedUp?: number; published: number; received: number; accounting: { dropped: number; rejected: number; natsReceived: number } }): boolean {
  // The agent's counters include the warm-up's entries (delivered before the measured run).
  return a.received === a.published && a.accounting.dropped === 0 && a.accounting.rejected === 0 && a.accounting.natsReceived === a.published + (a.warmedUp ?? 0);
}

type Verdict = { readonly text: string; readonly pass: boolean | undefined };

function verdict(pass: boolean | undefined, text: string): Verdict {
  return { text, pass };
}

function cell(v: Verdict): string {
  if (v.pass === undefined) return `${v.text} (not measured)`;
  return `${v.pass ? '✅' : '❌'} ${v.text}`;
}

export function targetVerdicts(r: SinkResult): Array<[string, Verdict]> {
  const q = ratio(r);
  const target = RATIO_TARGETS[r.sink];
  const full = r.full;
  const fixed = r.fixed;
  const p99Limit = r.batchMaxAgeMs + LATENCY_MARGIN_MS;
  return [
    [`entries per CPU-second ≥ target × bare (http ${RATIO_TARGETS.http}, s3 ${RATIO_TARGETS.s3}, loki ${RATIO_TARGETS.loki})`, verdict(q === undefined ? undefined : q >= target, q === undefined ? '—' : `${fmt(q, 2)}× (≥ ${target}×)`)],
    [`delivery done ≤ ${LAG_TARGET_MS / 1000} s after the publisher finishes`, verdict(full === undefined ? undefined : full.lagMs <= LAG_TARGET_MS, ms(full?.lagMs))],
    [`peak RSS < ${PEAK_RSS_TARGET / MiB} MiB at full speed`, verdict(full === undefined ? undefined : full.peakRssBytes < PEAK_RSS_TARGET, mib(full?.peakRssBytes))],
    [`steady RSS < ${STEADY_RSS_TARGET / MiB} MiB at the fixed rate`, verdict(fixed === undefined || Number.isNaN(fixed.steadyRssBytes) ? undefined : fixed.steadyRssBytes < STEADY_RSS_TARGET, mib(fixed?.steadyRssBytes))],
    [`p99 latency < batch age + ${LATENCY_MARGIN_MS} ms`, verdict(fixed === undefined || Number.isNaN(fixed.p99Ms) ? undefined : fixed.p99Ms < p99Limit, `${ms(fixed?.p99Ms)} (< ${ms(p99Limit)})`)],
    [
      'no entry lost (full speed and fixed rate)',
      verdict(
        full === undefined || fixed === undefined ? undefined : lossless(full) && lossless(fixed) && full.accounting.slowConsumer === 0 && full.accounting.serverSlowConsumers === 0 && fixed.accounting.serverSlowConsumers === 0,
        full === undefined || fixed === undefined
          ? '—'
          : `full ${fmt(full.received)}/${fmt(full.published)}, fixed ${fmt(fixed.received)}/${fmt(fixed.published)}, slow consumer ${full.accounting.slowConsumer + fixed.accounting.slowConsumer + full.accounting.serverSlowConsumers + fixed.accounting.serverSlowConsumers}`,
      ),
    ],
  ];
}

function envText(env: Readonly<Record<string, string>>): string {
  const items = Object.entries(env).map(([k, v]) => `\`${k}=${v}\``);
  return items.length > 0 ? items.join(' ') : '(defaults)';
}

export function renderTables(report: Report): string {
  const { results, config } = report;
  const lines: string[] = [];
  lines.push(`### Full speed: ${fmt(config.entries)} entries${config.flood ? ' (flood mode: paced by NATS only; rates count delivered entries)' : ', every one verified at the receiver'}`);
  lines.push('');
  lines.push('| sink | entries/s end to end | MiB/s | agent CPU-s | agent entries/CPU-s | bare entries/CPU-s | agent ÷ bare | peak RSS | bare peak RSS | delivery lag | wire bytes ÷ raw |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const f = r.full;
    const b = r.bare;
    lines.push(
      `| ${r.sink} | ${f ? fmt(f.received / (f.elapsedMs / 1000)) : '—'} | ${f ? fmt((f.publishedBytes * (f.received / f.published)) / MiB / (f.elapsedMs / 1000), 1) : '—'} | ${f ? fmt(f.cpuSeconds, 2) : '—'} | ${f ? fmt(perCpuSecond(f.received, f.cpuSeconds)) : '—'} | ${b ? fmt(perCpuSecond(b.entries, b.cpuSeconds)) : '—'} | ${ratioText(r)} | ${mib(f?.peakRssBytes)} | ${mib(b?.peakRssBytes)} | ${ms(f?.lagMs)} | ${f && f.decodedBytes > 0 ? fmt(f.compressedBytes / f.decodedBytes, 3) : '—'} |`,
    );
  }
  lines.push('');
  lines.push(`### Fixed rate: ${fmt(config.fixedRate)} entries/s for ${config.fixedSeconds} s`);
  lines.push('');
  lines.push('| sink | achieved rate | delivered | p50 latency | p99 latency | max latency | batch age | steady RSS | peak RSS | agent CPU |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const x = r.fixed;
    lines.push(
      `| ${r.sink} | ${x ? `${fmt(x.rate)}/s` : '—'} | ${x ? `${fmt(x.received)}/${fmt(x.published)}` : '—'} | ${ms(x?.p50Ms)} | ${ms(x?.p99Ms)} | ${ms(x?.maxMs)} | ${ms(r.batchMaxAgeMs)} | ${mib(x?.steadyRssBytes)} | ${mib(x?.peakRssBytes)} | ${x ? `${fmt(x.cpuShare * 100, 1)} %` : '—'} |`,
    );
  }
  lines.push('');
  lines.push('### Targets (issues 6 and 16)');
  lines.push('');
  lines.push(`| target | ${results.map((r) => r.sink).join(' | ')} |`);
  lines.push(`|---|${results.map(() => '---').join('|')}|`);
  const verdicts = results.map(targetVerdicts);
  const names = verdicts[0]?.map(([name]) => name) ?? [];
  names.forEach((name, i) => {
    lines.push(`| ${name} | ${verdicts.map((v) => cell(v[i]![1])).join(' | ')} |`);
  });
  lines.push(...slowSinkTable(report));
  const errors = results.flatMap((r) => r.errors.map((e) => `- ${r.sink}: ${e}`));
  if (errors.length > 0) {
    lines.push('');
    lines.push('### Runs that did not finish');
    lines.push('');
    lines.push(...errors);
  }
  return lines.join('\n');
}

function slowSinkTable(report: Report): string[] {
  if (report.slowSink === undefined && report.slowSinkError === undefined) return [];
  const lines = ['', '### Slow sink: full-speed intake into an HTTP endpoint taking a quarter of it (default settings)', ''];
  const s = report.slowSink;
  if (s === undefined) return [...lines, `Did not finish: ${report.slowSinkError}`];
  lines.push(`| entries | intake entries/s | endpoint entries/s | peak spool | spool bound | peak RSS (target < ${SLOW_SINK_RSS_TARGET / MiB} MiB, issue 14) | drain after intake stops | lost |`);
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
  lines.push(
    `| ${fmt(s.published)} | ${fmt(s.intakeRate)} | ${fmt(s.sinkRate)} | ${fmt(s.peakSpoolBytes / MiB, 1)} MiB | ${fmt(s.spoolMaxBytes / MiB)} MiB | ${s.peakRssBytes < SLOW_SINK_RSS_TARGET ? '✅' : '❌'} ${fmt(s.peakRssBytes / MiB)} MiB | ${fmt(s.drainMs / 1000, 1)} s | ${fmt(s.lost)}${s.dropped > 0 ? ` (${fmt(s.dropped)} counted dropped)` : ''} |`,
  );
  return lines;
}

function kindsText(kinds: Readonly<Record<string, number>>, total: number): string {
  return Object.entries(kinds)
    .sort(([, a], [, b]) => b - a)
    .map(([k, n]) => `${k} ${fmt((n / total) * 100, 0)} %`)
    .join(', ');
}

export function renderMarkdown(report: Report): string {
  const { machine, config, pool, results } = report;
  const out: string[] = [];
  out.push('# Benchmarks');
  out.push('');
  out.push('<!-- Generated by `npm run bench` (bench/run.ts). Do not edit by hand: re-run the benchmark. -->');
  out.push('');
  out.push(`Generated ${machine.date} at commit ${machine.commit}${config.quick ? ' — **quick mode: small counts, not reference numbers**' : ''}.`);
  out.push('');
  out.push('| machine | |');
  out.push('|---|---|');
  out.push(`| CPU | ${machine.cpuModel}, ${machine.cores} cores (shared; load average at start ${machine.loadAverage.map((l) => fmt(l, 2)).join(' / ')}) |`);
  out.push(`| memory | ${fmt(machine.memoryBytes / 1024 ** 3, 1)} GiB |`);
  out.push(`| Node.js | ${machine.node} |`);
  out.push(`| VM memory | ${report.vm.description} (\`BENCH_VM_MEMORY\`, 0 for none) |`);
  const runtimeEnv = Object.keys(dockerRuntimeEnv()).map((k) => `\`${k}=${config.agentOverrides[k] ?? ''}\``).join(' ');
  out.push(`| agent environment | ${runtimeEnv} (the Dockerfile's runtime ENV, as on Fly) |`);
  out.push(`| agent node flags | ${config.agentNodeFlags.length > 0 ? config.agentNodeFlags.map((f) => `\`${f}\``).join(' ') : 'none'} (the Dockerfile's CMD) |`);
  out.push('| bare subscriber | the same environment, node flags and memory limit as the agent |');
  out.push('| agent gzip | node:zlib (libuv thread pool) |');
  out.push(`| nats-server | ${machine.natsServer} |`);
  out.push(`| run time | ${fmt(report.durationSeconds)} s |`);
  out.push('');
  out.push(renderTables(report));
  out.push('');
  out.push('## How it was measured');
  out.push('');
  out.push(`- Entries: Fly-shaped (\`test/support/fly-entries.ts\`, seed ${config.seed}), ${fmt(pool.size)} distinct entries cycled, average ${fmt(pool.bytes / pool.size)} bytes: ${kindsText(pool.kinds, pool.size)}. The 8 KiB lines are random text, so the stream compresses to about a third, not to nothing.`);
  out.push('- Processes: its own `nats-server` (core NATS, no JetStream); a publisher process; the agent (`node dist/src/main.js`, configured only by env, one fresh process per run); the receivers in the orchestrator (a null HTTP receiver that gunzips and counts NDJSON lines, a null Loki receiver that gunzips, parses and counts values, and s3rver behind a proxy that gunzips and counts each stored object).');
  out.push('- Full speed: the publisher publishes as fast as the subscriber takes the messages: it flushes every 256 KiB and pauses while nats-server holds more than 8 MiB for the subscriber (`/connz` pending bytes), so nothing is dropped as a slow consumer.' +
    (config.flood
      ? ' **Flood mode** (`BENCH_FLOOD=1`): nothing else paces it, as in a real burst; what overflows the agent\'s buffer is dropped and shows as lost.'
      : ' It also stays at most half the sink\'s buffer (`*_BUFFER_MAX_BYTES`, in entries of the average size) ahead of what the receiver has counted (the other half covers batches the receiver has counted but whose answer the agent has not yet read), so the agent\'s buffer cannot overflow and the run measures the rate the agent sustains end to end (`BENCH_FLOOD=1` turns this off).') +
    ' Entries/s and MiB/s run from the first publish to the last entry counted at the receiver; MiB/s counts published JSON bytes. The delivery lag runs from the publisher\'s last flush to the last entry at the receiver.');
  out.push('- Reference: in the same run, on the same entries, a bare nats.js (`@nats-io/transport-node`) subscriber in its own process that only takes each message off the wire and `JSON.parse`s it (bench/bare-subscriber.ts), run like the agent: the Dockerfile\'s runtime environment and node flags, and the same memory limit (see VM memory above). CPU cost is user + system CPU-seconds from `/proc/<pid>/stat` (every thread, so compression on libuv\'s pool counts), from just before the first measured publish to the last entry received; agent ÷ bare compares entries per CPU-second.');
  out.push(
    config.warmUpEntries > 0
      ? `- Warm-up: before each full-speed run is measured, the same process (bare subscriber and agent alike) first takes ${fmt(config.warmUpEntries)} entries at full speed, delivered and verified but not measured (\`BENCH_WARMUP_ENTRIES\`): JIT compilation, the first batch buffers and heap sizing happen once per process, not per entry. The agent's loss check counts them too.`
      : '- Warm-up: none (`BENCH_WARMUP_ENTRIES=0`): start-up costs are in the measured run.',
  );
  out.push(`- Repeats: ${config.repeat} bare/agent pairs per sink, alternating, so both meet the same machine (\`BENCH_REPEAT\`). The table shows the median pair ratio (each pair's in brackets), the median runs' CPU figures, and the largest peak RSS and delivery lag of all the agent's runs; a run that lost entries would be the one shown.`);
  out.push('- Peak RSS is the agent\'s VmHWM. At the fixed rate each entry\'s `timestamp` is its publish time; the receiver computes publish → arrival latency per entry; steady RSS is the largest VmRSS sampled (every 250 ms) in the second half of the run; agent CPU is CPU-seconds per second while publishing.');
  out.push('- No entry lost: the receiver counted exactly the published number, the agent\'s `logferry_nats_messages_received_total` equals it, nothing was counted dropped or rejected, and neither the agent nor nats-server saw a slow consumer.');
  out.push('');
  out.push('Agent configuration per sink (besides the URL / endpoint / credentials pointing at the local receivers):');
  out.push('');
  for (const r of results) out.push(`- ${r.sink}: ${envText(r.shownEnv)}`);
  out.push('');
  out.push("- Slow sink: the agent with default settings only (no buffer sizes, no `SPOOL_DIR`: the spool goes to `./data/spool` of a fresh working directory); the publisher at full speed, paced by NATS alone (no delivery window); the endpoint answers each request after the time its entries take at a quarter of the HTTP sink's measured full-speed rate (`BENCH_SLOW_SINK_RATE` fixes it), requests one after another. Peak spool is the largest `logferry_spool_bytes` sampled every 250 ms; the drain runs from the publisher's last flush to the last entry at the endpoint; lost = published − counted at the endpoint (`BENCH_SLOW_SINK_ENTRIES`, 0 skips the case).");
  out.push('');
  out.push(`Reproduce: \`npm run bench\` (\`BENCH_ENTRIES\`, default 300000; \`BENCH_REPEAT\`, default 3; \`BENCH_FIXED_SECONDS\`, default 60; \`BENCH_QUICK=1\` for a short development run).`);
  out.push('');
  return out.join('\n');
}
