// The twelve HTTP/JSON destinations from fly-log-shipper (f-dest-http) against receivers that
// check what each vendor's API checks: the shared sink contract, then each vendor's specifics
// (field mapping, partial success, limits, healthcheck).
import { afterEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { SinkNetworkError, SinkResponseError } from '../../../src/errors.js';
import type { Sink } from '../../../src/pipeline/sink.js';
import { parseFlyMessage, type LogEntry } from '../../../src/intake/entry.js';
import { freePort } from '../../support/ports.js';
import { makeBatch, sampleEntries, sinkContractSuite } from '../../support/sink-contract.js';
import { startVendorReceiver, type VendorReceiver } from '../../support/vendor-receivers/http-vendors.js';
import { VENDOR_CASES, type VendorCase } from '../../support/vendor-receivers/http-vendor-cases.js';

const context = { logger: undefined as never, agentInstanceId: 'test-agent' };

function sinkFor(c: VendorCase, url: string, extra: Record<string, string> = {}): Sink {
  const config = c.plugin.readConfig(new EnvReader({ ...c.env(url), ...extra }));
  if (config === undefined) throw new Error(`${c.kind} not configured`);
  return c.plugin.create(config, context);
}

for (const c of VENDOR_CASES) {
  sinkContractSuite(c.kind, async () => {
    const rx = await startVendorReceiver(c.profile);
    const sink = sinkFor(c, rx.url);
    return {
      sink,
      stored: async () => {
        // A receiver check that failed is a sink bug: say which.
        expect(rx.problems).toEqual([]);
        return rx.stored();
      },
      failNext: (status: number) => rx.failNext(status),
      refusedSink: async () => sinkFor(c, `http://127.0.0.1:${await freePort()}`),
      close: async () => {
        await sink.close?.();
        await rx.close();
      },
    };
  });
}

function entry(message: string, n: number, instance = '148e272f6e7d89'): LogEntry {
  const line = JSON.stringify({
    event: { provider: 'app' },
    fly: { app: { instance, name: 'shop-api' }, region: 'ams' },
    host: 'a1b2',
    log: { level: n % 2 === 0 ? 'info' : 'error' },
    message,
    timestamp: `2026-11-26T20:35:${String(n % 60).padStart(2, '0')}.123456789Z`,
  });
  const parsed = parseFlyMessage(`logs.shop-api.ams.${instance}`, Buffer.from(line), Date.now());
  if (parsed.kind !== 'entry') throw new Error('bad test entry');
  return parsed.entry;
}

async function send(sink: Sink, entries: LogEntry[]): Promise<{ result: unknown; dropped: Record<string, number> }> {
  const batch = makeBatch(entries, sink.partitionKey ? sink.partitionKey(entries[0]!) : '');
  const encoded = await sink.encode(batch);
  const result = await sink.send(encoded, batch, new AbortController().signal);
  return { result, dropped: { ...(encoded.dropped ?? {}) } };
}

const byKind = (kind: string): VendorCase => VENDOR_CASES.find((c) => c.kind === kind)!;

describe('vendor specifics', () => {
  const open: Array<{ sink: Sink; rx: VendorReceiver }> = [];
  afterEach(async () => {
    for (const { sink, rx } of open.splice(0)) {
      await sink.close?.();
      await rx.close();
    }
  });
  async function start(kind: string, extra: Record<string, string> = {}): Promise<{ sink: Sink; rx: VendorReceiver }> {
    const c = byKind(kind);
    const rx = await startVendorReceiver(c.profile);
    const sink = sinkFor(c, rx.url, extra);
    const pair = { sink, rx };
    open.push(pair);
    return pair;
  }

  test('Axiom: events its 200 answer reports as failed are counted as rejected, the rest delivered', async () => {
    const { sink, rx } = await start('axiom');
    rx.refuse((r) => (String(r.message).includes('poison') ? 'field count limit exceeded' : undefined));
    const entries = Array.from({ length: 10 }, (_, i) => entry(i % 3 === 0 ? `poison ${i}` : `ok ${i}`, i));
    const { result } = await send(sink, entries);
    expect(result).toEqual({ rejectedEntries: 4, rejectReason: 'axiom_failed' });
    expect(rx.stored()).toHaveLength(6);
    expect(rx.refusedCount()).toBe(4);
  });

  test('OpenObserve: records its status[].failed reports are counted as rejected', async () => {
    const { sink, rx } = await start('openobserve');
    rx.refuse((r) => (String(r.message).startsWith('bad') ? 'Too many fields' : undefined));
    const { result } = await send(sink, [entry('bad 1', 1), entry('good', 2), entry('bad 2', 3)]);
    expect(result).toEqual({ rejectedEntries: 2, rejectReason: 'openobserve_failed' });
    expect(rx.stored().map((e) => e.message)).toEqual(['good']);
  });

  test('a vendor without partial answers refuses the request whole: a permanent 4xx', async () => {
    const { sink, rx } = await start('betterstack');
    rx.refuse((r) => (String(r.message) === 'bad' ? 'bad record' : undefined));
    const error = await send(sink, [entry('bad', 1), entry('good', 2)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkResponseError);
    expect((error as SinkResponseError).status).toBe(406);
    expect(sink.classify(error)).toBe('permanent');
  });

  test('wrong credentials are a permanent 401/403 in the vendor wording', async () => {
    for (const kind of ['axiom', 'honeybadger', 'logdna', 'betterstack']) {
      const c = byKind(kind);
      const rx = await startVendorReceiver(c.profile);
      const secretVar = Object.keys(c.env('')).find((k) => /KEY|TOKEN/.test(k))!;
      const sink = sinkFor(c, rx.url, { [secretVar]: 'wrong-secret' });
      open.push({ sink, rx });
      const error = await send(sink, [entry('x', 1)]).catch((e: unknown) => e);
      expect(error, kind).toBeInstanceOf(SinkResponseError);
      expect([401, 403], kind).toContain((error as SinkResponseError).status);
      expect(sink.classify(error), kind).toBe('permanent');
    }
  });

  test('Better Stack gets `dt`, Honeybadger `ts`, Logflare `level` from log.level, AppSignal {"log": …}', async () => {
    const bs = await start('betterstack');
    await send(bs.sink, [entry('hello', 1)]);
    expect(bs.rx.storedRecords()[0]).toMatchObject({ dt: '2026-11-26T20:35:01.123456789Z', message: 'hello' });
    expect(bs.rx.storedRecords()[0]).not.toHaveProperty('timestamp');

    const hb = await start('honeybadger');
    await send(hb.sink, [entry('hello', 2)]);
    expect(hb.rx.storedRecords()[0]).toMatchObject({ ts: '2026-11-26T20:35:02.123456789Z' });
    expect(hb.rx.storedRecords()[0]).not.toHaveProperty('timestamp');

    const lf = await start('logflare');
    await send(lf.sink, [entry('hello', 3)]);
    expect(lf.rx.storedRecords()[0]).toMatchObject({ level: 'error', log: { level: 'error' } });

    const as = await start('appsignal');
    await send(as.sink, [entry('hello', 4)]);
    expect(as.rx.storedRecords()[0]).toEqual({ log: expect.objectContaining({ message: 'hello' }) });
  });

  test('LogDNA: one request per instance with hostname = instance, app = Fly app, timestamp in ms', async () => {
    const { sink, rx } = await start('logdna');
    const entries = [entry('a', 1, 'inst-one'), entry('b', 2, 'inst-two'), entry('c', 3, 'inst-one')];
    const groups = new Map<string, LogEntry[]>();
    for (const e of entries) groups.set(sink.partitionKey!(e), [...(groups.get(sink.partitionKey!(e)) ?? []), e]);
    expect([...groups.keys()]).toEqual(['inst-one', 'inst-two']);
    for (const group of groups.values()) await send(sink, group);
    expect(rx.problems).toEqual([]);
    const hostnames = rx.http.requests.map((r) => new URL(r.path, 'http://x').searchParams.get('hostname'));
    expect(hostnames).toEqual(['inst-one', 'inst-two']);
    expect(rx.storedRecords()[0]).toMatchObject({ line: 'a', app: 'shop-api', env: 'production', timestamp: Date.parse('2026-11-26T20:35:01.123Z') });
  });

  test('Honeybadger: batches stay under 102,400 bytes; a larger entry is dropped as entry_too_large, the rest sent', async () => {
    const { sink, rx } = await start('honeybadger');
    const big = entry('x'.repeat(110_000), 1);
    const { dropped } = await send(sink, [big, entry('small', 2)]);
    expect(dropped).toEqual({ entry_too_large: 1 });
    expect(rx.stored().map((e) => e.message)).toEqual(['small']);
    // The default batch limit keeps a request under the vendor's limit.
    expect(byKind('honeybadger').plugin.defaults.batch.maxBytes).toBeLessThan(102_400);
  });

  test('AppSignal batches at most 100 entries; its healthcheck is GET /vector/healthcheck with the key', async () => {
    expect(byKind('appsignal').plugin.defaults.batch.maxEntries).toBe(100);
    const { sink, rx } = await start('appsignal');
    await sink.healthcheck!(new AbortController().signal);
    expect(rx.healthchecks()).toBe(1);
    const bad = sinkFor(byKind('appsignal'), rx.url, { APPSIGNAL_PUSH_API_KEY: 'wrong' });
    open.push({ sink: bad, rx: await startVendorReceiver(byKind('appsignal').profile) });
    await expect(bad.healthcheck!(new AbortController().signal)).rejects.toBeInstanceOf(SinkResponseError);
  });

  test('LogDNA healthcheck: an empty POST, refused credentials fail it', async () => {
    const { sink, rx } = await start('logdna');
    await sink.healthcheck!(new AbortController().signal);
    expect(rx.healthchecks()).toBe(1);
    expect(rx.stored()).toEqual([]);
    const bad = sinkFor(byKind('logdna'), rx.url, { LOGDNA_API_KEY: 'wrong' });
    open.push({ sink: bad, rx: await startVendorReceiver(byKind('logdna').profile) });
    await expect(bad.healthcheck!(new AbortController().signal)).rejects.toBeInstanceOf(SinkResponseError);
  });

  test('the other destinations check the connection at start; nothing listening fails it', async () => {
    const { sink } = await start('hyperdx');
    await sink.healthcheck!(new AbortController().signal);
    const nowhere = sinkFor(byKind('hyperdx'), `http://127.0.0.1:${await freePort()}`);
    await expect(nowhere.healthcheck!(new AbortController().signal)).rejects.toBeInstanceOf(SinkNetworkError);
    await nowhere.close?.();
  });

  test('429 carries Retry-After for every vendor, 5xx is retried, 413 splits', async () => {
    for (const c of VENDOR_CASES) {
      const rx = await startVendorReceiver(c.profile);
      const sink = sinkFor(c, rx.url);
      open.push({ sink, rx });
      rx.failNext(429, { retryAfter: 7 });
      const e429 = (await send(sink, [entry('x', 1)]).catch((e: unknown) => e)) as SinkResponseError;
      expect(e429.retryAfterMs, c.kind).toBe(7000);
      expect(sink.classify(e429), c.kind).toBe('retry');
      rx.failNext(502);
      expect(sink.classify(await send(sink, [entry('x', 1)]).catch((e: unknown) => e)), c.kind).toBe('retry');
      rx.failNext(413);
      expect(sink.classify(await send(sink, [entry('x', 1)]).catch((e: unknown) => e)), c.kind).toBe('split');
    }
  });
});
