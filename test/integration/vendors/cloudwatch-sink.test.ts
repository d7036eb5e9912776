// The CloudWatch Logs destination against a receiver that verifies SigV4 signatures and
// enforces PutLogEvents' order and limits.
import { afterEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { SinkResponseError } from '../../../src/errors.js';
import { readCloudWatchConfig } from '../../../sinks/cloudwatch/config.js';
import { CloudWatchSink } from '../../../sinks/cloudwatch/sink.js';
import { RequestLimitError } from '../../../sinks/shared/fly-fields.js';
import { entryFromLine } from '../../../src/intake/entry.js';
import { startCloudWatchReceiver, type CloudWatchReceiver } from '../../support/vendor-receivers/cloudwatch.js';
import { configured } from '../../support/config-error.js';
import { batchesFor, makeBatch, sampleEntries, SAMPLE_RECEIVED_AT_MS, receiverContractSuite } from '../../support/sink-contract.js';

const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const GROUP = '/fly/logs';
const REGION = 'eu-west-1';

function sinkFor(url: string, extra: Record<string, string> = {}): CloudWatchSink {
  const env = { CLOUDWATCH_LOG_GROUP_NAME: GROUP, AWS_REGION: REGION, AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: url, ...extra };
  return new CloudWatchSink(configured(readCloudWatchConfig(new EnvReader(env))), 2);
}

// The fixture holds entries from 2022, older than the service's 14 days: the contract runs
// against a receiver whose retention lets them in (the window has its own test below).
receiverContractSuite('cloudwatch', () => startCloudWatchReceiver({ accessKeyId: KEY_ID, secretAccessKey: SECRET, region: REGION, retentionDays: 100_000, now: () => SAMPLE_RECEIVED_AT_MS }), (url) => sinkFor(url));

function line(ms: number, i: number, host = 'h1'): string {
  return JSON.stringify({ event: { provider: 'app' }, fly: { app: { instance: 'i1', name: 'web' }, region: 'ams' }, host, log: { level: 'info' }, message: `m${i}`, timestamp: new Date(ms).toISOString() });
}

describe('cloudwatch requests', () => {
  let rx: CloudWatchReceiver | undefined;
  afterEach(async () => {
    await rx?.close();
  });

  test('creates the group and stream when missing, one stream per app/host, signed requests only', async () => {
    rx = await startCloudWatchReceiver({ accessKeyId: KEY_ID, secretAccessKey: SECRET, region: REGION, now: () => SAMPLE_RECEIVED_AT_MS });
    const sink = sinkFor(rx.url);
    const entries = sampleEntries().filter((e) => e.timestamp.startsWith('2026'));
    for (const batch of batchesFor(sink, entries)) await sink.send(sink.encode(batch), batch, new AbortController().signal);
    await sink.healthcheck(AbortSignal.timeout(5000));
    await sink.close();
    expect(rx.violations).toEqual([]);
    expect(rx.actions.slice(0, 4)).toEqual(['PutLogEvents', 'CreateLogStream', 'CreateLogGroup', 'CreateLogStream']);
    const streams = [...rx.groups.get(GROUP)!.keys()];
    const expected = new Set(entries.map((e) => {
      const o = JSON.parse(e.line) as { host?: string; fly: { app: { name: string; instance: string } } };
      return `${o.fly.app.name}/${o.host ?? o.fly.app.instance}`;
    }));
    expect(new Set(streams)).toEqual(expected);
    expect(rx.events).toHaveLength(entries.length);
  });

  test('a session token is sent and signed; a wrong secret is refused by the signature check', async () => {
    rx = await startCloudWatchReceiver({ accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: 'FwoGZXIvYXdzEXAMPLE', region: REGION, groups: [GROUP] });
    const good = sinkFor(rx.url, { AWS_SESSION_TOKEN: 'FwoGZXIvYXdzEXAMPLE' });
    await good.healthcheck(AbortSignal.timeout(5000));
    expect(rx.violations).toEqual([]);
    const bad = sinkFor(rx.url, { AWS_SESSION_TOKEN: 'FwoGZXIvYXdzEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    const error = await bad.healthcheck(AbortSignal.timeout(5000)).then(() => undefined, (e: unknown) => e);
    expect((error as SinkResponseError).status).toBe(403);
    expect((error as SinkResponseError).body).toContain('InvalidSignatureException');
    expect(bad.classify(error)).toBe('permanent');
    rx.violations.length = 0;
    await good.close();
    await bad.close();
  });

  test('events are sent in time order; too old and too new ones counted from rejectedLogEventsInfo', async () => {
    const now = Date.UTC(2026, 11, 6, 12);
    const day14 = 14 * 86_400_000;
    rx = await startCloudWatchReceiver({ accessKeyId: KEY_ID, secretAccessKey: SECRET, region: REGION, groups: [GROUP], now: () => now });
    const sink = sinkFor(rx.url);
    // Around the 14-day edge, arrival order not time order: 2 entries are just too old.
    const old = [now - day14 + 60_000, now - day14 + 30_000, now - day14 - 60_000, now - day14 + 90_000, now - day14 - 30_000];
    const oldBatch = makeBatch(old.map((t, i) => entryFromLine(line(t, i), now)), 'web/h1');
    expect(await sink.send(sink.encode(oldBatch), oldBatch, new AbortController().signal)).toEqual({ rejectedEntries: 2, rejectReason: 'cloudwatch_too_old' });
    expect(rx.events.map((e) => (JSON.parse(e.message) as { message: string }).message)).toEqual(['m1', 'm0', 'm3']);
    // Around the 2-hour edge ahead: 1 entry is too new.
    const ahead = [now + 2 * 3600_000 - 1000, now + 2 * 3600_000 + 1000, now];
    const newBatch = makeBatch(ahead.map((t, i) => entryFromLine(line(t, 10 + i), now)), 'web/h1');
    expect(await sink.send(sink.encode(newBatch), newBatch, new AbortController().signal)).toEqual({ rejectedEntries: 1, rejectReason: 'cloudwatch_too_new' });
    expect(rx.events).toHaveLength(5);
    expect(rx.rejected).toBe(3);
    expect(rx.violations).toEqual([]);
    await sink.close();
  });

  test('a batch over 24 h, 10,000 events or 1,048,576 bytes is split before sending; ThrottlingException is retried', async () => {
    rx = await startCloudWatchReceiver({ accessKeyId: KEY_ID, secretAccessKey: SECRET, region: REGION, groups: [GROUP] });
    const sink = sinkFor(rx.url);
    const now = Date.now();
    const span = makeBatch([entryFromLine(line(now - 25 * 3600_000, 1), now), entryFromLine(line(now, 2), now)], 'web/h1');
    const spanError = await sink.send(sink.encode(span), span, new AbortController().signal).then(() => undefined, (e: unknown) => e);
    expect(spanError).toBeInstanceOf(RequestLimitError);
    expect(sink.classify(spanError)).toBe('split');
    const many = makeBatch(Array.from({ length: 10_001 }, (_, i) => entryFromLine(line(now, i), now)), 'web/h1');
    expect(sink.classify(await sink.send(sink.encode(many), many, new AbortController().signal).then(() => undefined, (e: unknown) => e))).toBe('split');
    const big = JSON.stringify({ fly: { app: { instance: 'i1', name: 'web' }, region: 'ams' }, host: 'h1', message: 'x'.repeat(200_000), timestamp: new Date(now).toISOString() });
    const heavy = makeBatch(Array.from({ length: 6 }, () => entryFromLine(big, now)), 'web/h1');
    expect(sink.classify(await sink.send(sink.encode(heavy), heavy, new AbortController().signal).then(() => undefined, (e: unknown) => e))).toBe('split');
    expect(rx.requests).toHaveLength(0);

    const throttled = new SinkResponseError(400, 'ThrottlingException', { body: '{"__type":"ThrottlingException","message":"Rate exceeded"}' });
    expect(sink.classify(throttled)).toBe('retry');
    await sink.close();
  });
});
