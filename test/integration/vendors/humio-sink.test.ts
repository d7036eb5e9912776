// The Humio / LogScale destination against a receiver that checks what LogScale's HEC checks.
import { afterEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { SinkResponseError } from '../../../src/errors.js';
import { readHumioConfig } from '../../../sinks/humio/config.js';
import { createHumioSink } from '../../../sinks/humio/sink.js';
import { startHumioReceiver, type HumioReceiver } from '../../support/vendor-receivers/humio.js';
import { configured } from '../../support/config-error.js';
import { makeBatch, sampleEntries, receiverContractSuite } from '../../support/sink-contract.js';

const TOKEN = '0a1b2c3d-4e5f-6789-abcd-ef0123456789';

function sinkFor(url: string) {
  return createHumioSink(configured(readHumioConfig(new EnvReader({ HUMIO_TOKEN: TOKEN, HUMIO_ENDPOINT: url }))), 2);
}

receiverContractSuite('humio', () => startHumioReceiver({ token: TOKEN }), (url) => sinkFor(url));

describe('humio requests', () => {
  let rx: HumioReceiver | undefined;
  afterEach(async () => {
    await rx?.close();
  });

  test('events carry epoch seconds, the instance as host and the entry as event; the status check passes', async () => {
    rx = await startHumioReceiver({ token: TOKEN });
    const sink = sinkFor(rx.url);
    await sink.healthcheck(AbortSignal.timeout(5000));
    const entries = sampleEntries();
    const batch = makeBatch(entries);
    await sink.send(await sink.encode(batch), batch, new AbortController().signal);
    await sink.close();
    expect(rx.violations).toEqual([]);
    for (const e of rx.events) {
      const fly = e.event.fly as { app: { instance: string } };
      expect(e.host).toBe(fly.app.instance);
      expect(e.time).toBeCloseTo(Date.parse(String(e.event.timestamp)) / 1000, 3);
    }
  });

  test('a 400 naming invalid-event-number N: the N events before it are delivered, the rest rejected', async () => {
    const entries = sampleEntries();
    const badIndex = 4;
    const badMessage = (JSON.parse(entries[badIndex]!.line) as { message: string }).message;
    rx = await startHumioReceiver({ token: TOKEN, refuse: (event) => event.message === badMessage });
    const sink = sinkFor(rx.url);
    const batch = makeBatch(entries);
    const error = await sink.send(await sink.encode(batch), batch, new AbortController().signal).then(() => undefined, (e: unknown) => e);
    await sink.close();
    expect(error).toBeInstanceOf(SinkResponseError);
    expect((error as SinkResponseError).rejectedEntries).toBe(entries.length - badIndex);
    expect(sink.classify(error)).toBe('permanent');
    expect(rx.events).toHaveLength(badIndex);
  });
});
