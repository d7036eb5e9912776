// Shared set-up for the S3 end-to-end scenarios (issue 3): a real nats-server, s3rver with
// its buckets (optionally behind the recording proxy), a publisher, and agents run as child
// processes with the S3 sink pointed at the store. Plus the archive checks every scenario
// makes: keys in the documented layout, every entry exactly once, lines byte-identical.
import { expect } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSubscribedAgent, type Agent, type AgentOptions } from '../../support/agent.js';
import { idOf, type FlyEntry } from '../../support/fly-entries.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer, type PublishMessage, type PublishOptions } from '../../support/nats.js';
import { readObjects, S3RVER_CREDENTIALS, startS3Proxy, startS3rver, type S3Proxy, type S3rverHandle, type StoredObject } from '../../support/s3.js';

export const BUCKET = 'fly-logs';

export interface S3ScenarioOptions {
  /** Put the recording proxy between the agents and s3rver (default false). */
  readonly proxy?: boolean;
  /** Buckets s3rver creates (default [BUCKET]). */
  readonly buckets?: readonly string[];
}

export interface S3Scenario {
  readonly nats: NatsServer;
  readonly s3: S3rverHandle;
  /** Present when started with `proxy: true`; the agents' S3_ENDPOINT then points at it. */
  readonly proxy: S3Proxy | undefined;
  readonly publisher: NatsConnection;
  readonly agents: Agent[];
  /** NATS_URL, the bucket, s3rver's credentials, the endpoint, short batch ages and backoffs, then `extra`. */
  env(extra?: Readonly<Record<string, string>>): Record<string, string>;
  /** Starts an agent and waits until it is ready and subscribed (with every other running agent). */
  startAgent(extra?: Readonly<Record<string, string>>, options?: AgentOptions): Promise<Agent>;
  publish(messages: readonly PublishMessage[], options?: PublishOptions): Promise<void>;
  /** Every object in the bucket, read back with the independent node:http reader (straight from s3rver). */
  objects(bucket?: string): Promise<StoredObject[]>;
  close(): Promise<void>;
}

export async function startS3Scenario(options: S3ScenarioOptions = {}): Promise<S3Scenario> {
  const nats = await startNatsServer();
  const s3 = await startS3rver({ buckets: options.buckets ?? [BUCKET] });
  const proxy = options.proxy ? await startS3Proxy(s3.endpoint) : undefined;
  const publisher = await connectPublisher(nats.url);
  const agents: Agent[] = [];
  // Subject and queue of each agent: agents on the same ones share the subscription count.

  const env = (extra: Readonly<Record<string, string>> = {}): Record<string, string> => ({
    NATS_URL: nats.url,
    AWS_BUCKET: BUCKET,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    S3_ENDPOINT: (proxy ?? s3).endpoint,
    S3_BATCH_MAX_AGE: '500ms',
    RETRY_INITIAL_BACKOFF: '100ms',
    RETRY_MAX_BACKOFF: '1s',
    ...extra,
  });

  return {
    nats,
    s3,
    proxy,
    publisher,
    agents,
    env,
    startAgent: (extra = {}, agentOptions = {}) => startSubscribedAgent(nats, agents, env(extra), agentOptions),
    publish: (messages, publishOptions) => publishAll(publisher, messages, publishOptions),
    objects: (bucket = BUCKET) => readObjects(s3.endpoint, bucket),
    async close() {
      await Promise.all(agents.map((a) => a.kill()));
      await publisher.close().catch(() => undefined);
      await proxy?.close();
      await s3.close();
      await nats.stop('SIGKILL');
    },
  };
}

export interface ObjectKey {
  readonly app: string;
  readonly date: string;
  readonly hour: string;
  /** `YYYYMMDDTHHMMSS.mmmZ`: the time of the object's first entry. */
  readonly stamp: string;
  /** The agent instance id segment. */
  readonly agent: string;
  readonly seq: number;
}

// The documented layout: app=<app>/dt=<YYYY-MM-DD>/hour=<HH>/<YYYYMMDDTHHMMSS.mmmZ>-<agent>-<seq>.ndjson.gz
// (.ndjson.zst with S3_COMPRESSION=zstd).
const KEY = /^app=([A-Za-z0-9._-]+)\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/(\d{8}T\d{6}\.\d{3}Z)-([A-Za-z0-9._-]+)-(\d{6})(\.ndjson(?:\.gz|\.zst)?)$/;

