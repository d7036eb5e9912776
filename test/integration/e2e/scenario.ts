// Shared set-up for the end-to-end scenarios: a real nats-server, a real HTTP receiver,
// a publisher, and agents run as child processes, plus the checks every scenario makes
// (exactly-once by id, byte-identical fields, the per-sink accounting invariant, a clean
// SIGINT exit with final counters).
import { expect } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSubscribedAgent, type Agent, type AgentLog, type AgentOptions } from '../../support/agent.js';
import { idOf, type FlyEntry } from '../../support/fly-entries.js';
import { startHttpReceiver, type HttpReceiver, type HttpReceiverOptions, type ParsedEntry } from '../../support/http-receiver.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer, type PublishMessage, type PublishOptions } from '../../support/nats.js';
import { waitFor } from '../../support/poll.js';
import type { SinkAccounting } from '../../support/prometheus.js';

export interface HarnessOptions {
  readonly natsAuth?: { readonly user: string; readonly pass: string };
  readonly receiver?: HttpReceiverOptions;
}

export interface Harness {
  readonly nats: NatsServer;
  readonly receiver: HttpReceiver;
  readonly publisher: NatsConnection;
  readonly agents: Agent[];
  /** NATS_URL and HTTP_URL for this harness, short batch ages and backoffs, then `extra`. */
  env(extra?: Readonly<Record<string, string>>): Record<string, string>;
  /** Starts an agent and waits until it is ready and subscribed (with every other running agent). */
  startAgent(extra?: Readonly<Record<string, string>>, options?: AgentOptions): Promise<Agent>;
  publish(messages: readonly PublishMessage[], options?: PublishOptions): Promise<void>;
  /** Replaces the publisher (after a nats-server restart). */
  reconnectPublisher(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const nats = await startNatsServer(options.natsAuth ? { user: options.natsAuth.user, pass: options.natsAuth.pass } : {});
  const receiver = await startHttpReceiver(options.receiver);
  let publisher = await connectPublisher(nats.url, options.natsAuth ?? {});
  const agents: Agent[] = [];

  const env = (extra: Readonly<Record<string, string>> = {}): Record<string, string> => ({
    NATS_URL: nats.url,
    HTTP_URL: `${receiver.url}/ingest`,
    HTTP_BATCH_MAX_AGE: '200ms',
    RETRY_INITIAL_BACKOFF: '100ms',
    RETRY_MAX_BACKOFF: '1s',
    ...extra,
  });

  return {
    nats,
    receiver,
    get publisher() {
      return publisher;
    },
    agents,
    env,
    startAgent: (extra = {}, agentOptions = {}) => startSubscribedAgent(nats, agents, env(extra), agentOptions),
    publish: (messages, publishOptions) => publishAll(publisher, messages, publishOptions),
    async reconnectPublisher() {
      await publisher.close().catch(() => undefined);
      publisher = await connectPublisher(nats.url, options.natsAuth ?? {});
    },
    async close() {
      await Promise.all(agents.map((a) => a.kill()));
      await publisher.close().catch(() => undefined);
      await receiver.close();
      await nats.stop('SIGKILL');
    },
  };
}

/** Every expected entry arrived exactly once and nothing else arrived. */
export function expectExactlyOnce(received: readonly ParsedEntry[], expected: readonly FlyEntry[]): void {
  const counts = new Map<string, number>();
  let withoutId = 0;
  for (const e of received) {
    const id = idOf(e);
    if (id === undefined) withoutId++;
    else counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const expectedIds = new Set(expected.map((e) => e.id));
  const missing = expected.filter((e) => !counts.has(e.id)).map((e) => e.id);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
  const unexpected = [...counts.keys()].filter((id) => !expectedIds.has(id));
  expect(
    { missing: missing.length, duplicated: duplicated.length, unexpected: unexpected.length, withoutId, samples: { missing: missing.slice(0, 5), duplicated: duplicated.slice(0, 5), unexpected: unexpected.slice(0, 5) } },
    'delivery must be exactly once',
  ).toEqual({ missing: 0, duplicated: 0, unexpected: 0, withoutId: 0, samples: { missing: [], duplicated: [], unexpected: [] } });
}

/** Each received entry, parsed, equals what was published for its id. */
export function expectFieldsIntact(received: readonly ParsedEntry[], expected: readonly FlyEntry[]): void {
  const byId = new Map(expected.map((e) => [e.id, e]));
  let checked = 0;
  for (const r of received) {
    const e = byId.get(idOf(r) ?? '');
    if (e === undefined) continue;
    expect(r, `fields of ${e.id} (${e.kind})`).toEqual(JSON.parse(e.payload));
    checked++;
  }
  expect(checked).toBe(received.length);
}

/** received = delivered + rejected + dropped + pending for the sink; returns the numbers. */
export async function expectBalanced(agent: Agent, sink = 'http'): Promise<SinkAccounting> {
  const a = await agent.balancedAccounting(sink).catch(async (error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nlast: ${JSON.stringify(await agent.accounting(sink))}`);
  });
  expect(a.received).toBe(a.delivered + a.rejected + a.dropped + a.pending);
  return a;
}

/**
 * Waits until the sink has been handed `received` entries and holds none (every one
 * delivered, rejected or dropped), then checks the invariant and returns the accounting.
 */
export async function waitForSettled(agent: Agent, received: number, sink = 'http', timeoutMs = 30_000): Promise<SinkAccounting> {
  await waitFor(
    async () => {
      const a = await agent.accounting(sink);
      return a.received >= received && a.pending === 0 && a;
    },
    { what: `${agent.label} sink ${sink} to settle at ${received} received, 0 pending`, timeoutMs, intervalMs: 100, context: async () => `${JSON.stringify(await agent.accounting(sink))}\n${agent.tail(15)}` },
  );
  return expectBalanced(agent, sink);
}

export interface FinalCounters {
  readonly nats: { received: number; dropped: Record<string, number>; malformed: Record<string, number> };
  readonly sinks: Record<string, { received: number; delivered: number; rejected: Record<string, number>; dropped: Record<string, number>; pending: number; retries: number }>;
}

/** SIGINT, exit code 0, and the final "logferry stopped" line with its counters. */
export async function stopCleanly(agent: Agent, signal: NodeJS.Signals = 'SIGINT'): Promise<FinalCounters> {
  const status = await agent.stop(signal);
  expect(status, `${agent.label} exit status\n${agent.tail()}`).toEqual({ code: 0, signal: null });
  const stopped: AgentLog | undefined = agent.logs.find((l) => l.msg === 'logferry stopped');
  expect(stopped, `"logferry stopped" line\n${agent.tail()}`).toBeDefined();
  expect(stopped!.counters, 'final counters').toBeTypeOf('object');
  return stopped!.counters as FinalCounters;
}

export function sum(record: Readonly<Record<string, number>> | undefined): number {
  return Object.values(record ?? {}).reduce((a, b) => a + b, 0);
}
