// The Honeycomb destination against a receiver that checks what Honeycomb's batch API checks.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { SinkResponseError } from '../../../src/errors.js';
import { readHoneycombConfig } from '../../../sinks/honeycomb/config.js';
import { createHoneycombSink } from '../../../sinks/honeycomb/sink.js';
import { startHoneycombReceiver, type HoneycombReceiver } from '../../support/vendor-receivers/honeycomb.js';
import { configured } from '../../support/config-error.js';
import { makeBatch, sampleEntries, receiverContractSuite } from '../../support/sink-contract.js';

const KEY = 'hcaik_01abcdefghijklmnopqrstuvwx';
const DATASET = 'fly logs/prod';

function sinkFor(url: string, key = KEY) {
  return createHoneycombSink(configured(readHoneycombConfig(new EnvReader({ HONEYCOMB_API_KEY: key, HONEYCOMB_DATASET: DATASET, HONEYCOMB_ENDPOINT: url }))), 2);
}

receiverContractSuite('honeycomb', () => startHoneycombReceiver({ apiKey: KEY, dataset: DATASET }), (url) => sinkFor(url));

describe('honeycomb requests', () => {
  let rx: HoneycombReceiver;
  beforeEach(async () => {
    rx = await startHoneycombReceiver({ apiKey: KEY, dataset: DATASET, maxColumns: 9 });
  });
  afterEach(async () => {
    await rx.close();
  });

  test('each event carries Fly\'s timestamp as time and the entry as data', async () => {
    const sink = sinkFor(rx.url);
    const batch = makeBatch(sampleEntries());
    await sink.send(await sink.encode(batch), batch, new AbortController().signal);
    await sink.close();
    expect(rx.violations).toEqual([]);
    for (const e of rx.events) expect(e.time).toBe(e.data.timestamp);
  });

  test('per-event refusals in a 200 answer are counted as rejected, the rest delivered', async () => {
    const sink = sinkFor(rx.url);
    const entries = sampleEntries();
    const batch = makeBatch(entries);
    const result = await sink.send(await sink.encode(batch), batch, new AbortController().signal);
    await sink.close();
    // Entries with process_group and zone have 10 flattened fields, over the receiver's 9.
    const wide = entries.filter((e) => e.line.includes('"process_group"') && e.line.includes('"zone"')).length;
    expect(wide).toBeGreaterThan(0);
    expect(rx.refused).toBe(wide);
    expect(result).toEqual({ rejectedEntries: wide, rejectReason: 'honeycomb_event_400: Event has too many columns' });
    expect(rx.events).toHaveLength(entries.length - wide);
  });

  test('the start-up check: /1/auth with the key; a wrong key is an auth failure (401)', async () => {
    const good = sinkFor(rx.url);
    await good.healthcheck(AbortSignal.timeout(5000));
    const bad = sinkFor(rx.url, 'wrong-key');
    const error = await bad.healthcheck(AbortSignal.timeout(5000)).then(() => undefined, (e: unknown) => e);
    expect((error as SinkResponseError).status).toBe(401);
    expect((error as SinkResponseError).message).toContain('unknown API key');
    await good.close();
    await bad.close();
  });
});
