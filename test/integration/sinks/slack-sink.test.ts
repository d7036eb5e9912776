// Slack alerts against a receiver that checks what Slack's incoming webhooks check (blocks,
// sizes, one message a second). Not run through the shared contract suite: the sink posts
// only matching messages, reshaped into blocks, so "every field intact" cannot hold by design;
// these tests cover the same ground for what it does send.
import { afterEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { SinkResponseError } from '../../../src/errors.js';
import { parseFlyMessage, type LogEntry } from '../../../src/intake/entry.js';
import { plugin } from '../../../sinks/slack/index.js';
import { SlackSink } from '../../../sinks/slack/sink.js';
import { MAX_ALERTS } from '../../../sinks/slack/encode.js';
import { makeBatch } from '../../support/sink-contract.js';
import { PROFILES, startVendorReceiver, type VendorReceiver } from '../../support/vendor-receivers/http-vendors.js';

const HOOK = '/services/T0001/B0001/slack-hook-secret-55';

function entry(message: string, n: number): LogEntry {
  const line = JSON.stringify({
    event: { provider: 'app' },
    fly: { app: { instance: `inst${n % 3}`, name: 'shop-api' }, region: 'ams' },
    host: 'a1b2',
    log: { level: 'error' },
    message,
    timestamp: '2026-11-26T20:35:01.123456789Z',
  });
  const parsed = parseFlyMessage(`logs.shop-api.ams.inst${n % 3}`, Buffer.from(line), Date.now());
  if (parsed.kind !== 'entry') throw new Error('bad test entry');
  return parsed.entry;
}

describe('Slack alerts', () => {
  let rx: VendorReceiver;
  let sink: SlackSink;
  async function start(keywords = "[r'SIGTERM', r'(?i)panic']"): Promise<void> {
    rx = await startVendorReceiver(PROFILES.slack({ path: HOOK }));
    const config = plugin.readConfig(new EnvReader({ SLACK_WEBHOOK_URL: `${rx.url}${HOOK}`, SLACK_ALERT_KEYWORDS: keywords }))!;
    sink = plugin.create(config, { logger: undefined as never, agentInstanceId: 't' }) as SlackSink;
  }
  afterEach(async () => {
    await sink?.close();
    await rx?.close();
  });

  async function post(entries: LogEntry[]) {
    const batch = makeBatch(entries);
    const encoded = await sink.encode(batch);
    await sink.send(encoded, batch, new AbortController().signal);
    return encoded;
  }

  test('posts only matching messages, as fly-log-shipper\'s blocks; the rest are counted as filtered', async () => {
    await start();
    const encoded = await post([entry('all good', 0), entry('got SIGTERM, shutting down', 1), entry('PANIC: nil map', 2), entry('fine', 3)]);
    expect(encoded).toMatchObject({ entryCount: 2, adjusted: { filtered: 2 } });
    expect(encoded.dropped).toBeUndefined();
    expect(rx.problems).toEqual([]);
    expect(rx.stored()).toEqual([
      { app: 'shop-api', instance: 'inst1', message: 'got SIGTERM, shutting down' },
      { app: 'shop-api', instance: 'inst2', message: 'PANIC: nil map' },
    ]);
    const body = JSON.parse(rx.http.requests[0]!.body.toString('utf8')) as { blocks: unknown[] };
    expect(body.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: 'New alert from *shop-api*' } });
    expect(body.blocks[1]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '*AppId:* inst1\n*Message:*\n```got SIGTERM, shutting down```' } });
  });

  test('a batch with no match sends nothing', async () => {
    await start();
    const encoded = await post([entry('quiet', 0), entry('still quiet', 1)]);
    expect(encoded).toMatchObject({ entryCount: 0, adjusted: { filtered: 2 } });
    expect(rx.http.requests).toHaveLength(0);
  });

  test('never two posts within a second (the receiver answers 429 if so)', async () => {
    await start();
    await post([entry('SIGTERM one', 0)]);
    await post([entry('SIGTERM two', 1)]);
    await post([entry('SIGTERM three', 2)]);
    expect(rx.problems).toEqual([]);
    const at = rx.http.requests.map((r) => r.at);
    expect(at).toHaveLength(3);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(900);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(900);
  });

  test('more matches than one message holds: the extra ones are dropped as alert_rate_limit, and said so', async () => {
    await start();
    const entries = Array.from({ length: MAX_ALERTS + 6 }, (_, i) => entry(`SIGTERM #${i}`, i));
    const encoded = await post(entries);
    expect(encoded).toMatchObject({ entryCount: MAX_ALERTS, dropped: { alert_rate_limit: 6 } });
    expect(rx.problems).toEqual([]);
    expect(rx.stored()).toHaveLength(MAX_ALERTS);
    const body = JSON.parse(rx.http.requests[0]!.body.toString('utf8')) as { blocks: Array<{ type: string; elements?: Array<{ text: string }> }> };
    expect(body.blocks.length).toBeLessThanOrEqual(50);
    expect(body.blocks.at(-1)).toMatchObject({ type: 'context' });
    expect(body.blocks.at(-1)!.elements![0]!.text).toContain('6 more');
  });

  test('a message longer than a section holds is cut and counted as adjusted', async () => {
    await start();
    const encoded = await post([entry(`SIGTERM ${'x'.repeat(5000)}`, 0)]);
    expect(encoded.adjusted).toEqual({ message_truncated: 1 });
    expect(rx.problems).toEqual([]);
    expect(String(rx.stored()[0]!.message).endsWith('…')).toBe(true);
  });

  test('429 carries Retry-After and is retried; 404 channel_not_found is permanent', async () => {
    await start();
    rx.failNext(429, { retryAfter: 2 });
    const e429 = await post([entry('SIGTERM', 0)]).catch((e: unknown) => e);
    expect(e429).toBeInstanceOf(SinkResponseError);
    expect((e429 as SinkResponseError).retryAfterMs).toBe(2000);
    expect(sink.classify(e429)).toBe('retry');
    rx.failNext(404);
    const e404 = await post([entry('SIGTERM', 1)]).catch((e: unknown) => e);
    expect((e404 as SinkResponseError).bodyExcerpt).toBe('channel_not_found');
    expect(sink.classify(e404)).toBe('permanent');
  });

  test('a send waiting for its second is aborted at once on shutdown', async () => {
    await start();
    await post([entry('SIGTERM', 0)]);
    const batch = makeBatch([entry('SIGTERM again', 1)]);
    const encoded = sink.encode(batch);
    const controller = new AbortController();
    const sending = sink.send(encoded, batch, controller.signal);
    controller.abort(new Error('stopping'));
    await expect(sending).rejects.toThrow('stopping');
    expect(rx.http.requests).toHaveLength(1);
  });

  test('its healthcheck connects without posting', async () => {
    await start();
    await sink.healthcheck(new AbortController().signal);
    expect(rx.http.requests).toHaveLength(0);
  });
});
