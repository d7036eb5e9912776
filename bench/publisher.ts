// The benchmark's publisher, a child process of bench/run.ts so its CPU is nobody else's.
// It generates a pool of Fly-shaped entries once (test/support/fly-entries.ts: access logs,
// JSON-in-message, multi-line traces, unicode, ~2 % 8 KiB lines of random text) and cycles
// through it on command:
//   full:  as fast as the subscriber takes them. Flushing only proves nats-server has the
//          messages; a subscriber slower than the publisher would still be cut off as a slow
//          consumer once the server's backlog for it passes max_pending (64 MiB). So the
//          publisher watches that backlog (`/connz` pending_bytes of the subscriber's
//          connection) and pauses while it is high: the subscriber sets the pace. With a
//          window, it also stays at most that many entries ahead of what the receiver has
//          counted (credits from the orchestrator), so the agent's buffer never overflows
//          and the run measures the rate it sustains end to end.
//   fixed: a steady rate, each entry's `timestamp` set to its publish time, so the receiver
//          can compute publish → sink latency from the entry itself.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { makeFlyEntries } from '../test/support/fly-entries.js';
import type { PublisherArgs, PublisherCommand, PublisherEvent } from './protocol.js';

const FLUSH_BYTES = 256 * 1024;
// Pause above this server-side backlog, resume below the low mark: far under max_pending.
const PENDING_HIGH = 8 * 1024 * 1024;
const PENDING_LOW = 2 * 1024 * 1024;
const FLOW_POLL_MS = 5;
const FIXED_TICK_MS = 5;
const TIMESTAMP_SUFFIX = '"timestamp":"';
// `2026-11-26T20:34:37.000412877Z"}`: 30 characters of timestamp, then the closing quote and brace.
const TAIL_LENGTH = 32;

interface PoolEntry {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The payload up to and including `"timestamp":"`, for re-stamping. */
  readonly head: Buffer;
}

function post(event: PublisherEvent): void {
  process.send?.(event);
}

function buildPool(size: number, seed: number): { pool: PoolEntry[]; bytes: number; kinds: Record<string, number> } {
  const entries = makeFlyEntries(size, { seed, startMs: Date.now() - size });
  const pool: PoolEntry[] = [];
  const kinds: Record<string, number> = {};
  let bytes = 0;
  for (const e of entries) {
    const head = e.payload.slice(0, -TAIL_LENGTH);
    if (!head.endsWith(TIMESTAMP_SUFFIX) || !e.payload.endsWith('Z"}')) throw new Error(`entry ${e.id} does not end with its timestamp`);
    const data = Buffer.from(e.payload, 'utf8');
    pool.push({ subject: e.subject, data, head: Buffer.from(head, 'utf8') });
    bytes += data.length;
    kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  }
  return { pool, bytes, kinds };
}

/** `2026-11-26T20:34:37.000412877Z` for a fractional ms-since-epoch time. */
function flyTimestamp(ms: number): string {
  const whole = Math.floor(ms);
  const subMs = Math.floor((ms - whole) * 1_000_000);
  return `${new Date(whole).toISOString().slice(0, -1)}${String(subMs).padStart(6, '0')}Z`;
}

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Watches the server-side backlog of one connection, found by name. */
class FlowGate {
  readonly #monitorUrl: string;
  readonly #name: string;
  #cid: number | undefined;
  #pending = 0;
  #running = false;
  #loop: Promise<void> | undefined;
  maxPending = 0;
  pauses = 0;

  constructor(monitorUrl: string, name: string) {
    this.#monitorUrl = monitorUrl;
    this.#name = name;
  }