/** The key's parts when it is in the documented layout and ends in `extension`. */
export function parseObjectKey(key: string, prefix = '', extension = '.ndjson.gz'): ObjectKey | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const m = KEY.exec(key.slice(prefix.length));
  if (m?.[7] !== extension) return undefined;
  if (!m) return undefined;
  return { app: m[1]!, date: m[2]!, hour: m[3]!, stamp: m[4]!, agent: m[5]!, seq: Number(m[6]) };
}

/** `2026-11-26T20:34:37.253412877Z` → `20261126T203437.253Z` (the object name's time, to the millisecond). */
export function nameStamp(flyTimestamp: string): string {
  return `${flyTimestamp.slice(0, 23).replace(/[-:]/g, '')}Z`;
}

export interface ArchiveSummary {
  readonly objects: number;
  readonly lines: number;
  /** Object keys by agent id segment. */
  readonly keysByAgent: ReadonlyMap<string, string[]>;
  readonly apps: ReadonlySet<string>;
  /** Distinct `dt/hour` folders. */
  readonly hours: ReadonlySet<string>;
}

/**
 * The bucket holds exactly `expected`: every key in the documented layout, every line
 * byte-identical to a published payload, each published entry exactly once, each line in
 * the folder of its own app, date and hour, each object named after its first entry's time,
 * and sequence numbers unique per agent.
 */
export function expectArchive(objects: readonly StoredObject[], expected: readonly FlyEntry[], prefix = '', extension = '.ndjson.gz'): ArchiveSummary {
  const byId = new Map(expected.map((e) => [e.id, e]));
  const seen = new Map<string, number>();
  const keysByAgent = new Map<string, string[]>();
  const seqs = new Set<string>();
  const apps = new Set<string>();
  const hours = new Set<string>();
  const problems: string[] = [];
  const problem = (text: string): void => {
    if (problems.length < 10) problems.push(text);
  };
  let lines = 0;
  for (const object of objects) {
    const key = parseObjectKey(object.key, prefix, extension);
    if (key === undefined) {
      problem(`key not in the documented layout: ${object.key}`);
      continue;
    }
    if (seqs.has(`${key.agent}/${key.seq}`)) problem(`sequence ${key.seq} used twice by agent ${key.agent}`);
    seqs.add(`${key.agent}/${key.seq}`);
    keysByAgent.set(key.agent, [...(keysByAgent.get(key.agent) ?? []), object.key]);
    apps.add(key.app);
    hours.add(`${key.date}/${key.hour}`);
    if (object.lines.length === 0) problem(`empty object ${object.key}`);
    for (const [i, line] of object.lines.entries()) {
      lines++;
      let parsed: { timestamp?: string; fly?: { app?: { name?: string } } };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        problem(`line ${i} of ${object.key} is not JSON: ${line.slice(0, 100)}`);
        continue;
      }
      const id = idOf(parsed);
      const published = id === undefined ? undefined : byId.get(id);
      if (published === undefined) {
        problem(`line ${i} of ${object.key} was never published: ${line.slice(0, 100)}`);
        continue;
      }
      seen.set(published.id, (seen.get(published.id) ?? 0) + 1);
      if (line !== published.payload) problem(`line of ${published.id} (${published.kind}) differs from the published bytes`);
      const ts = parsed.timestamp ?? '';
      if (published.app !== key.app) problem(`${published.id} of app ${published.app} in ${object.key}`);
      if (ts.slice(0, 10) !== key.date || ts.slice(11, 13) !== key.hour) problem(`${published.id} at ${ts} in ${object.key}`);
      if (i === 0 && nameStamp(ts) !== key.stamp) problem(`${object.key} is named ${key.stamp}, its first entry is at ${ts}`);
    }
  }
  const missing = expected.filter((e) => !seen.has(e.id)).map((e) => e.id);
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
  expect(
    { problems, missing: missing.length, duplicated: duplicated.length, samples: { missing: missing.slice(0, 5), duplicated: duplicated.slice(0, 5) } },
    'the archive holds every published entry exactly once, byte-identical, under the documented keys',
  ).toEqual({ problems: [], missing: 0, duplicated: 0, samples: { missing: [], duplicated: [] } });
  expect(lines).toBe(expected.length);
  return { objects: objects.length, lines, keysByAgent, apps, hours };
}

/** Error and fatal lines the agent logged (its pino JSON carries the level by name). */
export function errorLines(agent: Agent): Array<Record<string, unknown>> {
  return agent.logs.filter((l) => l.level === 'error' || l.level === 'fatal');
}
