// The Loki sink against a real HTTP Loki receiver (test/support/loki-receiver.ts) that
// checks pushes as Loki does: the shared sink contract, 20,000 entries through the core
// pipeline with failures injected, and each status Loki answers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entryLevel, messageFields, parseFlyMessage, type FlyLogBody, type LogEntry } from '../../../src/intake/entry.js';
import { EnvReader, type Env } from '../../../src/config/env.js';
import { SinkNetworkError, SinkResponseError, isAuthFailure } from '../../../src/errors.js';
import { ThrottledLog } from '../../../src/ops/logger.js';
import { SinkPipeline } from '../../../src/pipeline/sink-pipeline.js';
import type { PipelineSettings } from '../../../src/pipeline/sink.js';
import { SinkStats, total } from '../../../src/ops/stats.js';
import { readLokiConfig, readOpsverseConfig } from '../../../sinks/loki/config.js';
import { plugin as opsverse } from '../../../sinks/opsverse/index.js';
import { logfmtLine } from '../../../sinks/loki/labels.js';
import { normaliseLevel } from '../../../sinks/loki/labels.js';
import { plugin } from '../../../sinks/loki/index.js';
import { LokiSink, parseTooOldThreshold } from '../../../sinks/loki/sink.js';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { startLokiReceiver, type LokiReceiver, type LokiStoredEntry } from '../../support/loki-receiver.js';
import { freePort } from '../../support/ports.js';
import { makeBatch, sampleEntries, sinkContractSuite } from '../../support/sink-contract.js';

const logger = pino({ level: 'silent' });
const PASSWORD = 'pa55-w0rd-secret';

function lokiSink(url: string, env: Env = {}): LokiSink {
  const config = readLokiConfig(new EnvReader({ LOKI_URL: url, ...env }));
  if (config === undefined) throw new Error('not configured');
  return plugin.create(config, { logger, agentInstanceId: 'test-agent' }) as LokiSink;
}