  async start(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (this.#cid === undefined) {
      const connz = (await (await fetch(`${this.#monitorUrl}/connz?limit=4096`)).json()) as { connections?: Array<{ cid: number; name?: string }> };
      // The newest connection of that name: an earlier run's may linger for a moment.
      const mine = (connz.connections ?? []).filter((c) => c.name === this.#name).sort((a, b) => b.cid - a.cid)[0];
      if (mine !== undefined) this.#cid = mine.cid;
      else if (Date.now() > deadline) throw new Error(`no NATS connection named "${this.#name}" to publish to`);
      else await sleep(50);
    }
    this.#running = true;
    this.#loop = this.#poll();
  }

  async #poll(): Promise<void> {
    while (this.#running) {
      try {
        const connz = (await (await fetch(`${this.#monitorUrl}/connz?cid=${this.#cid}`)).json()) as { connections?: Array<{ pending_bytes?: number }> };
        this.#pending = connz.connections?.[0]?.pending_bytes ?? 0;
        if (this.#pending > this.maxPending) this.maxPending = this.#pending;
      } catch {
        // A missed poll only delays the next reading.
      }
      await sleep(FLOW_POLL_MS);
    }
  }

  /** Returns at once while the backlog is low; otherwise waits until it has drained to the low mark. */
  async admit(): Promise<void> {
    if (this.#pending <= PENDING_HIGH) return;
    this.pauses++;
    while (this.#pending > PENDING_LOW) await sleep(FLOW_POLL_MS);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}

/** Receiver progress, updated by `credit` commands outside the command queue. */
let delivered = 0;

async function publishFull(nc: NatsConnection, pool: readonly PoolEntry[], count: number, gate: FlowGate, windowEntries: number | undefined): Promise<PublisherEvent> {
  delivered = 0;
  let windowPauses = 0;
  await gate.start();
  const startedAt = nowMs();
  let bytes = 0;
  let unflushed = 0;
  for (let i = 0; i < count; i++) {
    const e = pool[i % pool.length]!;
    nc.publish(e.subject, e.data);
    bytes += e.data.length;
    unflushed += e.data.length;
    if (unflushed >= FLUSH_BYTES) {
      unflushed = 0;
      await nc.flush();
      await gate.admit();
      if (windowEntries !== undefined && i + 1 - delivered > windowEntries) {
        windowPauses++;
        while (i + 1 - delivered > windowEntries) await sleep(1);
      }
    }
  }
  await nc.flush();
  const finishedAt = nowMs();
  await gate.stop();
  return { ev: 'done', published: count, bytes, startedAt, finishedAt, flowPauses: gate.pauses, windowPauses, maxPendingBytes: gate.maxPending };
}

async function publishFixed(nc: NatsConnection, pool: readonly PoolEntry[], rate: number, seconds: number): Promise<PublisherEvent> {
  const total = rate * seconds;
  const startedAt = nowMs();
  let sent = 0;
  let bytes = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((nowMs() - startedAt) * rate) / 1000));
    while (sent < due) {
      const e = pool[sent % pool.length]!;
      const data = Buffer.allocUnsafe(e.head.length + TAIL_LENGTH);
      e.head.copy(data, 0);
      data.write(flyTimestamp(nowMs()), e.head.length, 'latin1');
      data.write('"}', e.head.length + TAIL_LENGTH - 2, 'latin1');
      nc.publish(e.subject, data);
      bytes += data.length;
      sent++;
    }
    await nc.flush();
    if (sent < total) await sleep(FIXED_TICK_MS);
  }
  await nc.flush();
  return { ev: 'done', published: sent, bytes, startedAt, finishedAt: nowMs(), flowPauses: 0, windowPauses: 0, maxPendingBytes: 0 };
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as PublisherArgs;
  const { pool, bytes, kinds } = buildPool(args.poolSize, args.seed);
  const nc = await connect({ servers: args.natsUrl, name: 'bench-publisher', maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  post({ ev: 'ready', poolSize: pool.length, poolBytes: bytes, kinds });

  let queue = Promise.resolve();
  process.on('message', (raw) => {
    const command = raw as PublisherCommand;
    if (command.cmd === 'credit') {
      delivered = command.delivered;
      return;
    }
    queue = queue.then(async () => {
      try {
        if (command.cmd === 'full') post(await publishFull(nc, pool, command.count, new FlowGate(args.monitorUrl, command.flowConnection), command.windowEntries));
        else if (command.cmd === 'fixed') post(await publishFixed(nc, pool, command.rate, command.seconds));
        else {
          await nc.drain();
          process.exit(0);
        }
      } catch (error) {
        post({ ev: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((error: unknown) => {
  post({ ev: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
});
