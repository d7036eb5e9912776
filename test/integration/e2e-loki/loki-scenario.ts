// Shared set-up for the Loki end-to-end scenarios (issue 4): a real nats-server, the Loki
// test receiver (which validates pushes as Loki does), a publisher, and agents run as child
// processes with LOKI_URL pointed at the receiver. Plus the check every scenario makes: what
// Loki stored is each published entry exactly once, with fly-log-shipper's labels, the
// entry's JSON as the line and its timestamp in nanoseconds.
import { expect } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSubscribedAgent, type Agent, type AgentOptions } from '../../support/agent.js';
import { idOf, type FlyEntry } from '../../support/fly-entries.js';
import { startLokiReceiver, type LokiReceiver, type LokiReceiverOptions, type LokiStoredEntry } from '../../support/loki-receiver.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer, type PublishMessage, type PublishOptions } from '../../support/nats.js';
import { waitFor } from '../../support/poll.js';

export interface LokiScenario {
  readonly nats: NatsServer;
  readonly loki: LokiReceiver;
  readonly publisher: NatsConnection;
  readonly agents: Agent[];
  /** NATS_URL, LOKI_URL, short batch ages and backoffs, then `extra`. */
  env(extra?: Readonly<Record<string, string>>): Record<string, string>;
  /**
   * Starts an agent, waits until it is ready and subscribed, and until its start-up check's
   * empty push has been answered, so scripted answers (failNext) meet real pushes only.
   */
  startAgent(extra?: Readonly<Record<string, string>>, options?: AgentOptions): Promise<Agent>;
  publish(messages: readonly PublishMessage[], options?: PublishOptions): Promise<void>;
  close(): Promise<void>;
}

export async function startLokiScenario(receiver: LokiReceiverOptions = {}): Promise<LokiScenario> {
  const nats = await startNatsServer();
  const loki = await startLokiReceiver(receiver);
  const publisher = await connectPublisher(nats.url);
  const agents: Agent[] = [];

  const env = (extra: Readonly<Record<string, string>> = {}): Record<string, string> => ({
    NATS_URL: nats.url,
    LOKI_URL: loki.url,
    LOKI_BATCH_MAX_AGE: '300ms',
    RETRY_INITIAL_BACKOFF: '100ms',
    RETRY_MAX_BACKOFF: '1s',
    ...extra,
  });

  return {
    nats,
    loki,
    publisher,
    agents,
    env,
    async startAgent(extra = {}, agentOptions = {}) {
      const pushesBefore = loki.pushes.length;
      const agent = await startSubscribedAgent(nats, agents, env(extra), agentOptions);
      await waitFor(() => loki.pushes.slice(pushesBefore).some((p) => p.entries === 0 && p.status !== undefined), {
        what: `${agent.label}'s start-up check (an empty push) answered by the Loki receiver`,
        timeoutMs: 20_000,
        context: () => agent.tail(10),
      });
      return agent;
    },
    publish: (messages, publishOptions) => publishAll(publisher, messages, publishOptions),
    async close() {
      await Promise.all(agents.map((a) => a.kill()));
      await publisher.close().catch(() => undefined);
      await loki.close();
      await nats.stop('SIGKILL');
    },
  };
}

interface FlyBody {
  event: { provider: string };
  fly: { app: { name: string; instance: string }; region: string };
  host: string;
  log: { level: string };
  message: string;
  timestamp: string;
}

/** The labels fly-log-shipper sets, worked out here from the published entry (not with the sink's code). */
export function expectedLabels(entry: FlyEntry): Record<string, string> {
  const body = JSON.parse(entry.payload) as FlyBody;
  let level = body.log.level;
  // The app logged JSON: its own level wins (the generator only uses canonical level names).
  if (entry.kind === 'json') level = (JSON.parse(body.message) as { level: string }).level;
  return {
    fly_app_name: body.fly.app.name,
    fly_region: body.fly.region,
    fly_app_instance: body.fly.app.instance,
    host: body.host,
    event_provider: body.event.provider,
    level,
  };
}

/** Fly's RFC3339 timestamp with nanoseconds → decimal nanoseconds since the epoch. */
export function nanos(timestamp: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(timestamp);
  if (!m) throw new Error(`not a Fly timestamp: ${timestamp}`);
  return (BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))).toString();
}

/**
 * What Loki stored is exactly `expected`, each entry once: its line byte-identical to the
 * published payload, its labels fly-log-shipper's, its timestamp Fly's to the nanosecond.
 */
export function expectStoredExactlyOnce(stored: readonly LokiStoredEntry[], expected: readonly FlyEntry[]): void {
  const byId = new Map(expected.map((e) => [e.id, e]));
  const seen = new Map<string, number>();
  const problems: string[] = [];
  const problem = (text: string): void => {
    if (problems.length < 10) problems.push(text);
  };
  for (const s of stored) {
    let id: string | undefined;
    try {
      id = idOf(JSON.parse(s.line));
    } catch {
      problem(`line is not the entry's JSON: ${s.line.slice(0, 100)}`);
      continue;
    }
    const published = id === undefined ? undefined : byId.get(id);
    if (published === undefined) {
      problem(`stored a line that was never published: ${s.line.slice(0, 100)}`);
      continue;
    }
    seen.set(published.id, (seen.get(published.id) ?? 0) + 1);
    if (s.line !== published.payload) problem(`line of ${published.id} (${published.kind}) differs from the published bytes`);
    const labels = expectedLabels(published);
    if (JSON.stringify(s.labels, Object.keys(s.labels).sort()) !== JSON.stringify(labels, Object.keys(labels).sort())) {
      problem(`labels of ${published.id} (${published.kind}): ${JSON.stringify(s.labels)}, expected ${JSON.stringify(labels)}`);
    }
    const ts = nanos((JSON.parse(published.payload) as FlyBody).timestamp);
    if (s.ts !== ts) problem(`timestamp of ${published.id}: ${s.ts}, expected ${ts}`);
    if (s.metadata !== undefined) problem(`${published.id} carries structured metadata, none was configured`);
  }
  const missing = expected.filter((e) => !seen.has(e.id)).map((e) => e.id);
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
  expect(
    { problems, missing: missing.length, duplicated: duplicated.length, samples: { missing: missing.slice(0, 5), duplicated: duplicated.slice(0, 5) } },
    'Loki stored every published entry exactly once, with the right labels, line and timestamp',
  ).toEqual({ problems: [], missing: 0, duplicated: 0, samples: { missing: [], duplicated: [] } });
  expect(stored.length).toBe(expected.length);
}

/** Error and fatal lines the agent logged (its pino JSON carries the level by name). */
export function errorLines(agent: Agent): Array<Record<string, unknown>> {
  return agent.logs.filter((l) => l.level === 'error' || l.level === 'fatal');
}
