// Shared set-up for the "nothing lost out of the box" scenarios (issue 14): the agent runs
// with DEFAULT settings only (no buffer sizes, no SPOOL_DIR: the spool goes to ./data/spool
// of its working directory), a real nats-server, and a sink port that can be down (held by
// a listener that resets every connection) or up (an HTTP receiver on that same port).
// Entries are realistic Fly entries padded to ~1.1 KB. Receivers keep only the ids of what
// they accepted, so hundreds of thousands of entries fit in the test process.
import { readFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSubscribedAgent, freshAgentDir, type Agent, type AgentOptions } from '../../support/agent.js';
import { makeFlyEntries, type FlyEntry } from '../../support/fly-entries.js';
import { startHttpReceiver, type HttpReceiver, type HttpReceiverOptions } from '../../support/http-receiver.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer, type PublishOptions } from '../../support/nats.js';
import { freePort, holdPort } from '../../support/ports.js';

export const MiB = 1024 * 1024;

/** Fly entries (the realistic mix) with the message padded so the JSON is at least `bytes` long. */
export function paddedEntries(n: number, options: { seed: number; idPrefix?: string; bytes?: number }): FlyEntry[] {
  const target = options.bytes ?? 1100;
  return makeFlyEntries(n, { seed: options.seed, ...(options.idPrefix !== undefined ? { idPrefix: options.idPrefix } : {}) }).map((e) => {
    if (e.payload.length >= target) return e;
    const o = JSON.parse(e.payload) as { message: string };
    o.message += ` pad=${'x'.repeat(target - e.payload.length)}`;
    return { ...e, payload: JSON.stringify(o) };
  });
}

// The id inside a raw NDJSON line: `req_id=<id>` in a text message, `\"req_id\":\"<id>\"` in a JSON one.
const RAW_ID = /req_id(?:=|\\":\\")([A-Za-z0-9_-]+)/;

/** Counts of accepted entries by id (and lines without one), kept by an id-only receiver. */
export class IdTally {
  readonly counts = new Map<string, number>();
  withoutId = 0;
  total = 0;

  add(id: string | undefined): void {
    this.total++;
    if (id === undefined) this.withoutId++;
    else this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  /** Missing, duplicate copies and unexpected ids against what was published. */
  report(expected: Iterable<string>): { expected: number; missing: number; duplicateCopies: number; unexpected: number; withoutId: number; sampleMissing: string[] } {
    let n = 0;
    const missing: string[] = [];
    const exp = new Set<string>();
    for (const id of expected) {
      n++;
      exp.add(id);
      if (!this.counts.has(id)) missing.push(id);
    }
    let duplicateCopies = 0;
    let unexpected = 0;
    for (const [id, c] of this.counts) {
      if (c > 1) duplicateCopies += c - 1;
      if (!exp.has(id)) unexpected++;
    }
    return { expected: n, missing: missing.length, duplicateCopies, unexpected, withoutId: this.withoutId, sampleMissing: missing.slice(0, 5) };
  }
}

export interface DefaultsHarness {
  readonly nats: NatsServer;
  readonly publisher: NatsConnection;
  readonly sinkPort: number;
  /** The agents' working directory: ./data/spool under it is the default spool. */
  readonly cwd: string;
  /** Accepted entries of every receiver that has listened on sinkPort (2xx answers only). */
  readonly tally: IdTally;
  readonly receiver: HttpReceiver | undefined;
  /** Starts an id-only receiver on sinkPort. */
  sinkUp(options?: HttpReceiverOptions): Promise<HttpReceiver>;
  sinkDown(): Promise<void>;
  /** NATS_URL and HTTP_URL only: everything else is the default. */
  env(extra?: Readonly<Record<string, string>>): Record<string, string>;
  startAgent(extra?: Readonly<Record<string, string>>, options?: AgentOptions): Promise<Agent>;
  publish(entries: readonly FlyEntry[], options?: PublishOptions): Promise<void>;
  close(): Promise<void>;
}

export async function startDefaultsHarness(options: { sinkUp?: boolean } = {}): Promise<DefaultsHarness> {
  const nats = await startNatsServer();
  const publisher = await connectPublisher(nats.url);
  const sinkPort = await freePort();
  const cwd = freshAgentDir();
  const tally = new IdTally();
  const agents: Agent[] = [];
  let receiver: HttpReceiver | undefined;
  let releasePort: (() => Promise<void>) | undefined = await holdPort(sinkPort);

  const parse = (decoded: Buffer): unknown[] => {
    const text = decoded.toString('utf8');
    const out: unknown[] = [];
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      const line = text.slice(start, end);
      if (line.trim() !== '') {
        // A line that is not JSON makes the receiver answer 400: the sink must send valid NDJSON.
        JSON.parse(line);
        out.push(RAW_ID.exec(line)?.[1] ?? '');
      }
      start = end + 1;
    }
    return out;
  };

