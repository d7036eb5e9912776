// The behaviour every sink must share, as one vitest suite each sink's test file calls:
//
//   sinkContractSuite('http', async () => ({ sink, stored: ..., failNext: ..., close: ... }));
//
// The suite builds entries the way the agent does (parseFlyMessage on the Fly sample lines
// in test/fixtures/fly-log-samples.ndjson, plus one malformed payload), groups them by the
// sink's partitionKey, and checks: encode is pure and counts right; a sent batch arrives
// with every field intact; an aborted send stores nothing; failures are classified the way
// the core expects; close() resolves and may be called twice.
import { readFileSync } from 'node:fs';
import { describe, test, expect, beforeEach, afterEach } from 'vitest';
import { parseFlyMessage, type LogEntry } from '../../src/intake/entry.js';
import { SinkNetworkError, SinkResponseError } from '../../src/errors.js';
import type { Batch, Sink } from '../../src/pipeline/sink.js';
import { batchLines, makeBatch as batchOf } from '../../src/pipeline/batch.js';
import { freePort } from './ports.js';

export interface ContractHarness {
  sink: Sink;
  /** Entry objects (each entry's `line` parsed back from what the destination stored), in arrival order. */
  stored(): Promise<Array<Record<string, unknown>>>;
  /**
   * Make the destination answer the next request with this HTTP status, when the destination is HTTP.
   * One request only; the one after it is answered normally. For 429 the destination must also
   * send `Retry-After: 1` (the suite checks the error carries retryAfterMs = 1000).
   */
  failNext?(status: number): void;
  /**
   * Optional: a sink of the same kind and config pointed at a loopback port where nothing
   * listens, for the refused-connection check. The suite closes it. (Additive to the agreed
   * harness; harnesses without it skip only that check.)
   */
  refusedSink?(): Sink | Promise<Sink>;
  close(): Promise<void>;
}

const SAMPLES_URL = new URL('../fixtures/fly-log-samples.ndjson', import.meta.url);
/** A fixed receive time, so partitions and file names are the same on every run. */
export const SAMPLE_RECEIVED_AT_MS = Date.parse('2026-11-26T20:35:00.000Z');

/** The Fly sample lines as the agent would parse them (subject built from the line's own fields). */
export function sampleEntries(receivedAtMs = SAMPLE_RECEIVED_AT_MS): LogEntry[] {
  const lines = readFileSync(SAMPLES_URL, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const entries: LogEntry[] = [];
  for (const line of lines) {
    const body = JSON.parse(line) as { fly: { app: { name: string; instance: string }; region: string } };
    const subject = `logs.${body.fly.app.name}.${body.fly.region}.${body.fly.app.instance}`;
    entries.push(mustParse(subject, line, receivedAtMs));
  }
  // A payload that is not JSON: the agent wraps it, and sinks must ship the wrapper like any entry.
  entries.push(mustParse('logs.edge-cache.syd.e2860e1a0c7d48', 'plain text, not JSON: {oops', receivedAtMs));
  return entries;
}

function mustParse(subject: string, text: string, receivedAtMs: number): LogEntry {
  const parsed = parseFlyMessage(subject, Buffer.from(text, 'utf8'), receivedAtMs);
  if (parsed.kind !== 'entry') throw new Error(`sample did not parse: ${text}`);
  return parsed.entry;
}

let nextBatchId = 1;

/** A batch as the core builds it. */
export function makeBatch(entries: readonly LogEntry[], partition = ''): Batch {
  return batchOf(nextBatchId++, partition, entries);
}

/** Groups entries into one batch per partition, as the core would (in first-seen order). */
export function batchesFor(sink: Sink, entries: readonly LogEntry[]): Batch[] {
  const groups = new Map<string, LogEntry[]>();
  for (const e of entries) {
    const key = sink.partitionKey ? sink.partitionKey(e) : '';
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = []));
    group.push(e);
  }
  return [...groups].map(([partition, group]) => makeBatch(group, partition));
}

function parsedLines(batch: Batch): Array<Record<string, unknown>> {
  return batchLines(batch).map((line) => JSON.parse(line) as Record<string, unknown>);
}

function snapshot(batch: Batch): unknown {
  return { id: batch.id, partition: batch.partition, bytes: batch.bytes, count: batch.count, ndjson: Buffer.from(batch.ndjson) };
}

/** Sends one batch with a live signal. */
async function sendBatch(sink: Sink, batch: Batch): Promise<void> {
  const encoded = await sink.encode(batch);
  await sink.send(encoded, batch, new AbortController().signal);
}

/** Sends and returns the error the attempt failed with (fails the test if it succeeded). */
async function failedSend(sink: Sink, batch: Batch): Promise<unknown> {
  const encoded = await sink.encode(batch);
  try {
    await sink.send(encoded, batch, new AbortController().signal);
  } catch (error) {
    return error;
  }
  throw new Error('send succeeded but the destination was told to fail');
}

