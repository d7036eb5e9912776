// One sink's benchmark: the bare reference and the agent at full speed on the same entries,
// then the agent at a fixed rate. Each agent run is a fresh `node dist/src/main.js`
// configured only through its environment, as a user runs it.
import { loadConfig } from '../src/config/config.js';
import { catalogue } from '../sinks/index.js';
import type { NatsServer } from '../test/support/nats.js';
import { metricValue, parseMetrics } from '../test/support/prometheus.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../test/support/s3.js';
import { startAgentProcess, type AgentProcess } from './agent-process.js';
import { BenchChild } from './child.js';
import { dockerRuntimeEnv, type BenchConfig, type BenchSink } from './config.js';
import { cpuSeconds, memoryStatus, minorFaults, threadCpu, threadCpuText } from './proc.js';
import { processCgroup, type VmMemory } from './vm-memory.js';
import {
  AGENT_CONNECTION_NAME,
  BARE_CONNECTION_NAME,
  type BareArgs,
  type BareCommand,
  type BareEvent,
  type PublishDone,
  type PublisherCommand,
  type PublisherEvent,
} from './protocol.js';
import { nowMs, startCountingS3Proxy, startNullHttpReceiver, startNullLokiReceiver, type Receiver } from './receivers.js';

export type Publisher = BenchChild<PublisherCommand, PublisherEvent>;

export interface BenchContext {
  readonly config: BenchConfig;
  readonly nats: NatsServer;
  readonly publisher: Publisher;
  /** Average published entry size, bytes (sizes the delivery window). */
  readonly avgEntryBytes: number;
  /** The memory agent and bare subscriber run under (bench/vm-memory.ts). */
  readonly vm: VmMemory;
  /** Progress lines go here (stderr). */
  readonly log: (line: string) => void;
}

export interface SinkSetup {
  readonly sink: BenchSink;
  readonly receiver: Receiver;
  /** The agent's environment, as a user would set it. */
  readonly env: Readonly<Record<string, string>>;
  /** The settings shown in the report (no URLs). */
  readonly shownEnv: Readonly<Record<string, string>>;
  readonly batchMaxAgeMs: number;
  /** The sink's memory buffer (line bytes), as the agent will read it. */
  readonly bufferMaxBytes: number;
  close(): Promise<void>;
}

export interface BareResult {
  readonly entries: number;
  readonly cpuSeconds: number;
  readonly elapsedMs: number;
  readonly peakRssBytes: number;
}

