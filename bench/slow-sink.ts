// The "slow sink" case (issue 14): intake at full speed (paced by NATS only, as a real burst)
// into an HTTP endpoint that takes at most a quarter of that rate. With default settings the
// memory buffer fills and the default spool takes the rest. Reports the peak spool bytes,
// the peak RSS, the time to drain after intake stops, and entries lost (must be 0).
import { metricSeries, metricValue, parseMetrics } from '../test/support/prometheus.js';
import { startHttpReceiver } from '../test/support/http-receiver.js';
import { startAgentProcess } from './agent-process.js';
import { memoryStatus } from './proc.js';
import { processCgroup } from './vm-memory.js';
import { AGENT_CONNECTION_NAME } from './protocol.js';
import type { BenchContext } from './scenario.js';

export interface SlowSinkResult {
  /** Entries per second the endpoint accepts. */
  readonly sinkRate: number;
  readonly published: number;
  /** Intake rate: published ÷ publishing time. */
  readonly intakeRate: number;
  readonly delivered: number;
  readonly peakSpoolBytes: number;
  readonly spoolMaxBytes: number;
  readonly peakRssBytes: number;
  /** Intake done → the last entry at the endpoint. */
  readonly drainMs: number;
  /** Published minus delivered (the agent's drops are part of it). */
  readonly lost: number;
  readonly dropped: number;
  /** Dropped entries by reason (empty when none were). */
  readonly droppedBy: Readonly<Record<string, number>>;
}

export async function runSlowSink(context: BenchContext, entries: number, sinkRate: number): Promise<SlowSinkResult> {
  const { config, publisher, nats } = context;
  // Answers each request after the time its entries take at `sinkRate`, one after the other.
  let nextFree = 0;
  const receiver = await startHttpReceiver({ keepBodies: false, keepEntries: false, parse: 'ndjson' });
  receiver.respondWith((req) => {
    const now = Date.now();
    nextFree = Math.max(now, nextFree) + (req.entryCount / sinkRate) * 1000;
    return { status: 200, delayMs: nextFree - now };
  });
  // Default settings: only where the logs go (and the production runtime of the Dockerfile), on the VM's memory.
  const env = { NATS_URL: nats.url, HTTP_URL: `${receiver.url}/ingest`, LOG_LEVEL: 'info', ...context.vm.agentEnv, ...config.agentOverrides };
  const agent = await startAgentProcess(env, { label: 'agent (http, slow sink)', nodeFlags: config.agentNodeFlags, echo: config.echoAgent, cgroup: processCgroup(context.vm) });
  let peakSpoolBytes = 0;
  let spoolMaxBytes = 0;
  const sampler = setInterval(() => {
    void agent.metrics().then(
      (text) => {
        const m = parseMetrics(text);
        peakSpoolBytes = Math.max(peakSpoolBytes, metricValue(m, 'logferry_spool_bytes', { sink: 'http' }));
        spoolMaxBytes = metricValue(m, 'logferry_spool_max_bytes', { sink: 'http' });
      },
      () => undefined,
    );
  }, 250);
  try {
    await agent.waitForReady(30_000);
    const deadline = Date.now() + 20_000;
    while (!(await nats.subscriptions()).some((s) => s.connectionName === AGENT_CONNECTION_NAME && s.subject === 'logs.>')) {
      if (Date.now() > deadline) throw new Error(`the slow-sink agent never subscribed\n${agent.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    publisher.send({ cmd: 'full', count: entries, flowConnection: AGENT_CONNECTION_NAME });
    const done = await publisher.next('done', 120_000 + entries / 2);
    // Drained: the endpoint has everything, or nothing new arrived for a minute (entries lost).
    let last = -1;
    let lastChange = Date.now();
    let lastAt = Date.now();
    while (receiver.stats().entries < done.published && Date.now() - lastChange < 60_000) {
      const n = receiver.stats().entries;
      if (n !== last) {
        last = n;
        lastChange = lastAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (receiver.stats().entries >= done.published) lastAt = Date.now();
    clearInterval(sampler);
    if (!agent.isRunning()) throw new Error(`the agent exited during the run (a memory limit of ${context.vm.bytes ?? 'none'} bytes, ${context.vm.mode})\n${agent.tail()}`);
    const m = parseMetrics(await agent.metrics());
    const dropped = metricValue(m, 'logferry_sink_entries_dropped_total', { sink: 'http' });
    const droppedBy = Object.fromEntries(metricSeries(m, 'logferry_sink_entries_dropped_total', { sink: 'http' }).filter((s) => s.value > 0).map((s) => [s.labels.reason ?? '', s.value]));
    const peakRssBytes = memoryStatus(agent.pid).peakRss;
    const delivered = receiver.stats().entries;
    const result: SlowSinkResult = {
      sinkRate,
      published: done.published,
      intakeRate: done.published / ((done.finishedAt - done.startedAt) / 1000),
      delivered,
      peakSpoolBytes,
      spoolMaxBytes,
      peakRssBytes,
      drainMs: Math.max(0, lastAt - done.finishedAt),
      lost: done.published - delivered,
      dropped,
      droppedBy,
    };
    const g = agent.cgroup;
    context.log(`[slow sink] ${JSON.stringify(result)}${g === undefined ? '' : `; cgroup peak ${(g.maxUsage() / 1024 / 1024).toFixed(0)} MiB, limit hit ${g.failCount()}×`}`);
    await agent.stop(40_000);
    return result;
  } finally {
    clearInterval(sampler);
    if (agent.isRunning()) await agent.kill();
    await receiver.close();
  }
}