export function sinkContractSuite(kind: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`sink contract: ${kind}`, () => {
    let h: ContractHarness | undefined;
    const harness = (): ContractHarness => {
      if (h === undefined) throw new Error('harness not started');
      return h;
    };

    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      const current = h;
      h = undefined;
      await current?.close();
    });

    test('encode is pure, counts every entry and leaves the batch untouched', async () => {
      const { sink } = harness();
      for (const batch of batchesFor(sink, sampleEntries())) {
        const before = snapshot(batch);
        const first = await sink.encode(batch);
        const second = await sink.encode(batch);
        expect(Buffer.from(second.body).equals(Buffer.from(first.body))).toBe(true);
        expect(first.body.length).toBeGreaterThan(0);
        expect(first.entryCount).toBe(batch.count);
        expect(second.entryCount).toBe(batch.count);
        expect(first.dropped ?? {}).toEqual({});
        expect(snapshot(batch)).toEqual(before);
      }
    });

    test('a sent batch arrives with every entry and field intact', async () => {
      const h = harness();
      const entries = sampleEntries();
      const batches = batchesFor(h.sink, entries);
      for (const batch of batches) await sendBatch(h.sink, batch);

      const stored = await h.stored();
      const expected = entries.map((e) => JSON.parse(e.line) as Record<string, unknown>);
      expect(stored).toHaveLength(expected.length);
      // Arrival order across partitions is the destination's business; within a batch it is kept.
      expect(sortCanonical(stored)).toEqual(sortCanonical(expected));
      for (const batch of batches) {
        const mine = parsedLines(batch);
        const keys = new Set(mine.map(canonical));
        expect(stored.filter((o) => keys.has(canonical(o)))).toEqual(mine);
      }
      // The awkward samples, spelled out so a failure names them.
      const messages = stored.map((o) => o.message);
      expect(messages).toContain('ünïcødé “quotes” \\ backslash \t tab 🚀');
      expect(messages).toContain('');
      expect(messages.some((m) => typeof m === 'string' && m.includes('\n  File "/app/server.py", line 88'))).toBe(true);
      expect(messages).toContain('{"level":"error","time":1795707277000,"msg":"payment provider timeout","order_id":48211,"latency_ms":30012}');
      expect(stored.find((o) => o.message === 'plain text, not JSON: {oops')?.logferry).toEqual({ malformed: 'invalid_json' });
      const nanos = stored.find((o) => o.message === '')?.timestamp;
      expect(nanos).toBe('2026-11-26T20:34:44.000000000Z');
    });

    test('send with an already-aborted signal rejects and stores nothing', async () => {
      const h = harness();
      const [batch] = batchesFor(h.sink, sampleEntries());
      const encoded = await h.sink.encode(batch!);
      const controller = new AbortController();
      controller.abort(new Error('shutting down'));
      await expect(h.sink.send(encoded, batch!, controller.signal)).rejects.toBeDefined();
      expect(await h.stored()).toEqual([]);
    });

    test('failed attempts are classified as the core expects', async () => {
      const h = harness();
      const { sink } = h;
      // Every sink: transport failures and unknown errors are worth retrying.
      expect(sink.classify(new SinkNetworkError('connection reset'))).toBe('retry');
      expect(sink.classify(new Error('something unexpected'))).toBe('retry');

      if (h.failNext) {
        const [batch] = batchesFor(sink, sampleEntries());
        const cases: Array<[number, string]> = [[503, 'retry'], [400, 'permanent'], [413, 'split'], [429, 'retry']];
        for (const [status, action] of cases) {
          h.failNext(status);
          const error = await failedSend(sink, batch!);
          expect(error, `HTTP ${status}`).toBeInstanceOf(SinkResponseError);
          expect((error as SinkResponseError).status).toBe(status);
          expect(sink.classify(error), `HTTP ${status}`).toBe(action);
          if (status === 429) expect((error as SinkResponseError).retryAfterMs).toBe(1000);
        }
        expect(await h.stored()).toEqual([]);
        // The destination is answering normally again: the same batch now goes through.
        await sendBatch(sink, batch!);
        expect(await h.stored()).toEqual(parsedLines(batch!));
      }

      if (h.refusedSink) {
        const refused = await h.refusedSink();
        try {
          const [batch] = batchesFor(refused, sampleEntries());
          const error = await failedSend(refused, batch!);
          expect(error).toBeInstanceOf(SinkNetworkError);
          expect(refused.classify(error)).toBe('retry');
        } finally {
          await refused.close?.();
        }
      }
    });

    test('close() resolves, twice in a row too', async () => {
      const { sink } = harness();
      const [batch] = batchesFor(sink, sampleEntries());
      await sendBatch(sink, batch!);
      // Idempotent: the core closes on shutdown and harnesses close again in their teardown.
      await sink.close?.();
      await sink.close?.();
    });
  });
}

/** JSON with object keys sorted, so two equal objects compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function sortCanonical(list: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return list.map((o) => [canonical(o), o] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
}

/** A receiver standing in for a vendor: where it listens, what it stored, and a one-shot failure. */
export interface VendorReceiver {
  readonly url: string;
  entries(): Array<Record<string, unknown>> | Promise<Array<Record<string, unknown>>>;
  failNext(status: number): void;
  close(): Promise<void>;
}

/** The contract suite for a vendor sink against its receiver; `sinkFor(url)` builds the sink from the destination's env. */
export function receiverContractSuite<R extends VendorReceiver>(kind: string, startReceiver: () => Promise<R>, sinkFor: (url: string) => Sink): void {
  sinkContractSuite(kind, async () => {
    const rx = await startReceiver();
    const sink = sinkFor(rx.url);
    return {
      sink,
      stored: async () => rx.entries(),
      failNext: (status) => rx.failNext(status),
      refusedSink: async () => sinkFor(`http://127.0.0.1:${await freePort()}`),
      close: async () => {
        await sink.close?.();
        await rx.close();
      },
    };
  });
}
