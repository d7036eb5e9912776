// Shared set-up for the disk-spool end-to-end scenarios (issue 5): a real nats-server, a
// publisher, a sink port that can be "down" (held by a listener that resets every
// connection, so no other test's server can take the port) or "up" (an HTTP receiver
// listening on that same port, restartable), a temporary SPOOL_DIR, and
// agents run as child processes. Also reads spool segment files the way the agent writes
// them, so a test can check what is really on disk and damage it on purpose.
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { HEADER_BYTES, decodePayload, payloadIntact, readHeader } from '../../../src/spool/spool-format.js';
import { startSubscribedAgent, type Agent, type AgentOptions } from '../../support/agent.js';
import { idOf, type FlyEntry } from '../../support/fly-entries.js';
import { startHttpReceiver, type HttpReceiver, type HttpReceiverOptions, type ParsedEntry } from '../../support/http-receiver.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer, type PublishMessage, type PublishOptions } from '../../support/nats.js';
import { freePort, holdPort } from '../../support/ports.js';
import { waitFor } from '../../support/poll.js';
import { metricValue, parseMetrics, sinkAccounting, type SinkAccounting } from '../../support/prometheus.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export interface SpoolHarness {
  readonly nats: NatsServer;
  readonly publisher: NatsConnection;
  /** The port HTTP_URL points at, whether or not anything listens there. */
  readonly sinkPort: number;
  /** The temporary directory tests put SPOOL_DIR (and other files) under; removed by close(). */
  readonly tmp: string;
  /** `<tmp>/spool`: the default SPOOL_DIR of env(). */
  readonly spoolDir: string;
  /** `<spoolDir>/http`: where the HTTP sink's spool lives. */
  readonly httpSpoolDir: string;
  /** The receiver listening on sinkPort now, if the sink is up. */
  readonly receiver: HttpReceiver | undefined;
  /** Entries accepted (2xx) by every receiver that has listened on sinkPort, in arrival order. */
  entries(): ParsedEntry[];
  /** Starts a receiver on sinkPort (the sink comes up). */
  sinkUp(options?: HttpReceiverOptions): Promise<HttpReceiver>;
  /** Closes the receiver (the sink goes down: connections are reset). */
  sinkDown(): Promise<void>;
  /** NATS_URL, HTTP_URL, SPOOL_DIR, a 4 MiB memory buffer, short batch ages and backoffs, then `extra`. */
  env(extra?: Readonly<Record<string, string>>): Record<string, string>;
  /** Starts an agent and waits until it is ready and subscribed (with every other running agent). */
  startAgent(extra?: Readonly<Record<string, string>>, options?: AgentOptions): Promise<Agent>;
  publish(messages: readonly PublishMessage[], options?: PublishOptions): Promise<void>;
  /** SIGKILLs every agent still running (so a failed test cannot feed the next one's receiver). */
  killAgents(): Promise<void>;
  close(): Promise<void>;
}

