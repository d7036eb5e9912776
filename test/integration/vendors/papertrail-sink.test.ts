// The Papertrail destination against a TLS syslog receiver that parses octet-counted
// RFC 5424 frames.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { SinkNetworkError } from '../../../src/errors.js';
import { readPapertrailConfig } from '../../../sinks/papertrail/config.js';
import { PapertrailSink } from '../../../sinks/papertrail/sink.js';
import { makeTestCertificate, startPapertrailReceiver, type PapertrailReceiver, type TestCertificate } from '../../support/vendor-receivers/papertrail.js';
import { freePort } from '../../support/ports.js';
import { waitFor } from '../../support/poll.js';
import { configured } from '../../support/config-error.js';
import { makeBatch, sampleEntries, sinkContractSuite } from '../../support/sink-contract.js';
import { entryFromLine } from '../../../src/intake/entry.js';

let cert: TestCertificate;
beforeAll(() => {
  cert = makeTestCertificate();
});
afterAll(() => cert.remove());

/** `ca` null: trust only the system's CAs. */
function sinkFor(endpoint: string, codec?: string, ca: string | null = cert.cert): PapertrailSink {
  const env: Record<string, string> = { PAPERTRAIL_ENDPOINT: endpoint, ...(codec ? { PAPERTRAIL_ENCODING_CODEC: codec } : {}) };
  return new PapertrailSink(configured(readPapertrailConfig(new EnvReader(env))), ca === null ? {} : { ca });
}

async function sendAll(sink: PapertrailSink, batches: ReturnType<typeof makeBatch>[]): Promise<void> {
  for (const b of batches) await sink.send(sink.encode(b), b, new AbortController().signal);
}

// The receiver gets the frames a moment after the write: stored() waits until it has as
// many as were sent (a count the sink reports), then returns them.
sinkContractSuite('papertrail', async () => {
  const rx = await startPapertrailReceiver(cert);
  const sink = sinkFor(rx.endpoint);
  let sent = 0;
  const send = sink.send.bind(sink);
  sink.send = async (encoded, batch, signal) => {
    await send(encoded, batch, signal);
    sent += encoded.entryCount;
  };
  return {
    sink,
    stored: async () => {
      await waitFor(() => rx.frames.length >= sent, { what: `${sent} frames at the receiver`, timeoutMs: 10_000 });
      return rx.entries();
    },
    refusedSink: async () => sinkFor(`127.0.0.1:${await freePort()}`),
    close: async () => {
      await sink.close();
      await rx.close();
    },
  };
});

describe('papertrail syslog', () => {
  let rx: PapertrailReceiver | undefined;
  afterEach(async () => {
    await rx?.close();
  });

  test('RFC 5424 header: user facility with the level\'s severity, microsecond timestamp, host, app; one connection kept', async () => {
    rx = await startPapertrailReceiver(cert);
    const sink = sinkFor(rx.endpoint, 'text');
    await sink.healthcheck(AbortSignal.timeout(5000));
    const entries = sampleEntries();
    await sendAll(sink, [makeBatch(entries.slice(0, 5)), makeBatch(entries.slice(5))]);
    await waitFor(() => rx!.frames.length === entries.length, { what: 'all frames' });
    await sink.close();
    expect(rx.violations).toEqual([]);
    expect(rx.connections).toBe(1);
    const body = JSON.parse(entries[0]!.line) as { timestamp: string; host: string; fly: { app: { name: string } }; message: string };
    expect(rx.frames[0]).toMatchObject({ timestamp: body.timestamp.slice(0, 26) + 'Z', hostname: body.host, appName: body.fly.app.name, msg: body.message });
    const error = rx.frames.find((f) => f.msg.includes('payment provider timeout'));
    expect(error!.pri).toBe(8 + 3);
  });

  test('a certificate the agent does not trust is refused (a network failure, retried)', async () => {
    rx = await startPapertrailReceiver(cert);
    const sink = sinkFor(rx.endpoint, undefined, null);
    const batch = makeBatch(sampleEntries());
    const error = await sink.send(sink.encode(batch), batch, new AbortController().signal).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SinkNetworkError);
    expect(String((error as Error).message)).toMatch(/self[- ]signed|certificate/i);
    await sink.close();
  });

  test('a connection dropped mid-stream loses nothing: the recent writes go again on the new connection', async () => {
    rx = await startPapertrailReceiver(cert);
    const sink = sinkFor(rx.endpoint);
    const line = (i: number): string =>
      JSON.stringify({ event: { provider: 'app' }, fly: { app: { instance: 'i1', name: 'web' }, region: 'ams' }, host: 'h1', log: { level: 'info' }, message: `req_id=e${i} ${'x'.repeat(300)}`, timestamp: new Date(Date.UTC(2026, 11, 6) + i).toISOString() });
    const batches = Array.from({ length: 40 }, (_, b) => makeBatch(Array.from({ length: 250 }, (_, i) => entryFromLine(line(b * 250 + i), 0))));
    // The receiver drops the connection after 3,100 frames, discarding what follows in flight.
    rx.dropAfter(3100);
    let failures = 0;
    for (const b of batches) {
      // As the core does: a failed attempt is retried.
      for (;;) {
        try {
          await sink.send(sink.encode(b), b, new AbortController().signal);
          break;
        } catch (error) {
          expect(sink.classify(error)).toBe('retry');
          failures++;
        }
      }
    }
    const ids = (): Set<string> => new Set(rx!.frames.map((f) => /req_id=(e\d+)/.exec(f.msg)![1]!));
    await waitFor(() => ids().size === 10_000, { what: 'every entry at the receiver', timeoutMs: 20_000, context: () => `${ids().size} distinct of ${rx!.frames.length} frames` });
    expect(rx.connections).toBe(2);
    expect(sink.counters.replays).toBe(1);
    expect(rx.violations).toEqual([]);
    // At least once: the replay may repeat entries, never more than the window held.
    expect(rx.frames.length).toBeGreaterThanOrEqual(10_000);
    expect(failures).toBeLessThanOrEqual(1);
    await sink.close();
  });
});
