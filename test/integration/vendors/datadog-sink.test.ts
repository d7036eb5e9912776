// The Datadog destination against a receiver that checks what Datadog's logs intake checks.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { SinkResponseError } from '../../../src/errors.js';
import { plugin } from '../../../sinks/datadog/index.js';
import { createDatadogSink } from '../../../sinks/datadog/sink.js';
import { readDatadogConfig } from '../../../sinks/datadog/config.js';
import { startDatadogReceiver, type DatadogReceiver } from '../../support/vendor-receivers/datadog.js';
import { freePort } from '../../support/ports.js';
import { configured } from '../../support/config-error.js';
import { makeBatch, sampleEntries, SAMPLE_RECEIVED_AT_MS, sinkContractSuite } from '../../support/sink-contract.js';
import { entryFromLine } from '../../../src/intake/entry.js';
import { RequestLimitError } from '../../../sinks/shared/fly-fields.js';

const KEY = 'abcdef0123456789abcdef0123456789';
// The samples were logged around SAMPLE_RECEIVED_AT_MS: judge Datadog's time window from then.
const now = (): number => SAMPLE_RECEIVED_AT_MS;

function sinkFor(url: string, clock: (() => number) | null = now) {
  return createDatadogSink(configured(readDatadogConfig(new EnvReader({ DATADOG_API_KEY: KEY, DATADOG_ENDPOINT: url }))), 2, clock);
}

// The fixture mixes entries from 2022 and 2026, which no 18-hour window holds: the contract
// runs with the window unchecked on both sides (the window has its own test below).
sinkContractSuite('datadog', async () => {
  const rx = await startDatadogReceiver({ apiKey: KEY });
  const sink = sinkFor(rx.url, null);
  return {
    sink,
    stored: async () => rx.entries(),
    failNext: (status) => rx.failNext(status),
    refusedSink: async () => sinkFor(`http://127.0.0.1:${await freePort()}`, null),
    close: async () => {
      await sink.close();
      await rx.close();
    },
  };
});

describe('datadog requests', () => {
  let rx: DatadogReceiver;
  beforeEach(async () => {
    rx = await startDatadogReceiver({ apiKey: KEY, now });
  });
  afterEach(async () => {
    await rx.close();
  });

  test('sends Datadog reserved attributes: ddsource, ddtags, hostname = instance, service = app, status = level', async () => {
    const sink = sinkFor(rx.url);
    const entries = sampleEntries().filter((e) => e.timestamp.startsWith('2026'));
    const batch = makeBatch(entries);
    await sink.send(await sink.encode(batch), batch, new AbortController().signal);
    await sink.close();
    expect(rx.violations).toEqual([]);
    expect(rx.requests[0]!.headers['dd-api-key']).toBe(KEY);
    const first = rx.records[0]!;
    const fly = JSON.parse(entries[0]!.line) as { fly: { app: { name: string; instance: string }; region: string } };
    expect(first).toMatchObject({ ddsource: 'fly', service: fly.fly.app.name, hostname: fly.fly.app.instance });
    expect(first.ddtags).toBe(`fly_app:${fly.fly.app.name},fly_region:${fly.fly.region},fly_instance:${fly.fly.app.instance}`);
    // An app logging JSON gives its own level.
    const jsonLogged = rx.records.find((r) => String(r.message).includes('payment provider timeout'));
    expect(jsonLogged?.status).toBe('error');
  });

  test('the start-up check validates the key: ok with the right one, an auth failure with a wrong one', async () => {
    const good = sinkFor(rx.url);
    await good.healthcheck(AbortSignal.timeout(5000));
    const bad = createDatadogSink(configured(readDatadogConfig(new EnvReader({ DATADOG_API_KEY: 'wrong0123', DATADOG_ENDPOINT: rx.url }))), 1, now);
    const error = await bad.healthcheck(AbortSignal.timeout(5000)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SinkResponseError);
    expect((error as SinkResponseError).status).toBe(403);
    expect(bad.classify(error)).toBe('permanent');
    await good.close();
    await bad.close();
  });

  test('entries outside Datadog\'s window (18 h back, 2 h ahead) are dropped with a reason, not sent to be discarded', async () => {
    const sink = sinkFor(rx.url);
    const base = SAMPLE_RECEIVED_AT_MS;
    const line = (ms: number, i: number): string =>
      JSON.stringify({ event: { provider: 'app' }, fly: { app: { instance: 'i1', name: 'a' }, region: 'ams' }, host: 'h', log: { level: 'info' }, message: `m${i}`, timestamp: new Date(ms).toISOString() });
    const entries = [line(base - 19 * 3600_000, 1), line(base - 60_000, 2), line(base + 3 * 3600_000, 3)].map((l) => entryFromLine(l, base));
    const batch = makeBatch(entries);
    const encoded = await sink.encode(batch);
    expect(encoded.entryCount).toBe(1);
    expect(encoded.dropped).toEqual({ older_than_18h: 1, more_than_2h_ahead: 1 });
    await sink.send(encoded, batch, new AbortController().signal);
    expect(rx.records.map((r) => r.message)).toEqual(['m2']);
    expect(rx.discarded).toBe(0);
    await sink.close();
  });

  test('an entry over 1 MB has its message cut (adjusted), a batch over 1,000 entries or 5 MB is split before sending', async () => {
    const sink = sinkFor(rx.url);
    const big = JSON.stringify({ event: { provider: 'app' }, fly: { app: { instance: 'i1', name: 'a' }, region: 'ams' }, host: 'h', log: { level: 'info' }, message: 'x'.repeat(1_100_000), timestamp: new Date(now()).toISOString() });
    const batch = makeBatch([entryFromLine(big, now())]);
    const encoded = await sink.encode(batch);
    expect(encoded.adjusted).toEqual({ message_truncated: 1 });
    await sink.send(encoded, batch, new AbortController().signal);
    expect(rx.violations).toEqual([]);
    expect(String(rx.records[0]!.message).length).toBeLessThan(1024 * 1024);

    const many = makeBatch(Array.from({ length: 1001 }, () => sampleEntries()[3]!));
    const error = await sink.send(await sink.encode(many), many, new AbortController().signal).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RequestLimitError);
    expect(sink.classify(error)).toBe('split');
    expect(rx.requests.filter((r) => r.path === '/api/v2/logs')).toHaveLength(1);
    await sink.close();
  });

  test('plugin defaults keep a batch within Datadog\'s limits', () => {
    expect(plugin.defaults.batch.maxEntries).toBeLessThanOrEqual(1000);
    expect(plugin.defaults.batch.maxLineBytes).toBeLessThan(5 * 1024 * 1024);
  });
});
