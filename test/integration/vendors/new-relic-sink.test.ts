// The New Relic destination against a receiver that checks what the Log API checks.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { readNewRelicConfig } from '../../../sinks/new-relic/config.js';
import { createNewRelicSink } from '../../../sinks/new-relic/sink.js';
import { startNewRelicReceiver, type NewRelicReceiver } from '../../support/vendor-receivers/new-relic.js';
import { configured } from '../../support/config-error.js';
import { makeBatch, sampleEntries, receiverContractSuite } from '../../support/sink-contract.js';
import { entryFromLine } from '../../../src/intake/entry.js';
import { RequestLimitError } from '../../../sinks/shared/fly-fields.js';

const LICENSE = 'eu01xx0123456789abcdef0123456789abcdNRAL';

function sinkFor(url: string, env: Record<string, string> = { NEW_RELIC_LICENSE_KEY: LICENSE }) {
  return createNewRelicSink(configured(readNewRelicConfig(new EnvReader({ ...env, NEW_RELIC_ENDPOINT: url }))), 2);
}

receiverContractSuite('new_relic', () => startNewRelicReceiver({ key: LICENSE, keyHeader: 'x-license-key' }), (url) => sinkFor(url));

describe('new relic requests', () => {
  let rx: NewRelicReceiver;
  beforeEach(async () => {
    rx = await startNewRelicReceiver({ key: 'insert-key-1', keyHeader: 'x-insert-key' });
  });
  afterEach(async () => {
    await rx.close();
  });

  test('an insert key goes in X-Insert-Key; logs carry epoch ms, hostname, service.name and level', async () => {
    const sink = sinkFor(rx.url, { NEW_RELIC_INSERT_KEY: 'insert-key-1' });
    const entries = sampleEntries();
    const batch = makeBatch(entries);
    await sink.send(await sink.encode(batch), batch, new AbortController().signal);
    await sink.close();
    expect(rx.violations).toEqual([]);
    const first = JSON.parse(entries[0]!.line) as { timestamp: string; fly: { app: { name: string; instance: string } } };
    expect(rx.logs[0]).toMatchObject({ timestamp: Date.parse(first.timestamp), rfc3339_timestamp: first.timestamp, hostname: first.fly.app.instance, 'service.name': first.fly.app.name });
    expect(rx.logs.find((l) => String(l.message).includes('payment provider timeout'))?.level).toBe('error');
  });

  test('a body over the 1 MB payload limit (as sent) is split before sending', async () => {
    const sink = sinkFor(rx.url, { NEW_RELIC_INSERT_KEY: 'insert-key-1' });
    // Random text hardly compresses: 12 entries of ~120 KB make a body over 1 MB gzip'd.
    const line = (i: number): string =>
      JSON.stringify({ fly: { app: { instance: 'i', name: 'a' }, region: 'ams' }, host: 'h', log: { level: 'info' }, message: `${i} ${randomBytes(90_000).toString('base64')}`, timestamp: '2026-11-26T20:34:37.000000000Z' });
    const batch = makeBatch(Array.from({ length: 12 }, (_, i) => entryFromLine(line(i), 0)));
    const encoded = await sink.encode(batch);
    expect(encoded.body.length).toBeGreaterThan(1_000_000);
    const error = await sink.send(encoded, batch, new AbortController().signal).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RequestLimitError);
    expect(sink.classify(error)).toBe('split');
    expect(rx.requests).toHaveLength(0);
    await sink.close();
  });
});