  const h: DefaultsHarness = {
    nats,
    publisher,
    sinkPort,
    cwd,
    tally,
    get receiver() {
      return receiver;
    },
    async sinkUp(opts = {}) {
      await releasePort?.();
      releasePort = undefined;
      receiver = await startHttpReceiver({ keepBodies: false, ...opts, port: sinkPort, parse });
      // Tally each accepted request's ids as it is answered.
      wrapTally(receiver, tally);
      return receiver;
    },
    async sinkDown() {
      if (receiver === undefined) return;
      const r = receiver;
      receiver = undefined;
      await r.close();
      releasePort = await holdPort(sinkPort);
    },
    env: (extra = {}) => ({ NATS_URL: nats.url, HTTP_URL: `http://127.0.0.1:${sinkPort}/ingest`, ...extra }),
    startAgent: (extra = {}, opts = {}) => startSubscribedAgent(nats, agents, h.env(extra), { cwd, ...opts }),
    publish: (entries, opts) => publishAll(publisher, entries, opts),
    async close() {
      await Promise.all(agents.map((a) => a.kill()));
      await publisher.close().catch(() => undefined);
      await h.sinkDown();
      await releasePort?.();
      await nats.stop('SIGKILL');
    },
  };
  if (options.sinkUp !== false) await h.sinkUp();
  return h;
}

/**
 * Tallies the ids of accepted (2xx) requests. The receiver records requests with their parsed
 * entries (here: ids) and status; read each new one once it has an answer.
 */
function wrapTally(r: HttpReceiver, tally: IdTally): void {
  let seen = 0;
  const pump = (): void => {
    const reqs = r.requests;
    while (seen < reqs.length && reqs[seen]!.status !== undefined) {
      const req = reqs[seen++]!;
      if (req.status! >= 200 && req.status! < 300) for (const id of req.entries as unknown as string[]) tally.add(id === '' ? undefined : id);
    }
  };
  const timer = setInterval(pump, 20);
  timer.unref();
  const close = r.close.bind(r);
  (r as { close: () => Promise<void> }).close = async () => {
    await close();
    pump();
    clearInterval(timer);
  };
  (r as { flushTally?: () => void }).flushTally = pump;
}

/** Reads every accepted request into the tally now (call before checking it). */
export function flushTally(r: HttpReceiver | undefined): void {
  (r as { flushTally?: () => void } | undefined)?.flushTally?.();
}

/** Peak resident set (VmHWM) of a process in MiB. */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/**
 * A token bucket on the receiver side: answers each request after the time its entries
 * take at `entriesPerSec` (requests queue behind each other, as at a saturated endpoint).
 */
export function rateCapped(entriesPerSec: number): (req: { entryCount: number }) => { status: number; delayMs: number } {
  let nextFree = 0;
  return (req) => {
    const now = Date.now();
    nextFree = Math.max(now, nextFree) + (req.entryCount / entriesPerSec) * 1000;
    return { status: 200, delayMs: Math.max(0, nextFree - now) };
  };
}
