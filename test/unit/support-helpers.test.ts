// The test helpers other test files lean on: if these are wrong, every e2e verdict is.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { accountingBalances, metricSeries, metricValue, parseMetrics, sinkAccounting } from '../support/prometheus.js';
import { idOf, loadSampleLines, makeFlyEntries } from '../support/fly-entries.js';

describe('waitFor', () => {
  it('resolves with the first truthy value', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? { n } : undefined), { what: 'three probes', intervalMs: 1 });
    expect(v).toEqual({ n: 3 });
  });

  it('treats a throwing probe as not yet', async () => {
    let n = 0;
    const v = await waitFor(
      async () => {
        if (++n < 3) throw new Error('not up');
        return 'up';
      },
      { what: 'server', intervalMs: 1 },
    );
    expect(v).toBe('up');
  });

  it('names what it waited for and the last value on timeout', async () => {
    await expect(waitFor(() => false, { what: 'the impossible', timeoutMs: 50, intervalMs: 5 })).rejects.toThrow(/the impossible.*last value: false/);
    await expect(
      waitFor(() => {
        throw new Error('boom');
      }, { what: 'x', timeoutMs: 30, intervalMs: 5, context: () => 'extra context' }),
    ).rejects.toThrow(/last probe threw: Error: boom\nextra context/);
  });
});

describe('freePort', () => {
  it('hands out distinct usable ports', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    expect(new Set(ports).size).toBe(3);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });
});

describe('prometheus text', () => {
  const text = [
    '# HELP logferry_sink_entries_received_total Entries.',
    '# TYPE logferry_sink_entries_received_total counter',
    'logferry_sink_entries_received_total{sink="http"} 10',
    'logferry_sink_entries_received_total{sink="file"} 5',
    '# HELP logferry_sink_entries_delivered_total d',
    '# TYPE logferry_sink_entries_delivered_total counter',
    'logferry_sink_entries_delivered_total{sink="http"} 6',
    '# TYPE logferry_sink_entries_rejected_total counter',
    'logferry_sink_entries_rejected_total{sink="http",reason="http_400"} 2',
    '# TYPE logferry_sink_entries_dropped_total counter',
    'logferry_sink_entries_dropped_total{sink="http",reason="buffer_full"} 1',
    '# TYPE logferry_sink_entries_pending gauge',
    'logferry_sink_entries_pending{sink="http"} 1',
    '# TYPE logferry_sink_request_duration_seconds histogram',
    'logferry_sink_request_duration_seconds_bucket{le="+Inf",sink="http"} 4',
    'logferry_sink_request_duration_seconds_count{sink="http"} 4',
    'weird{a="quote \\" and \\\\ and \\n",b="x, y"} 1.5e3 1700000000000',
    '# TYPE logferry_declared_only_total counter',
    'logferry_nodejs_eventloop_lag_mean_seconds Nan',
  ].join('\n');

  it('parses labels with escapes, exponents and timestamps', () => {
    const parsed = parseMetrics(text);
    const weird = metricSeries(parsed, 'weird')[0]!;
    expect(weird.labels).toEqual({ a: 'quote " and \\ and \n', b: 'x, y' });
    expect(weird.value).toBe(1500);
    expect(metricSeries(parsed, 'logferry_sink_request_duration_seconds_bucket')[0]!.value).toBe(4);
    expect(metricSeries(parsed, 'logferry_nodejs_eventloop_lag_mean_seconds')[0]!.value).toBeNaN();
  });

  it('sums series matching a label subset', () => {
    expect(metricValue(text, 'logferry_sink_entries_received_total')).toBe(15);
    expect(metricValue(text, 'logferry_sink_entries_received_total', { sink: 'http' })).toBe(10);
    expect(metricValue(text, 'logferry_sink_entries_rejected_total', { reason: 'http_400' })).toBe(2);
    expect(metricValue(text, 'logferry_sink_entries_rejected_total', { reason: 'http_401' })).toBe(0);
    expect(metricValue(text, 'logferry_declared_only_total')).toBe(0);
  });

  it('throws on a metric that does not exist at all', () => {
    expect(() => metricValue(text, 'logferry_sink_entries_recieved_total')).toThrow(/not exported/);
  });

  it('computes the per-sink accounting', () => {
    const a = sinkAccounting(text, 'http');
    expect(a).toEqual({ received: 10, delivered: 6, rejected: 2, dropped: 1, pending: 1 });
    expect(accountingBalances(a)).toBe(true);
    expect(accountingBalances({ ...a, pending: 0 })).toBe(false);
  });
});

describe('makeFlyEntries', () => {
  it('is deterministic from the seed and unique by id', () => {
    const a = makeFlyEntries(500, { seed: 7 });
    const b = makeFlyEntries(500, { seed: 7 });
    const c = makeFlyEntries(500, { seed: 8 });
    expect(a).toEqual(b);
    expect(a.map((e) => e.payload)).not.toEqual(c.map((e) => e.payload));
    expect(new Set(a.map((e) => e.id)).size).toBe(500);
  });

  it('produces the exact Fly shape on the matching subject, with a recoverable id', () => {
    const sampleKeys = JSON.stringify(Object.keys(JSON.parse(loadSampleLines()[0]!) as object));
    for (const e of makeFlyEntries(2000, { seed: 3 })) {
      expect(e.payload).not.toMatch(/[\n\r]/);
      const body = JSON.parse(e.payload) as {
        event: { provider: string };
        fly: { app: { instance: string; name: string; process_group?: string }; region: string; zone?: string };
        host: string;
        log: { level: string };
        message: string;
        timestamp: string;
      };
      expect(JSON.stringify(Object.keys(body))).toBe(sampleKeys);
      expect(e.subject).toBe(`logs.${body.fly.app.name}.${body.fly.region}.${body.fly.app.instance}`);
      expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      expect(body.fly.app.instance).toMatch(/^[0-9a-f]{14}$/);
      expect(typeof body.event.provider).toBe('string');
      expect(typeof body.log.level).toBe('string');
      expect(idOf(body)).toBe(e.id);
    }
  });

  it('mixes the realistic kinds, including 8 KiB lines and JSON-in-message', () => {
    const entries = makeFlyEntries(5000, { seed: 11 });
    const kinds = new Set(entries.map((e) => e.kind));
    expect([...kinds].sort()).toEqual(['access', 'ansi', 'json', 'large', 'proxy', 'quoted', 'stack', 'unicode']);
    const large = entries.find((e) => e.kind === 'large')!;
    expect((JSON.parse(large.payload) as { message: string }).message.length).toBeGreaterThanOrEqual(8192);
    const json = entries.find((e) => e.kind === 'json')!;
    expect(JSON.parse((JSON.parse(json.payload) as { message: string }).message)).toHaveProperty('level');
    const stack = entries.find((e) => e.kind === 'stack')!;
    expect((JSON.parse(stack.payload) as { message: string }).message).toContain('\n    at ');
  });

  it('restricts kinds and apps on request', () => {
    const entries = makeFlyEntries(10, { seed: 1, apps: ['only-app'], kinds: ['access'], idPrefix: 'w2-' });
    expect(entries.every((e) => e.app === 'only-app' && e.kind === 'access' && e.id.startsWith('w2-'))).toBe(true);
  });
});