export async function startSpoolHarness(): Promise<SpoolHarness> {
  const nats = await startNatsServer();
  const publisher = await connectPublisher(nats.url);
  const sinkPort = await freePort();
  const tmp = await mkdtemp(join(tmpdir(), 'logferry-e2e-spool-'));
  const spoolDir = join(tmp, 'spool');
  const agents: Agent[] = [];
  const earlier: ParsedEntry[] = [];
  let receiver: HttpReceiver | undefined;
  // The sink starts down.
  let releasePort: (() => Promise<void>) | undefined = await holdPort(sinkPort);

  const env = (extra: Readonly<Record<string, string>> = {}): Record<string, string> => ({
    NATS_URL: nats.url,
    HTTP_URL: `http://127.0.0.1:${sinkPort}/ingest`,
    HTTP_BATCH_MAX_ENTRIES: '500',
    HTTP_BATCH_MAX_AGE: '200ms',
    // Far less than the tests publish (6-25 MB), so memory could never hold an outage; roomy
    // enough for batches waiting for their spool append (they count against it) on a busy
    // 2-core machine, so the tests that expect no drops see none.
    HTTP_BUFFER_MAX_BYTES: String(4 * MiB),
    RETRY_INITIAL_BACKOFF: '100ms',
    RETRY_MAX_BACKOFF: '1s',
    SPOOL_DIR: spoolDir,
    ...extra,
  });

  const sinkDown = async (): Promise<void> => {
    if (receiver === undefined) return;
    const r = receiver;
    receiver = undefined;
    await r.close();
    earlier.push(...r.entries());
    releasePort = await holdPort(sinkPort);
  };

  return {
    nats,
    publisher,
    sinkPort,
    tmp,
    spoolDir,
    httpSpoolDir: join(spoolDir, 'http'),
    get receiver() {
      return receiver;
    },
    entries: () => (receiver === undefined ? [...earlier] : [...earlier, ...receiver.entries()]),
    async sinkUp(options = {}) {
      if (receiver !== undefined) throw new Error('the sink is already up');
      await releasePort?.();
      releasePort = undefined;
      receiver = await startHttpReceiver({ ...options, port: sinkPort });
      return receiver;
    },
    sinkDown,
    env,
    startAgent: (extra = {}, options = {}) => startSubscribedAgent(nats, agents, env(extra), options),
    publish: (messages, options) => publishAll(publisher, messages, options),
    async killAgents() {
      await Promise.all(agents.map((a) => a.kill()));
    },
    async close() {
      await Promise.all(agents.map((a) => a.kill()));
      await publisher.close().catch(() => undefined);
      await sinkDown();
      await releasePort?.();
      await nats.stop('SIGKILL');
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** How entries arrived compared with what was expected: losses, duplicates (id × times), strays. */
export interface DeliveryReport {
  readonly expected: number;
  readonly received: number;
  readonly distinct: number;
  readonly missing: string[];
  /** Extra copies in total (an id received 3 times adds 2). */
  readonly duplicateCopies: number;
  readonly duplicatedIds: number;
  readonly unexpected: string[];
  readonly withoutId: number;
}

export function deliveryReport(received: readonly ParsedEntry[], expectedIds: Iterable<string>): DeliveryReport {
  const counts = new Map<string, number>();
  let withoutId = 0;
  for (const e of received) {
    const id = idOf(e);
    if (id === undefined) withoutId++;
    else counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const expected = new Set(expectedIds);
  const missing: string[] = [];
  for (const id of expected) if (!counts.has(id)) missing.push(id);
  let duplicateCopies = 0;
  let duplicatedIds = 0;
  const unexpected: string[] = [];
  for (const [id, n] of counts) {
    if (n > 1) {
      duplicatedIds++;
      duplicateCopies += n - 1;
    }
    if (!expected.has(id)) unexpected.push(id);
  }
  return { expected: expected.size, received: received.length, distinct: counts.size, missing, duplicateCopies, duplicatedIds, unexpected, withoutId };
}

/** One line for the test output. */
export function describeReport(what: string, r: DeliveryReport): string {
  return `${what}: expected ${r.expected}, received ${r.received} (${r.distinct} distinct), missing ${r.missing.length}, duplicate copies ${r.duplicateCopies} of ${r.duplicatedIds} ids, unexpected ${r.unexpected.length}, without id ${r.withoutId}`;
}

/** Nothing expected is missing and nothing unexpected arrived (duplicates are checked by the caller). */
export function expectNoLoss(r: DeliveryReport): void {
  expect(
    { missing: r.missing.length, unexpected: r.unexpected.length, withoutId: r.withoutId, samples: { missing: r.missing.slice(0, 5), unexpected: r.unexpected.slice(0, 5) } },
    'every expected entry arrives, nothing else does',
  ).toEqual({ missing: 0, unexpected: 0, withoutId: 0, samples: { missing: [], unexpected: [] } });
}

/** A record as found in a segment file. */
export interface DiskRecord {
  readonly offset: number;
  /** Header plus payload. */
  readonly length: number;
  readonly seq: number;
  readonly entries: number;
  /** The ids of its entries (from the payload). */
  readonly ids: string[];
}

export interface DiskSegment {
  readonly name: string;
  readonly path: string;
  readonly size: number;
  /** Intact records in file order. */
  readonly records: DiskRecord[];
  /** Bytes that are not part of an intact record. */
  readonly damagedBytes: number;
}

/**
 * Reads every `<seq>.seg` in `dir` (oldest first; a file deleted meanwhile is left out) and lists its intact records, skipping
 * damage the way the format allows (resynchronising on the next intact header). Acks are
 * not applied: the tests that read segments run with the sink down, so nothing is acked.
 */
export async function readSegments(dir: string): Promise<DiskSegment[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  const out: DiskSegment[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (error) {
      // Deleted since readdir (drained, or evicted by drop_oldest).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const records: DiskRecord[] = [];
    let damagedBytes = 0;
    let offset = 0;
    while (offset < buf.length) {
      const header = readHeader(buf, offset);
      const end = header === undefined ? -1 : offset + HEADER_BYTES + header.payloadBytes;
      if (header !== undefined && end <= buf.length) {
        const payload = buf.subarray(offset + HEADER_BYTES, end);
        const decoded = payloadIntact(payload, header) ? decodePayload(payload, header.entries, header.version) : undefined;
        if (decoded !== undefined) {
          const ids = decoded.lines.map((line) => idOf(JSON.parse(line)) ?? '(no id)');
          records.push({ offset, length: end - offset, seq: header.seq, entries: header.entries, ids });
          offset = end;
          continue;
        }
      }
      // Damaged: step to the next intact header (or the end).
      let next = offset + 1;
      while (next < buf.length && readHeader(buf, next) === undefined) next++;
      damagedBytes += next - offset;
      offset = next;
    }
    out.push({ name, path, size: buf.length, records, damagedBytes });
  }
  return out;
}

export function diskEntries(segments: readonly DiskSegment[]): number {
  let n = 0;
  for (const s of segments) for (const r of s.records) n += r.entries;
  return n;
}

export function diskIds(segments: readonly DiskSegment[]): string[] {
  return segments.flatMap((s) => s.records.flatMap((r) => r.ids));
}

/** Overwrites one byte of a file in place. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const fd = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fd.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await fd.write(b, 0, 1, offset);
  } finally {
    await fd.close();
  }
}

/** VmRSS of a process in MiB (Linux). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** Samples an agent's RSS every `intervalMs` until stopped; reports the peak and the samples. */
export function sampleRss(agent: Agent, intervalMs = 200): { mark(label: string): void; stop(): { peakMiB: number; samples: number[]; trace: string } } {
  const samples: number[] = [];
  const t0 = Date.now();
  const trace: string[] = [];
  const take = (): void => {
    if (!agent.isRunning()) return;
    rssMiB(agent.pid).then(
      (v) => {
        samples.push(v);
        trace.push(`${((Date.now() - t0) / 1000).toFixed(1)}s:${v.toFixed(0)}`);
      },
      () => undefined, // the process may have just exited
    );
  };
  take();
  const timer = setInterval(take, intervalMs);
  timer.unref();
  return {
    mark(label) {
      trace.push(`[${label}]`);
    },
    stop() {
      clearInterval(timer);
      return { peakMiB: samples.length === 0 ? 0 : Math.max(...samples), samples, trace: trace.join(' ') };
    },
  };
}

/** Waits until the agent has taken in `n` NATS messages (so none were lost on the way in). */
export async function waitForNatsReceived(agent: Agent, n: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => (await agent.metric('logferry_nats_messages_received_total')) >= n, {
    what: `${agent.label} to receive ${n} NATS messages`,
    timeoutMs,
    intervalMs: 100,
    context: async () => `received ${await agent.metric('logferry_nats_messages_received_total')}, slow consumer ${await agent.metric('logferry_nats_slow_consumer_total')}\n${agent.tail(10)}`,
  });
  expect(await agent.metric('logferry_nats_messages_received_total'), 'NATS delivered exactly what was published').toBe(n);
}

export interface SpoolGauges {
  readonly accounting: SinkAccounting;
  readonly spoolEntries: number;
  readonly spoolRecords: number;
  readonly spoolBytes: number;
  readonly written: number;
  readonly replayed: number;
  readonly corrupt: number;
  readonly up: number;
  readonly droppedSpoolFull: number;
  /** Batches the pipeline handed to the spool (written, refused, or still waiting for their append). */
  readonly spooledBatches: number;
  /** Entry bytes the sink holds in memory, batches waiting for their spool append included. */
  readonly bufferBytes: number;
}

/** The sink's accounting and spool metrics from one scrape. */
export async function spoolGauges(agent: Agent, sink = 'http'): Promise<SpoolGauges> {
  const m = parseMetrics(await agent.metrics());
  const l = { sink };
  return {
    accounting: sinkAccounting(m, sink),
    spoolEntries: metricValue(m, 'logferry_spool_entries', l),
    spoolRecords: metricValue(m, 'logferry_spool_records', l),
    spoolBytes: metricValue(m, 'logferry_spool_bytes', l),
    written: metricValue(m, 'logferry_spool_records_written_total', l),
    replayed: metricValue(m, 'logferry_spool_records_replayed_total', l),
    corrupt: metricValue(m, 'logferry_spool_records_corrupt_total', l),
    up: metricValue(m, 'logferry_spool_up', l),
    droppedSpoolFull: metricValue(m, 'logferry_sink_entries_dropped_total', { sink, reason: 'spool_full' }),
    spooledBatches: metricValue(m, 'logferry_sink_batches_total', { sink, outcome: 'spooled' }),
    bufferBytes: metricValue(m, 'logferry_sink_buffer_bytes', l),
  };
}

/**
 * Waits until everything the sink holds is on disk: pending = spool entries = `expected`
 * entries in intact records of the segment files. Returns the segments read.
 */
export async function waitAllOnDisk(agent: Agent, dir: string, expected: number, timeoutMs = 30_000): Promise<DiskSegment[]> {
  let last: { gauges: SpoolGauges; onDisk: number } | undefined;
  return waitFor(
    async () => {
      const gauges = await spoolGauges(agent);
      const onDisk = diskEntries(await readSegments(dir));
      last = { gauges, onDisk };
      const a = gauges.accounting;
      return a.pending === expected && gauges.spoolEntries === expected && onDisk === expected && (await readSegments(dir));
    },
    {
      what: `${agent.label}: all ${expected} pending entries on disk in ${dir}`,
      timeoutMs,
      intervalMs: 100,
      context: () => `${JSON.stringify(last)}\n${agent.tail(10)}`,
    },
  );
}

/** Publish index of each id, for "which entries survived" checks. */
export function indexById(entries: readonly FlyEntry[]): Map<string, number> {
  return new Map(entries.map((e, i) => [e.id, i]));
}