export interface Accounting {
  readonly natsReceived: number;
  readonly delivered: number;
  readonly rejected: number;
  readonly dropped: number;
  readonly pending: number;
  readonly slowConsumer: number;
  /** nats-server's slow-consumer count went up during the run. */
  readonly serverSlowConsumers: number;
  /** V8 heap and off-heap memory at the end of the run (prom-client's default metrics), bytes. */
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

export interface FullResult {
  /** Entries published and delivered before the measured run (not in any figure but the agent's counters). */
  readonly warmedUp: number;
  readonly published: number;
  readonly publishedBytes: number;
  /** Entries the receiver counted. */
  readonly received: number;
  /** First publish → last entry at the receiver. */
  readonly elapsedMs: number;
  /** Publisher done → last entry at the receiver. */
  readonly lagMs: number;
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  readonly compressedBytes: number;
  readonly decodedBytes: number;
  readonly bodies: number;
  readonly flowPauses: number;
  readonly windowPauses: number;
  /** Entries the publisher could be ahead of the receiver; undefined in flood mode. */
  readonly windowEntries: number | undefined;
  readonly accounting: Accounting;
  readonly exitCode: number | null;
}

export interface FixedResult {
  readonly published: number;
  readonly received: number;
  readonly rate: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Largest RSS sampled in the second half of the publishing period. */
  readonly steadyRssBytes: number;
  readonly peakRssBytes: number;
  /** Agent CPU-seconds per wall-clock second while publishing at the rate. */
  readonly cpuShare: number;
  readonly accounting: Accounting;
  readonly exitCode: number | null;
}

export interface SinkResult {
  readonly sink: BenchSink;
  readonly shownEnv: Readonly<Record<string, string>>;
  readonly batchMaxAgeMs: number;
  /** The median of the bare runs by entries per CPU-second. */
  readonly bare?: BareResult;
  /** The median of the full-speed runs by entries per CPU-second, with the worst peak RSS and delivery lag of all runs (a run that lost entries is shown instead). */
  readonly full?: FullResult;
  /** Agent ÷ bare entries per CPU-second of each bare/agent pair, in run order. */
  readonly ratios: readonly number[];
  readonly fixed?: FixedResult;
  /** What went wrong, when a phase could not finish. */
  readonly errors: string[];
}

const BUCKET = 'logferry-bench';

/** Starts the sink's destination and returns the agent environment that points at it. */
export async function setupSink(sink: BenchSink, context: BenchContext): Promise<SinkSetup> {
  const base: Record<string, string> = { NATS_URL: context.nats.url, LOG_LEVEL: 'info' };
  let receiver: Receiver;
  let shown: Record<string, string>;
  let extraClose = async (): Promise<void> => {};
  if (sink === 'http') {
    receiver = await startNullHttpReceiver();
    shown = { HTTP_COMPRESSION: 'gzip', HTTP_FORMAT: 'ndjson' };
    Object.assign(base, { HTTP_URL: receiver.url }, shown);
  } else if (sink === 'loki') {
    receiver = await startNullLokiReceiver();
    shown = {};
    Object.assign(base, { LOKI_URL: receiver.url });
  } else {
    const s3 = await startS3rver({ buckets: [BUCKET] });
    receiver = await startCountingS3Proxy(s3.endpoint);
    extraClose = () => s3.close();
    // The default object age (5 min) suits an archive, not a benchmark that waits for delivery.
    shown = { S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1', S3_BATCH_MAX_AGE: '1s' };
    Object.assign(
      base,
      {
        AWS_BUCKET: BUCKET,
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        S3_ENDPOINT: receiver.url,
      },
      shown,
    );
  }
  const overrides = { ...context.vm.agentEnv, ...context.config.agentOverrides };
  const env = { ...base, ...overrides };
  const shownEnv = { ...shown, ...overrides };
  // The same parsing the agent does (on the VM's memory): fails here, clearly, on a bad override.
  const agentConfig = context.vm.limit !== undefined ? loadConfig(env, catalogue, { memoryLimit: context.vm.limit }) : loadConfig(env, catalogue);
  const configured = agentConfig.sinks.find((s) => s.plugin.kind === sink);
  if (configured === undefined || agentConfig.sinks.length !== 1) throw new Error(`the ${sink} benchmark environment does not configure exactly the ${sink} sink`);
  return {
    sink,
    receiver,
    env,
    shownEnv,
    batchMaxAgeMs: configured.settings.batch.maxAgeMs,
    bufferMaxBytes: configured.settings.bufferMaxBytes,
    async close() {
      await receiver.close();
      await extraClose();
    },
  };
}

function publishTimeoutMs(entries: number): number {
  // Generous: a run this slow has failed its targets anyway, but should still report.
  return 120_000 + entries / 2;
}

export async function runBare(context: BenchContext): Promise<BareResult> {
  const { config, publisher } = context;
  const args: BareArgs = { natsUrl: context.nats.url, subject: 'logs.>', name: BARE_CONNECTION_NAME };
  // Run as the agent runs: the Dockerfile's runtime environment (as overridden for the agent) and node flags, the same memory limit.
  const cgroup = processCgroup(context.vm);
  const runtimeEnv = Object.fromEntries(Object.keys(dockerRuntimeEnv()).map((k) => [k, config.agentOverrides[k] ?? '']));
  const bare = new BenchChild<BareCommand, BareEvent>('bare subscriber', new URL('./bare-subscriber.js', import.meta.url), args, {
    env: runtimeEnv,
    nodeFlags: config.agentNodeFlags,
    cgroup,
  });
  try {
    await bare.next('ready', 30_000);
    if (config.warmUpEntries > 0) {
      bare.send({ cmd: 'expect', count: config.warmUpEntries });
      publisher.send({ cmd: 'full', count: config.warmUpEntries, flowConnection: BARE_CONNECTION_NAME });
      await publisher.next('done', publishTimeoutMs(config.warmUpEntries));
      await bare.next('reached', 30_000);
    }
    bare.send({ cmd: 'expect', count: config.entries });
    const cpu0 = cpuSeconds(bare.pid);
    const threads0 = threadCpu(bare.pid);
    publisher.send({ cmd: 'full', count: config.entries, flowConnection: BARE_CONNECTION_NAME });
    const done = await publisher.next('done', publishTimeoutMs(config.entries));
    let reached;
    try {
      reached = await bare.next('reached', 30_000);
    } catch (error) {
      bare.send({ cmd: 'count' });
      const c = await bare.next('count', 5_000).catch(() => undefined);
      throw new Error(`the bare subscriber got ${c?.count ?? '?'} of ${done.published} entries (${error instanceof Error ? error.message : String(error)})`);
    }
    const cpu1 = cpuSeconds(bare.pid);
    context.log(`[bare] ${config.entries} entries in ${(cpu1 - cpu0).toFixed(2)} CPU-s; threads: ${threadCpuText(bare.pid, threads0)}`);
    return { entries: config.entries, cpuSeconds: cpu1 - cpu0, elapsedMs: reached.at - done.startedAt, peakRssBytes: memoryStatus(bare.pid).peakRss };
  } finally {
    await bare.stop({ cmd: 'exit' });
    await cgroup?.remove();
  }
}

async function startBenchAgent(setup: SinkSetup, context: BenchContext, label: string, nodeFlags: readonly string[] = []): Promise<AgentProcess> {
  const agent = await startAgentProcess(setup.env, {
    label,
    nodeFlags: [...context.config.agentNodeFlags, ...nodeFlags],
    echo: context.config.echoAgent,
    cgroup: processCgroup(context.vm),
  });
  try {
    await agent.waitForReady(30_000);
    // Subscribed at the server, not just connected: nothing published before then would reach it.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const subs = await context.nats.subscriptions();
      if (subs.some((s) => s.connectionName === AGENT_CONNECTION_NAME && s.subject === 'logs.>')) break;
      if (Date.now() > deadline) throw new Error(`${label} never subscribed to logs.>\n${agent.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return agent;
  } catch (error) {
    await agent.kill();
    throw error;
  }
}

async function serverSlowConsumers(nats: NatsServer): Promise<number> {
  return Number((await nats.varz()).slow_consumers ?? 0);
}

/**
 * Waits until the receiver has counted `expected` entries; gives up when nothing new has
 * arrived for `quietMs` (entries lost, or the agent stuck). Polls an in-process counter,
 * so the wait costs the agent nothing.
 */
async function awaitDelivery(receiver: Receiver, expected: number, quietMs: number): Promise<void> {
  let last = -1;
  let lastChange = Date.now();
  while (receiver.delivery.entries < expected) {
    const n = receiver.delivery.entries;
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) {
      return;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Reads the agent's counters once the accounting balances and the receiver's tally is settled. */
async function readAccounting(agent: AgentProcess, sink: BenchSink, expectedDelivered: number, slowBefore: number, nats: NatsServer): Promise<Accounting> {
  // The agent counts an entry delivered when the answer reaches it, just after the receiver counted it.
  const deadline = Date.now() + 10_000;
  let text = await agent.metrics();
  for (;;) {
    const m = parseMetrics(text);
    const delivered = metricValue(m, 'logferry_sink_entries_delivered_total', { sink });
    const received = metricValue(m, 'logferry_sink_entries_received_total', { sink });
    const settled = delivered >= expectedDelivered || metricValue(m, 'logferry_sink_entries_pending', { sink }) === 0;
    if ((settled && received > 0) || Date.now() > deadline) {
      return {
        natsReceived: metricValue(m, 'logferry_nats_messages_received_total'),
        delivered,
        rejected: metricValue(m, 'logferry_sink_entries_rejected_total', { sink }),
        dropped: metricValue(m, 'logferry_sink_entries_dropped_total', { sink }),
        pending: metricValue(m, 'logferry_sink_entries_pending', { sink }),
        slowConsumer: metricValue(m, 'logferry_nats_slow_consumer_total'),
        serverSlowConsumers: (await serverSlowConsumers(nats)) - slowBefore,
        heapUsed: optionalMetric(m, 'logferry_nodejs_heap_size_used_bytes'),
        heapTotal: optionalMetric(m, 'logferry_nodejs_heap_size_total_bytes'),
        external: optionalMetric(m, 'logferry_nodejs_external_memory_bytes'),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
    text = await agent.metrics();
  }
}

function optionalMetric(m: ReturnType<typeof parseMetrics>, name: string): number {
  try {
    return metricValue(m, name);
  } catch {
    return Number.NaN;
  }
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

function accountingText(a: Accounting): string {
  return (
    `nats received ${a.natsReceived}, delivered ${a.delivered}, rejected ${a.rejected}, dropped ${a.dropped}, pending ${a.pending}, ` +
    `slow consumer ${a.slowConsumer} (server ${a.serverSlowConsumers}); heap ${mib(a.heapUsed)} used of ${mib(a.heapTotal)}, external ${mib(a.external)}`
  );
}

/** The cgroup's view, when the agent runs in one: peak charge (RSS + page cache) and times it hit the limit. */
function cgroupText(agent: AgentProcess): string {
  const g = agent.cgroup;
  return g === undefined ? '' : `; cgroup peak ${mib(g.maxUsage())}, limit hit ${g.failCount()}×`;
}

async function stopAgent(agent: AgentProcess): Promise<number | null> {
  return agent.stop(40_000);
}

/** `nodeFlags` go to the agent's node (bench:profile passes --cpu-prof). */
export async function runFull(setup: SinkSetup, context: BenchContext, nodeFlags: readonly string[] = []): Promise<FullResult> {
  const { config, publisher, nats } = context;
  const agent = await startBenchAgent(setup, context, `agent (${setup.sink}, full speed)`, nodeFlags);
  try {
    const slowBefore = await serverSlowConsumers(nats);
    setup.receiver.delivery.reset(false);
    // Half the sink's buffer. The receiver counts a batch before the agent has read its answer, so
    // entries counted there can still be held in the agent: with 3/4 of a 16 MiB buffer, answers
    // waiting a few milliseconds for the agent's event loop were enough to overflow it.
    const windowEntries = config.flood ? undefined : Math.floor((0.5 * setup.bufferMaxBytes) / context.avgEntryBytes);
    let credited = -1;
    const credits = setInterval(() => {
      const n = setup.receiver.delivery.entries;
      if (n !== credited) publisher.send({ cmd: 'credit', delivered: (credited = n) });
    }, 5);
    let warmedUp = 0;
    let cpu0 = 0;
    let threads0 = new Map<string, number>();
    let faults0 = 0;
    let done: PublishDone;
    try {
      if (config.warmUpEntries > 0) {
        // Unmeasured, like the bare subscriber's. The publisher counts credits per `full`
        // command, and the IPC channel keeps order, so the warm-up's last credits cannot reach the next run.
        publisher.send({ cmd: 'full', count: config.warmUpEntries, flowConnection: AGENT_CONNECTION_NAME, windowEntries });
        const warm = await publisher.next('done', publishTimeoutMs(config.warmUpEntries));
        await awaitDelivery(setup.receiver, warm.published, 20_000);
        if (setup.receiver.delivery.entries !== warm.published) {
          throw new Error(`warm-up: the receiver counted ${setup.receiver.delivery.entries} of ${warm.published} entries\n${agent.tail()}`);
        }
        warmedUp = warm.published;
        setup.receiver.delivery.reset(false);
      }
      cpu0 = cpuSeconds(agent.pid);
      threads0 = threadCpu(agent.pid);
      faults0 = minorFaults(agent.pid);
      publisher.send({ cmd: 'full', count: config.entries, flowConnection: AGENT_CONNECTION_NAME, windowEntries });
      done = await publisher.next('done', publishTimeoutMs(config.entries));
      await awaitDelivery(setup.receiver, done.published, 20_000);
    } finally {
      clearInterval(credits);
    }
    const cpu1 = cpuSeconds(agent.pid);
    const memory = memoryStatus(agent.pid);
    const d = setup.receiver.delivery;
    // The agent's counters include the warm-up's entries.
    const threads = threadCpuText(agent.pid, threads0);
    const faults = minorFaults(agent.pid) - faults0;
    const accounting = await readAccounting(agent, setup.sink, warmedUp + done.published, slowBefore, nats);
    context.log(`[${setup.sink}] agent ${(cpu1 - cpu0).toFixed(2)} CPU-s; threads: ${threads}; ${faults} minor page faults${cgroupText(agent)}`);
    context.log(
      `[${setup.sink}] published ${done.published} (paused ${done.flowPauses}× for the NATS backlog, ${done.windowPauses}× for the window of ${windowEntries ?? '∞'}), received ${d.entries}; agent: ${accountingText(accounting)}`,
    );
    const exitCode = await stopAgent(agent);
    return {
      warmedUp,
      published: done.published,
      publishedBytes: done.bytes,
      received: d.entries,
      elapsedMs: d.lastAt - done.startedAt,
      lagMs: d.entries > 0 ? Math.max(0, d.lastAt - done.finishedAt) : Number.NaN,
      cpuSeconds: cpu1 - cpu0,
      peakRssBytes: memory.peakRss,
      compressedBytes: d.compressedBytes,
      decodedBytes: d.decodedBytes,
      bodies: d.bodies,
      flowPauses: done.flowPauses,
      windowPauses: done.windowPauses,
      windowEntries,
      accounting,
      exitCode,
    };
  } finally {
    if (agent.isRunning()) await agent.kill();
  }
}

export async function runFixed(setup: SinkSetup, context: BenchContext): Promise<FixedResult> {
  const { config, publisher, nats } = context;
  const agent = await startBenchAgent(setup, context, `agent (${setup.sink}, ${config.fixedRate}/s)`);
  const samples: Array<{ at: number; rss: number }> = [];
  const sampler = setInterval(() => {
    try {
      samples.push({ at: nowMs(), rss: memoryStatus(agent.pid).rss });
    } catch {
      // The agent exited; the run will report it.
    }
  }, 250);
  sampler.unref();
  try {
    const slowBefore = await serverSlowConsumers(nats);
    setup.receiver.delivery.reset(true);
    const cpu0 = cpuSeconds(agent.pid);
    const t0 = nowMs();
    publisher.send({ cmd: 'fixed', rate: config.fixedRate, seconds: config.fixedSeconds });
    const done = await publisher.next('done', config.fixedSeconds * 1000 + 60_000);
    const cpu1 = cpuSeconds(agent.pid);
    const t1 = nowMs();
    await awaitDelivery(setup.receiver, done.published, 20_000);
    clearInterval(sampler);
    const memory = memoryStatus(agent.pid);
    const d = setup.receiver.delivery;
    const latency = d.latency!;
    const half = done.startedAt + (done.finishedAt - done.startedAt) / 2;
    const steady = samples.filter((s) => s.at >= half && s.at <= done.finishedAt);
    const accounting = await readAccounting(agent, setup.sink, done.published, slowBefore, nats);
    const trace = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map((f) => {
      const at = done.startedAt + f * (done.finishedAt - done.startedAt);
      const sample = samples.filter((x) => x.at <= at).at(-1);
      return sample === undefined ? '?' : (sample.rss / 1024 / 1024).toFixed(0);
    });
    context.log(`[${setup.sink}] published ${done.published}, received ${d.entries}${cgroupText(agent)}; agent: ${accountingText(accounting)}; RSS MiB at each tenth of the run: ${trace.join(' ')}`);
    const exitCode = await stopAgent(agent);
    return {
      published: done.published,
      received: d.entries,
      rate: done.published / ((done.finishedAt - done.startedAt) / 1000),
      seconds: (done.finishedAt - done.startedAt) / 1000,
      p50Ms: latency.percentile(50),
      p99Ms: latency.percentile(99),
      maxMs: latency.max,
      steadyRssBytes: steady.length > 0 ? Math.max(...steady.map((s) => s.rss)) : Number.NaN,
      peakRssBytes: memory.peakRss,
      cpuShare: (cpu1 - cpu0) / ((t1 - t0) / 1000),
      accounting,
      exitCode,
    };
  } finally {
    clearInterval(sampler);
    if (agent.isRunning()) await agent.kill();
  }
}

export async function benchSink(sink: BenchSink, context: BenchContext): Promise<SinkResult> {
  const errors: string[] = [];
  const setup = await setupSink(sink, context);
  const result: { bare?: BareResult; full?: FullResult; fixed?: FixedResult } = {};
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    context.log(`[${sink}] ${name}…`);
    const started = Date.now();
    try {
      const r = await run();
      context.log(`[${sink}] ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return r;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      context.log(`[${sink}] ${name} FAILED: ${message}`);
      errors.push(`${name}: ${message.split('\n')[0]}`);
      return undefined;
    }
  };
  const bares: BareResult[] = [];
  const fulls: FullResult[] = [];
  const ratios: number[] = [];
  try {
    // The machine is shared and noisy: bare and agent runs alternate, and the medians count.
    const repeat = context.config.repeat;
    for (let i = 1; i <= repeat; i++) {
      const of = repeat > 1 ? ` (run ${i} of ${repeat})` : '';
      const bare = await phase(`bare subscriber, ${context.config.entries} entries${of}`, () => runBare(context));
      const full = await phase(`agent at full speed, ${context.config.entries} entries${of}`, () => runFull(setup, context));
      if (bare !== undefined) bares.push(bare);
      if (full !== undefined) fulls.push(full);
      if (bare !== undefined && full !== undefined) ratios.push(full.received / full.cpuSeconds / (bare.entries / bare.cpuSeconds));
    }
    result.bare = medianBy(bares, (b) => b.entries / b.cpuSeconds);
    result.full = combineFull(fulls);
    result.fixed = await phase(`agent at ${context.config.fixedRate}/s for ${context.config.fixedSeconds} s`, () => runFixed(setup, context));
  } finally {
    await setup.close();
  }
  return { sink, shownEnv: setup.shownEnv, batchMaxAgeMs: setup.batchMaxAgeMs, ...result, ratios, errors };
}

function medianBy<T>(runs: readonly T[], key: (run: T) => number): T | undefined {
  if (runs.length === 0) return undefined;
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** The median run by entries per CPU-second, carrying the worst peak RSS and lag of all; a run that lost entries wins, so a loss always shows. */
function combineFull(runs: readonly FullResult[]): FullResult | undefined {
  const lossy = runs.find((r) => r.received !== r.published || r.accounting.dropped > 0 || r.accounting.rejected > 0 || r.accounting.slowConsumer > 0 || r.accounting.serverSlowConsumers > 0);
  const chosen = lossy ?? medianBy(runs, (r) => r.received / r.cpuSeconds);
  if (chosen === undefined) return undefined;
  return { ...chosen, peakRssBytes: Math.max(...runs.map((r) => r.peakRssBytes)), lagMs: Math.max(...runs.map((r) => r.lagMs)) };
}