function compareNanos(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

// Loki is a time-ordered store: read back the way a forward query returns entries.
function byTime(entries: LokiStoredEntry[]): LokiStoredEntry[] {
  return entries.slice().sort((a, b) => compareNanos(a.ts, b.ts));
}

function toEntry(subject: string, payload: string): LogEntry {
  const parsed = parseFlyMessage(subject, Buffer.from(payload, 'utf8'), Date.now());
  if (parsed.kind !== 'entry') throw new Error('did not parse');
  return parsed.entry;
}

function entryAt(timestamp: string, message: string, app = 'web'): LogEntry {
  return toEntry(
    `logs.${app}.ams.i1`,
    JSON.stringify({ event: { provider: 'app' }, fly: { app: { instance: 'i1', name: app }, region: 'ams' }, host: 'h1', log: { level: 'info' }, message, timestamp }),
  );
}

/** The error one send fails with; fails the test if it succeeds. */
async function failure(sink: LokiSink, entries: readonly LogEntry[]): Promise<SinkResponseError | SinkNetworkError> {
  const batch = makeBatch(entries);
  const encoded = await sink.encode(batch);
  try {
    await sink.send(encoded, batch, new AbortController().signal);
  } catch (error) {
    if (error instanceof SinkResponseError || error instanceof SinkNetworkError) return error;
    throw error;
  }
  throw new Error('send succeeded');
}

async function send(sink: LokiSink, entries: readonly LogEntry[]): Promise<void> {
  const batch = makeBatch(entries);
  await sink.send(await sink.encode(batch), batch, new AbortController().signal);
}

function pipelineFor(sink: LokiSink, over: Partial<PipelineSettings['batch']> = {}): { p: SinkPipeline; stats: SinkStats } {
  const stats = new SinkStats();
  const settings: PipelineSettings = { ...plugin.defaults, batch: { ...plugin.defaults.batch, maxAgeMs: 50, ...over } };
  const p = new SinkPipeline({ sink, settings, retry: { initialBackoffMs: 10, maxBackoffMs: 100 }, stats, logger, throttled: new ThrottledLog(logger, 60_000) });
  return { p, stats };
}

/** A server that reads requests and never answers, for abort and timeout checks. */
async function silentServer(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req) => {
    requests++;
    req.resume();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

sinkContractSuite('loki', async () => {
  const rx = await startLokiReceiver();
  const sink = lokiSink(rx.url);
  return {
    sink,
    stored: async () => byTime(rx.entries()).map((e) => JSON.parse(e.line) as Record<string, unknown>),
    failNext: (status) => rx.failNext(status, status === 429 ? { retryAfter: 1 } : {}),
    refusedSink: async () => lokiSink(`http://127.0.0.1:${await freePort()}`),
    close: async () => {
      await sink.close();
      await rx.close();
    },
  };
});

describe('Loki sink against the Loki receiver', () => {
  let rx: LokiReceiver;
  let sink: LokiSink | undefined;

  beforeEach(async () => {
    rx = await startLokiReceiver({ auth: { username: '123456', password: PASSWORD }, tenant: 'org-1' });
  });
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
    await rx.close();
  });
  const authed = (env: Env = {}): LokiSink => (sink = lokiSink(rx.url, { LOKI_USERNAME: '123456', LOKI_PASSWORD: PASSWORD, LOKI_TENANT: 'org-1', ...env }));

  it('delivers 20,000 mixed entries exactly once, with the right labels and lines, through failures', async () => {
    const fly = makeFlyEntries(20_000, { seed: 4 });
    const s = authed();
    const { p, stats } = pipelineFor(s, { maxEntries: 2000 });
    // 503 and 429 are retried (the 429 after its Retry-After), 413 splits the batch.
    rx.failNext(503, { times: 2 });
    rx.failNext(429, { retryAfter: 1 });
    rx.failNext(413);
    rx.failNext(500);
    for (const f of fly) p.accept(toEntry(f.subject, f.payload));
    p.flush();
    expect(await p.whenIdle(60_000)).toBe(true);

    expect(stats.delivered).toBe(20_000);
    expect(total(stats.rejected)).toBe(0);
    expect(total(stats.dropped)).toBe(0);
    expect(stats.batches.get('split')).toBe(1);
    expect(rx.violations()).toEqual([]);

    const stored = rx.entries();
    expect(stored).toHaveLength(20_000);
    const byId = new Map(fly.map((f) => [f.id, f]));
    const seen = new Set<string>();
    for (const e of stored) {
      const body = JSON.parse(e.line) as FlyLogBody;
      const id = idOf(body)!;
      expect(seen.has(id), `entry ${id} arrived twice`).toBe(false);
      seen.add(id);
      const f = byId.get(id)!;
      expect(e.line).toBe(f.payload);
      const fields = messageFields(body);
      const appLevel = fields?.level;
      expect(e.labels).toEqual({
        fly_app_name: f.app,
        fly_region: f.region,
        fly_app_instance: f.instance,
        host: body.host,
        event_provider: body.event!.provider,
        level: normaliseLevel(entryLevel(body)),
      });
      if (typeof appLevel === 'string') expect(e.labels.level).toBe(normaliseLevel(appLevel.toLowerCase()));
    }
    expect(seen.size).toBe(20_000);
    // Batches carry many streams; never one stream per line.
    const streamsPerPush = rx.pushes.filter((q) => q.status === 204).map((q) => q.streams);
    expect(Math.max(...streamsPerPush)).toBeGreaterThan(1);
    expect(rx.streams().size).toBeLessThan(200);
    // Loki's native push by default: snappy protobuf, no Content-Encoding.
    expect(s.pushFormat).toBe('protobuf');
    for (const q of rx.pushes) {
      expect(q.headers['content-encoding']).toBeUndefined();
      expect(q.headers['content-type']).toBe('application/x-protobuf');
      expect(q.headers['x-scope-orgid']).toBe('org-1');
    }
  });

  /** What each push format stores for the same entries (stream labels, timestamps, lines, metadata), in Loki's order. */
  async function storedAs(s: LokiSink, entries: readonly LogEntry[]): Promise<Array<Omit<LokiStoredEntry, 'push'>>> {
    const before = rx.entries().length;
    await send(s, entries);
    return byTime(rx.entries().slice(before)).map(({ push: _push, ...rest }) => rest);
  }

  it('LOKI_PUSH_FORMAT=json sends the gzip JSON push, and it stores exactly what the protobuf push stores', async () => {
    const env = { LOKI_STRUCTURED_METADATA: 'zone,process_group', LOKI_STATIC_LABELS: 'env=prod' };
    const entries = makeFlyEntries(3000, { seed: 9 }).map((f) => toEntry(f.subject, f.payload));
    const json = lokiSink(rx.url, { LOKI_USERNAME: '123456', LOKI_PASSWORD: PASSWORD, LOKI_TENANT: 'org-1', LOKI_PUSH_FORMAT: 'json', ...env });
    try {
      expect(json.pushFormat).toBe('json');
      const viaJson = await storedAs(json, entries);
      expect(rx.pushes.at(-1)!.headers['content-type']).toBe('application/json');
      expect(rx.pushes.at(-1)!.headers['content-encoding']).toBe('gzip');
      const viaProtobuf = await storedAs(authed(env), entries);
      expect(rx.pushes.at(-1)!.headers['content-type']).toBe('application/x-protobuf');
      expect(rx.violations()).toEqual([]);
      expect(viaJson).toHaveLength(3000);
      expect(viaProtobuf).toEqual(viaJson);
      // The protobuf push carries the lines unescaped: a smaller body than the JSON one.
      expect(rx.pushes.at(-1)!.decodedBytes).toBeLessThan(rx.pushes.at(-2)!.decodedBytes);
    } finally {
      await json.close();
    }
  });

  it('400 with a partial rejection: counts what Loki refused, keeps the rest, never retries', async () => {
    const s = authed();
    const entries = sampleEntries();
    rx.failNext(400, { reject: 3, reason: 'entry too far behind, oldest acceptable timestamp is: 2026-11-19T20:35:00Z' });
    const error = await failure(s, entries);
    expect(error).toBeInstanceOf(SinkResponseError);
    const e = error as SinkResponseError;
    expect(e.status).toBe(400);
    expect(e.rejectedEntries).toBe(3);
    expect(s.classify(e)).toBe('permanent');
    expect(e.message).toContain(`Loki rejected 3 of ${entries.length} entries (HTTP 400)`);
    expect(e.bodyExcerpt).toContain('entry too far behind');
    expect(rx.entries()).toHaveLength(entries.length - 3);
    expect(rx.pushes).toHaveLength(1);
  });

  it('400 from what Loki itself refuses (too old), accounted by the core per entry', async () => {
    await rx.close();
    rx = await startLokiReceiver({ rejectOlderThanMs: 7 * 24 * 3600_000, dropDuplicates: true });
    sink = lokiSink(rx.url);
    const now = Date.now();
    const entries = [
      entryAt('2020-01-01T00:00:00.000000001Z', 'old one'),
      entryAt(new Date(now - 1000).toISOString(), 'fresh one'),
      entryAt('2020-01-01T00:00:00.000000002Z', 'old two', 'api'),
      entryAt(new Date(now).toISOString(), 'fresh two', 'api'),
      entryAt(new Date(now).toISOString(), 'fresh three'),
    ];
    const { p, stats } = pipelineFor(sink);
    for (const entry of entries) p.accept(entry);
    p.flush();
    expect(await p.whenIdle(10_000)).toBe(true);
    expect(stats.rejected.get('http_400')).toBe(2);
    expect(stats.delivered).toBe(3);
    // Loki's distributor wording: the last refused entry only, no count.
    expect(rx.pushes[0]!.status).toBe(400);
    expect(rx.pushes[0]!.answer).toMatch(/^entry for stream '\{[^}]*\}' has timestamp too old: 2020-01-01T00:00:00Z, oldest acceptable timestamp is: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(rx.pushes[0]!.answer).not.toMatch(/total ignored/);
    // The follow-up re-sent the three that passed the age check; Loki dropped them as duplicates.
    expect(rx.pushes).toHaveLength(2);
    expect(rx.pushes[1]!.status).toBe(204);
    expect(rx.stats().duplicateEntries).toBe(3);
    expect(rx.entries().map((x) => (JSON.parse(x.line) as { message: string }).message).sort()).toEqual(['fresh one', 'fresh three', 'fresh two']);
  });

  it('6,000 entries, half too old, through the core with default settings: delivered and rejected match what Loki stored', async () => {
    await rx.close();
    rx = await startLokiReceiver({ rejectOlderThanMs: 3600_000, dropDuplicates: true });
    sink = lokiSink(rx.url);
    const now = Date.now();
    // Old and current entries interleaved across apps, instances and levels (many streams).
    const old = makeFlyEntries(3000, { seed: 31, idPrefix: 'old-', startMs: now - 3 * 3600_000 });
    const fresh = makeFlyEntries(3000, { seed: 32, idPrefix: 'new-', startMs: now - 60_000 });
    const stats = new SinkStats();
    const p = new SinkPipeline({ sink, settings: plugin.defaults, retry: { initialBackoffMs: 10, maxBackoffMs: 100 }, stats, logger, throttled: new ThrottledLog(logger, 60_000) });
    for (let i = 0; i < 3000; i++) {
      p.accept(toEntry(old[i]!.subject, old[i]!.payload));
      p.accept(toEntry(fresh[i]!.subject, fresh[i]!.payload));
    }
    p.flush();
    expect(await p.whenIdle(60_000)).toBe(true);
    const stored = rx.entries().map((x) => idOf(JSON.parse(x.line)));
    expect(stored).toHaveLength(3000);
    expect(new Set(stored).size).toBe(3000);
    expect(stored.every((id) => id!.startsWith('new-'))).toBe(true);
    expect(stats.delivered).toBe(3000);
    expect(stats.rejected.get('http_400')).toBe(3000);
    expect(total(stats.dropped)).toBe(0);
    expect(rx.violations()).toEqual([]);
  });

  it('OpsVerse: OPSVERSE_* secrets ship 20,000 entries to a Loki with basic auth, gzip JSON, logfmt lines, each once', async () => {
    await rx.close();
    rx = await startLokiReceiver({ auth: { username: 'ops-user', password: PASSWORD } });
    const config = readOpsverseConfig(new EnvReader({ OPSVERSE_LOGS_ENDPOINT: rx.url, OPSVERSE_USERNAME: 'ops-user', OPSVERSE_PASSWORD: PASSWORD }))!;
    const ops = opsverse.create(config, { logger, agentInstanceId: 'test-agent' }) as LokiSink;
    try {
      expect(ops.name).toBe('opsverse');
      const flyEntries = makeFlyEntries(20_000, { seed: 41, startMs: Date.now() - 60_000 });
      const { p, stats } = pipelineFor(ops);
      for (const e of flyEntries) p.accept(toEntry(e.subject, e.payload));
      p.flush();
      expect(await p.whenIdle(60_000)).toBe(true);
      expect(stats.delivered).toBe(20_000);
      const stored = rx.entries();
      expect(stored).toHaveLength(20_000);
      const byLine = new Set(stored.map((x) => x.line));
      expect(byLine.size).toBe(20_000);
      for (const e of flyEntries.slice(0, 500)) expect(byLine.has(logfmtLine(JSON.parse(e.payload) as FlyLogBody))).toBe(true);
      expect(rx.pushes.every((x) => x.headers['content-type'] === 'application/json' && x.headers['content-encoding'] === 'gzip')).toBe(true);
      expect(rx.violations()).toEqual([]);
    } finally {
      await ops.close();
    }
  });

  it('the follow-up push: a second age refusal counts what its threshold refuses; a transient failure is left to the core', async () => {
    // A server that answers the first push with an age refusal at T1 and the second as scripted.
    const answers: Array<[number, string]> = [];
    const bodies: number[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        bodies.push(Number(req.headers['content-length'] ?? 0));
        const [status, body] = answers.shift() ?? [204, ''];
        res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const s = lokiSink(url, { LOKI_PUSH_FORMAT: 'json' });
    const refusal = (threshold: string): string => `entry for stream '{fly_app_name="web"}' has timestamp too old: 2026-11-26T10:00:00Z, oldest acceptable timestamp is: ${threshold}`;
    const entries = [
      entryAt('2026-11-26T10:00:00.5Z', 'old'),
      entryAt('2026-11-26T12:00:00.2Z', 'band'),
      entryAt('2026-11-26T12:00:01.5Z', 'after'),
      entryAt('2026-11-26T13:00:00Z', 'fresh'),
    ];
    try {
      // The follow-up (band, after, fresh) is refused again at a threshold one second later: band and after were refused.
      answers.push([400, refusal('2026-11-26T12:00:00Z')], [400, refusal('2026-11-26T12:00:02Z')]);
      let e = (await failure(s, entries)) as SinkResponseError;
      expect(e.rejectedEntries).toBe(3);
      expect(bodies).toHaveLength(2);
      // The follow-up proves the rest stored.
      answers.push([400, refusal('2026-11-26T12:00:00Z')], [204, '']);
      e = (await failure(s, entries)) as SinkResponseError;
      expect(e.rejectedEntries).toBe(1);
      // The follow-up meets a 503: the whole batch goes back to the core to retry (Loki drops duplicates).
      answers.push([400, refusal('2026-11-26T12:00:00Z')], [503, 'Ingester not ready']);
      e = (await failure(s, entries)) as SinkResponseError;
      expect(e.status).toBe(503);
      expect(s.classify(e)).toBe('retry');
      // Everything older than the threshold: no follow-up.
      const pushes = bodies.length;
      answers.push([400, refusal('2026-11-27T00:00:00Z')]);
      e = (await failure(s, entries)) as SinkResponseError;
      expect(e.rejectedEntries).toBe(4);
      expect(bodies).toHaveLength(pushes + 1);
    } finally {
      await s.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('reads the threshold of Loki\'s age check as Loki prints it', () => {
    const body = "entry for stream '{fly_app_name=\"web\", level=\"info\"}' has timestamp too old: 2026-02-28T19:19:04Z, oldest acceptable timestamp is: 2026-03-01T08:26:38Z";
    expect(parseTooOldThreshold(body)).toBe(BigInt(Date.parse('2026-03-01T08:26:38Z')) * 1_000_000n);
    expect(parseTooOldThreshold(body.replace('08:26:38Z', '09:26:38+01:00'))).toBe(BigInt(Date.parse('2026-03-01T08:26:38Z')) * 1_000_000n);
    expect(parseTooOldThreshold("entry for stream '{a=\"b\"}' has timestamp too new: 2030-01-01T00:00:00Z")).toBeUndefined();
  });

  it('400 without a count: the whole batch is counted as refused', async () => {
    const s = authed();
    const entries = sampleEntries();
    rx.failNext(400, { body: "entry for stream '{fly_app_name=\"x\"}' has timestamp too old: 2022-09-27T20:34:37Z" });
    const e = (await failure(s, entries)) as SinkResponseError;
    expect(e.rejectedEntries).toBe(entries.length);
    expect(e.message).toContain('has timestamp too old');
    expect(s.classify(e)).toBe('permanent');
  });

  it('413: classified split, and the core splits until the halves fit', async () => {
    const s = authed();
    rx.failNext(413);
    const e = await failure(s, sampleEntries());
    expect((e as SinkResponseError).status).toBe(413);
    expect(s.classify(e)).toBe('split');

    await rx.close();
    rx = await startLokiReceiver({ maxBodyBytes: 16 * 1024 });
    sink = lokiSink(rx.url);
    const { p, stats } = pipelineFor(sink, { maxEntries: 1000 });
    const fly = makeFlyEntries(1000, { seed: 9, kinds: ['access', 'json', 'stack', 'unicode'] });
    for (const f of fly) p.accept(toEntry(f.subject, f.payload));
    p.flush();
    expect(await p.whenIdle(30_000)).toBe(true);
    expect(stats.delivered).toBe(1000);
    expect(stats.batches.get('split')).toBeGreaterThan(0);
    expect(rx.entries()).toHaveLength(1000);
    expect(new Set(rx.entries().map((x) => idOf(JSON.parse(x.line)))).size).toBe(1000);
  });

  it('429 and 5xx: retry, with the Retry-After Loki asked for', async () => {
    const s = authed();
    const entries = sampleEntries();
    rx.failNext(429, { retryAfter: 7 });
    const limited = (await failure(s, entries)) as SinkResponseError;
    expect(limited.status).toBe(429);
    expect(limited.retryAfterMs).toBe(7000);
    expect(limited.message).toContain('ingestion rate limit exceeded');
    expect(s.classify(limited)).toBe('retry');

    rx.failNext(429, { retryAfter: new Date(Date.now() + 60_000).toUTCString() });
    const dated = (await failure(s, entries)) as SinkResponseError;
    expect(dated.retryAfterMs).toBeGreaterThan(50_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(60_000);

    for (const status of [500, 502, 503, 504]) {
      rx.failNext(status);
      const e = await failure(s, entries);
      expect(s.classify(e), `HTTP ${status}`).toBe('retry');
    }
    expect(rx.entries()).toEqual([]);
    await send(s, entries);
    expect(rx.entries()).toHaveLength(entries.length);
  });

  it('sends basic auth and the tenant; 401 is a permanent auth failure that names the settings, never the secret', async () => {
    const good = authed();
    await send(good, sampleEntries());
    const q = rx.pushes[0]!;
    expect(q.headers.authorization).toBe(`Basic ${Buffer.from(`123456:${PASSWORD}`).toString('base64')}`);
    expect(q.headers['x-scope-orgid']).toBe('org-1');
    expect(q.headers['user-agent']).toBe('logferry');

    const bad = lokiSink(rx.url, { LOKI_USERNAME: '123456', LOKI_PASSWORD: 'wrong', LOKI_TENANT: 'org-1' });
    try {
      const e = (await failure(bad, sampleEntries())) as SinkResponseError;
      expect(e.status).toBe(401);
      expect(isAuthFailure(e)).toBe(true);
      expect(bad.classify(e)).toBe('permanent');
      expect(e.message).toContain('refused the credentials');
      expect(e.message).toContain('LOKI_USERNAME/LOKI_PASSWORD');
      expect(e.message).not.toContain(PASSWORD);
      expect(e.message).not.toContain('wrong');
    } finally {
      await bad.close();
    }

    // Right credentials, no tenant: Loki with auth_enabled says "no org id".
    const noTenant = lokiSink(rx.url, { LOKI_USERNAME: '123456', LOKI_PASSWORD: PASSWORD });
    try {
      const e = (await failure(noTenant, sampleEntries())) as SinkResponseError;
      expect(e.status).toBe(401);
      expect(e.bodyExcerpt).toBe('no org id');
    } finally {
      await noTenant.close();
    }
  });

  it('sends a bearer token', async () => {
    await rx.close();
    rx = await startLokiReceiver({ auth: { token: 'tok-123' } });
    sink = lokiSink(rx.url, { LOKI_TOKEN: 'tok-123' });
    await send(sink, sampleEntries());
    expect(rx.pushes[0]!.headers.authorization).toBe('Bearer tok-123');
    expect(rx.entries()).toHaveLength(sampleEntries().length);
  });

  it("fixes what Loki would refuse before sending: long lines, bad label names, too many labels", async () => {
    const staticLabels = ['team-name=web', ...Array.from({ length: 12 }, (_, i) => `extra${i}=v${i}`)].join(',');
    const s = authed({ LOKI_STATIC_LABELS: staticLabels });
    const huge = entryAt(new Date().toISOString(), `big ${'x'.repeat(300 * 1024)} end`);
    const entries = [huge, ...sampleEntries()];
    const batch = makeBatch(entries);
    const encoded = await s.encode(batch);
    expect(encoded.adjusted).toEqual({ line_truncated: 1, label_sanitised: entries.length, labels_limited: entries.length });
    await s.send(encoded, batch, new AbortController().signal);
    expect(rx.violations()).toEqual([]);
    const stored = rx.entries();
    expect(stored).toHaveLength(entries.length);
    const big = stored.find((x) => x.line.includes('"truncated":true'))!;
    expect(Buffer.byteLength(big.line)).toBeLessThanOrEqual(256 * 1024);
    expect((JSON.parse(big.line) as { message: string }).message.startsWith('big xxx')).toBe(true);
    for (const x of stored) {
      expect(Object.keys(x.labels)).toHaveLength(15);
      expect(x.labels.team_name).toBe('web');
    }
  });

  it('the receiver catches what a careless client would send (so the checks above mean something)', async () => {
    const raw = async (body: string, headers: Record<string, string> = {}): Promise<number> => {
      const res = await fetch(rx.pushUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`123456:${PASSWORD}`).toString('base64')}`, 'x-scope-orgid': 'org-1', 'content-type': 'application/json', ...headers },
        body,
      });
      await res.text();
      return res.status;
    };
    const ts = '1795725277000000000';
    expect(await raw(JSON.stringify({ streams: [{ stream: { 'bad-name': 'x' }, values: [[ts, 'l']] }] }))).toBe(400);
    expect(await raw(JSON.stringify({ streams: [{ stream: { a: 'x' }, values: [[1795725277000000000, 'l']] }] }))).toBe(400);
    expect(await raw(JSON.stringify({ streams: [{ stream: { a: 'x' }, values: [['1795725278000000000', 'l'], [ts, 'm']] }] }))).toBe(400);
    expect(await raw(JSON.stringify({ streams: [{ stream: {}, values: [[ts, 'l']] }] }))).toBe(400);
    const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`l${i}`, 'v']));
    expect(await raw(JSON.stringify({ streams: [{ stream: sixteen, values: [[ts, 'l']] }] }))).toBe(400);
    expect(await raw(JSON.stringify({ streams: [{ stream: { a: 'x' }, values: [[ts, 'y'.repeat(256 * 1024 + 1)]] }] }))).toBe(400);
    expect(await raw(JSON.stringify({ streams: [{ stream: { a: 'x' }, values: [[ts, 'l']] }] }), { 'content-type': 'application/x-protobuf' })).toBe(400);
    expect(await raw('{"streams":[', {})).toBe(400);
    expect(rx.violations()).toHaveLength(8);
    expect(await raw(JSON.stringify({ streams: [{ stream: { a: 'x' }, values: [[ts, 'l', { trace_id: 't1' }]] }] }))).toBe(204);
    expect(rx.entries()).toEqual([{ labels: { a: 'x' }, ts, line: 'l', metadata: { trace_id: 't1' }, push: 8 }]);
  });

  it('sends structured metadata and the raw message line when configured', async () => {
    const s = authed({ LOKI_STRUCTURED_METADATA: 'fly_app_instance,process_group,zone', LOKI_LINE_FORMAT: 'message' });
    const fly = makeFlyEntries(200, { seed: 2 });
    await send(s, fly.map((f) => toEntry(f.subject, f.payload)));
    expect(rx.violations()).toEqual([]);
    const stored = rx.entries();
    expect(stored).toHaveLength(200);
    for (const x of stored) {
      const f = fly.find((y) => x.line.includes(`req_id=${y.id}`) || x.line.includes(`"req_id":"${y.id}"`))!;
      const body = JSON.parse(f.payload) as FlyLogBody;
      expect(x.line).toBe(body.message);
      expect(x.labels).not.toHaveProperty('fly_app_instance');
      expect(x.metadata?.fly_app_instance).toBe(f.instance);
      expect(x.metadata?.process_group).toBe(body.fly?.app?.process_group);
      expect(x.metadata?.zone).toBe(body.fly?.zone);
    }
  });

  it('send honours its AbortSignal while waiting for an answer, and times out on a silent server', async () => {
    const silent = await silentServer();
    const hung = lokiSink(silent.url);
    const slow = lokiSink(silent.url, { LOKI_TIMEOUT: '300ms' });
    try {
      const batch = makeBatch(sampleEntries());
      const encoded = await hung.encode(batch);
      const controller = new AbortController();
      const sending = hung.send(encoded, batch, controller.signal);
      await expect.poll(() => silent.requests()).toBe(1);
      controller.abort(new Error('shutting down'));
      const aborted = await sending.then(() => undefined, (e: unknown) => e);
      expect(aborted).toBeInstanceOf(SinkNetworkError);

      const started = Date.now();
      const timedOut = await slow.send(encoded, batch, new AbortController().signal).then(() => undefined, (e: unknown) => e);
      expect(timedOut).toBeInstanceOf(SinkNetworkError);
      expect((timedOut as Error).message).toContain('timed out after 300 ms');
      expect(slow.classify(timedOut)).toBe('retry');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await hung.close();
      await slow.close();
      await silent.close();
    }
  });
});

describe('Loki sink healthcheck', () => {
  let rx: LokiReceiver;
  let sink: LokiSink | undefined;
  beforeEach(async () => {
    rx = await startLokiReceiver({ auth: { username: 'u', password: PASSWORD } });
  });
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
    await rx.close();
  });
  const check = (env: Env = { LOKI_USERNAME: 'u', LOKI_PASSWORD: PASSWORD }): Promise<unknown> => {
    sink = lokiSink(rx.url, env);
    return sink.healthcheck(AbortSignal.timeout(5000)).then(() => undefined, (e: unknown) => e);
  };

  it('passes on /ready and an empty push, which stores nothing (Loki 3.2+ answers it 422)', async () => {
    expect(await check()).toBeUndefined();
    expect(rx.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /ready', 'POST /loki/api/v1/push']);
    expect(rx.pushes[0]!.status).toBe(422);
    expect(rx.pushes[0]!.headers.authorization).toBeDefined();
    expect(rx.entries()).toEqual([]);
  });

  it('passes against an older Loki that answers the empty push 204', async () => {
    await rx.close();
    rx = await startLokiReceiver({ emptyPushStatus: 204 });
    expect(await check({})).toBeUndefined();
    expect(rx.pushes[0]!.status).toBe(204);
  });

  it('fails when the push path answers something else', async () => {
    rx.failNext(500);
    const e = (await check()) as SinkResponseError;
    expect(e.status).toBe(500);
    expect(e.message).toContain(`Loki test push at 127.0.0.1:${rx.port} failed (HTTP 500`);
  });

  it('passes behind a gateway that hides /ready (Grafana Cloud answers 404 there, 200 on /)', async () => {
    rx.setReady(404, '404 page not found\n');
    rx.setRoot(200);
    expect(await check()).toBeUndefined();
    expect(rx.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /ready', 'GET /', 'POST /loki/api/v1/push']);
  });

  it('says Loki is not ready', async () => {
    rx.setReady(503, 'Ingester not ready: waiting for 15s after being ready\n');
    const e = (await check()) as SinkResponseError;
    expect(e).toBeInstanceOf(SinkResponseError);
    expect(e.message).toBe(`Loki at 127.0.0.1:${rx.port} is not ready yet (HTTP 503: Ingester not ready: waiting for 15s after being ready)`);
  });

  it('says the credentials are refused, without the secret', async () => {
    const e = (await check({ LOKI_USERNAME: 'u', LOKI_PASSWORD: `${PASSWORD}-old` })) as SinkResponseError;
    expect(isAuthFailure(e)).toBe(true);
    expect(e.message).toContain(`Loki at 127.0.0.1:${rx.port} refused the credentials (HTTP 401`);
    expect(e.message).not.toContain(PASSWORD);
  });

  it('says when LOKI_URL points at something that is not Loki', async () => {
    rx.setReady(404);
    const e = (await check()) as SinkResponseError;
    expect(e.status).toBe(404);
    expect(e.message).toContain('check that LOKI_URL points at Loki');
  });

  it('says Loki is unreachable', async () => {
    sink = lokiSink(`http://127.0.0.1:${await freePort()}`);
    const e = await sink.healthcheck(AbortSignal.timeout(5000)).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(SinkNetworkError);
    expect((e as Error).message).toMatch(/^Loki at 127\.0\.0\.1:\d+ is unreachable: /);
  });
});
