// `npm run bench`: starts nats-server, a publisher process and, per sink, its receiver; runs
// the bare reference and the agent at full speed and at a fixed rate; prints the tables and
// writes BENCHMARKS.md (see bench/report.ts). Knobs: bench/config.ts (BENCH_*).
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './paths.js';
import { NATS_SERVER_BIN, startNatsServer, type NatsServer } from '../test/support/nats.js';
import { BenchChild } from './child.js';
import { readBenchConfig, type BenchConfig } from './config.js';
import { machineInfo } from './proc.js';
import type { PublisherArgs, PublisherCommand, PublisherEvent } from './protocol.js';
import { renderMarkdown, renderTables, type Report } from './report.js';
import { benchSink, type BenchContext, type Publisher, type SinkResult } from './scenario.js';
import { runSlowSink, type SlowSinkResult } from './slow-sink.js';
import { vmMemory } from './vm-memory.js';

export function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export interface Harness {
  readonly context: BenchContext;
  readonly pool: Report['pool'];
  close(): Promise<void>;
}

/** nats-server and the publisher (which generates its entries once, up front). */
export async function startHarness(config: BenchConfig): Promise<Harness> {
  const nats: NatsServer = await startNatsServer();
  let publisher: Publisher | undefined;
  try {
    const args: PublisherArgs = { natsUrl: nats.url, monitorUrl: nats.monitorUrl, poolSize: config.poolSize, seed: config.seed };
    publisher = new BenchChild<PublisherCommand, PublisherEvent>('publisher', new URL('./publisher.js', import.meta.url), args);
    const ready = await publisher.next('ready', 300_000);
    log(`publisher ready: ${ready.poolSize} distinct entries, ${(ready.poolBytes / ready.poolSize).toFixed(0)} bytes on average`);
    const p = publisher;
    return {
      context: { config, nats, publisher: p, avgEntryBytes: ready.poolBytes / ready.poolSize, vm: vmMemory(config.vmMemoryBytes), log },
      pool: { size: ready.poolSize, bytes: ready.poolBytes, kinds: ready.kinds },
      async close() {
        await p.stop({ cmd: 'exit' });
        await nats.stop();
      },
    };
  } catch (error) {
    await publisher?.stop({ cmd: 'exit' });
    await nats.stop();
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readBenchConfig();
  const started = Date.now();
  const machine = machineInfo(NATS_SERVER_BIN, REPO_ROOT);
  log(`${config.quick ? 'quick mode: ' : ''}${config.entries} entries at full speed, ${config.fixedRate}/s for ${config.fixedSeconds} s; sinks ${config.sinks.join(', ')}`);
  const harness = await startHarness(config);
  const results: SinkResult[] = [];
  let slowSink: SlowSinkResult | undefined;
  let slowSinkError: string | undefined;
  try {
    for (const sink of config.sinks) results.push(await benchSink(sink, harness.context));
    if (config.slowSinkEntries > 0) {
      // A quarter of the intake this run measured for the HTTP sink at full speed (else BENCH_SLOW_SINK_RATE).
      const httpFull = results.find((r) => r.sink === 'http')?.full;
      const measured = httpFull !== undefined && httpFull.elapsedMs > 0 ? httpFull.published / (httpFull.elapsedMs / 1000) : undefined;
      const rate = config.slowSinkRate ?? Math.max(1000, Math.floor((measured ?? 40_000) / 4));
      log(`[slow sink] ${config.slowSinkEntries} entries at full speed into an endpoint taking ${rate} entries/s…`);
      slowSink = await runSlowSink(harness.context, config.slowSinkEntries, rate).catch((error: unknown) => {
        slowSinkError = error instanceof Error ? error.message : String(error);
        log(`[slow sink] FAILED: ${slowSinkError}`);
        return undefined;
      });
    }
  } finally {
    await harness.close();
  }
  const report: Report = { machine, config, vm: harness.context.vm, pool: harness.pool, results, slowSink, slowSinkError, durationSeconds: (Date.now() - started) / 1000 };
  process.stdout.write(`\n${renderTables(report)}\n\n`);
  if (config.output !== undefined) {
    writeFileSync(config.output, renderMarkdown(report));
    log(`wrote ${config.output}`);
  } else {
    log('quick mode: BENCHMARKS.md not written (set BENCH_OUTPUT=<path> to write one)');
  }
  if (results.some((r) => r.errors.length > 0) || slowSinkError !== undefined || (slowSink !== undefined && slowSink.lost > 0)) process.exitCode = 1;
}

// Only when run as the entry point (bench/profile.ts imports startHarness).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  });
}
