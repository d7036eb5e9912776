import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseFlyMessage, timestampNanos, type LogEntry } from '../../../src/intake/entry.js';
import { DEFAULT_LABELS } from '../../../sinks/loki/config.js';
import {
  MAX_LABELS,
  SecondsCache,
  cutUtf8,
  nanosOf,
  normaliseLevel,
  sanitiseLabelName,
  sanitiseLabelValue,
  logfmtLine,
  truncateJsonLine,
  type LokiEncodeOptions,
} from '../../../sinks/loki/labels.js';
import { buildPushBody, encodeEntries as encodePush } from '../../support/loki-variants.js';
import { SAMPLE_RECEIVED_AT_MS, sampleEntries } from '../../support/sink-contract.js';

const defaults: LokiEncodeOptions = {
  labels: DEFAULT_LABELS,
  staticLabels: [],
  structuredMetadata: [],
  lineFormat: 'json',
  maxLineBytes: 256 * 1024,
};

type Value = [string, string] | [string, string, Record<string, string>];
interface PushDoc {
  streams: Array<{ stream: Record<string, string>; values: Value[] }>;
}

function push(entries: readonly LogEntry[], o: Partial<LokiEncodeOptions> = {}): { doc: PushDoc; adjusted: Record<string, number>; streamCount: number } {
  const body = buildPushBody(entries, { ...defaults, ...o });
  return { doc: JSON.parse(body.json) as PushDoc, adjusted: body.adjusted, streamCount: body.streamCount };
}

/** Each sent entry with its stream's labels, in body order. */
function flatten(doc: PushDoc): Array<{ labels: Record<string, string>; ts: string; line: string; meta: Record<string, string> | undefined }> {
  return doc.streams.flatMap((s) => s.values.map((v) => ({ labels: s.stream, ts: v[0], line: v[1], meta: v[2] })));
}

function flyEntry(fields: { app?: string; message?: string; level?: string; host?: string; provider?: string; timestamp?: string; processGroup?: string; zone?: string }): LogEntry {
  const body = {
    event: { provider: fields.provider ?? 'app' },
    fly: { app: { instance: 'i1', name: fields.app ?? 'web', ...(fields.processGroup ? { process_group: fields.processGroup } : {}) }, region: 'ams', ...(fields.zone ? { zone: fields.zone } : {}) },
    ...(fields.host === '' ? {} : { host: fields.host ?? 'h1' }),
    log: { level: fields.level ?? 'info' },
    message: fields.message ?? 'hello',
    timestamp: fields.timestamp ?? '2026-11-26T20:34:37.000000001Z',
  };
  const parsed = parseFlyMessage(`logs.${body.fly.app.name}.ams.i1`, Buffer.from(JSON.stringify(body)), SAMPLE_RECEIVED_AT_MS);
  if (parsed.kind !== 'entry') throw new Error('did not parse');
  return parsed.entry;
}

describe('Loki encoding: streams and labels', () => {
  it('groups the Fly samples into one stream per label set with fly-log-shipper label names', () => {
    const entries = sampleEntries();
    const { doc, streamCount } = push(entries);
    const sent = flatten(doc);
    expect(sent).toHaveLength(entries.length);
    // Every entry exactly once, its line untouched.
    expect(sent.map((s) => s.line).sort()).toEqual(entries.map((e) => e.line).sort());
    // Streams are distinct label sets; fewer streams than lines here (two entries share one).
    const keys = doc.streams.map((s) => JSON.stringify(s.stream));
    expect(new Set(keys).size).toBe(keys.length);
    expect(streamCount).toBe(doc.streams.length);
    expect(doc.streams.length).toBeLessThan(entries.length);
    for (const s of doc.streams) {
      for (const name of Object.keys(s.stream)) expect(DEFAULT_LABELS as readonly string[]).toContain(name);
    }

    const labelsOf = (message: string): Record<string, string> | undefined =>
      sent.find((s) => (JSON.parse(s.line) as { message: string }).message === message)?.labels;
    expect(labelsOf('litestream shut down')).toEqual({
      fly_app_name: 'dc-team-52-simon-46d213',
      fly_region: 'sjc',
      fly_app_instance: '0e286551c30586',
      host: '0ad1',
      event_provider: 'app',
      level: 'info',
    });
    expect(labelsOf('machine exited with exit code 0, not restarting')?.event_provider).toBe('runner');
    expect(labelsOf('could not find a good candidate within 40 attempts at load balancing')?.level).toBe('error');
  });

  it("takes level from the app's own JSON level, else from log.level", () => {
    const { doc } = push(sampleEntries());
    const byMsg = new Map(flatten(doc).map((s) => [(JSON.parse(s.line) as { message: string }).message, s.labels.level]));
    // log.level says info, the app's JSON says error.
    expect(byMsg.get('{"level":"error","time":1795707277000,"msg":"payment provider timeout","order_id":48211,"latency_ms":30012}')).toBe('error');
    // pino's numeric 30 is info.
    expect(byMsg.get('{"level":30,"time":1795707282000,"msg":"batch delivered","sink":"loki","entries":5000}')).toBe('info');
    // Not JSON: log.level.
    expect(byMsg.get('\u001b[32mINFO\u001b[0m  [jobs] processed 120 jobs in 2.3s')).toBe('info');
  });

  it('folds level spellings and keeps arbitrary text from becoming streams', () => {
    expect(normaliseLevel('warning')).toBe('warn');
    expect(normaliseLevel('err')).toBe('error');
    expect(normaliseLevel('information')).toBe('info');
    expect(normaliseLevel('request failed for user 42')).toBe('unknown');
    expect(normaliseLevel('constructor')).toBe('unknown');
    const { doc } = push([flyEntry({ message: '{"level":"WARNING","msg":"x"}' }), flyEntry({ message: '{"level":"oops-i-am-a-message","msg":"y"}' })]);
    expect(doc.streams.map((s) => s.stream.level).sort()).toEqual(['unknown', 'warn']);
  });

  it('sends many streams in one request, never one stream per line', () => {
    const entries: LogEntry[] = [];
    for (let i = 0; i < 1000; i++) entries.push(flyEntry({ app: i % 2 === 0 ? 'a' : 'b', level: i % 3 === 0 ? 'error' : 'info', timestamp: `2026-11-26T20:34:37.${String(i).padStart(9, '0')}Z` }));
    const { doc } = push(entries);
    expect(doc.streams).toHaveLength(4);
    expect(doc.streams.reduce((n, s) => n + s.values.length, 0)).toBe(1000);
  });

  it('sorts each stream by timestamp, keeping arrival order for equal timestamps', () => {
    const ts = ['2026-11-26T20:34:39.000000000Z', '2026-11-26T20:34:37.5Z', '2026-11-26T20:34:38.000000001Z', '2026-11-26T20:34:37.5Z'];
    const entries = ts.map((t, i) => flyEntry({ timestamp: t, message: `m${i}` }));
    const { doc } = push(entries);
    expect(doc.streams).toHaveLength(1);
    const values = doc.streams[0]!.values;
    expect(values.map((v) => (JSON.parse(v[1]) as { message: string }).message)).toEqual(['m1', 'm3', 'm2', 'm0']);
    expect(values.map((v) => v[0])).toEqual(['1795725277500000000', '1795725277500000000', '1795725278000000001', '1795725279000000000']);
  });

  it('omits labels whose value is empty (Loki treats them as absent)', () => {
    const { doc } = push([flyEntry({ host: '' })]);
    expect(doc.streams[0]!.stream).not.toHaveProperty('host');
    expect(doc.streams[0]!.stream.fly_app_name).toBe('web');
  });

  it('sends only the chosen labels, plus static labels after them', () => {
    const { doc } = push([flyEntry({})], { labels: ['fly_app_name', 'level'], staticLabels: [['env', 'prod'], ['team', 'web']] });
    expect(doc.streams[0]!.stream).toEqual({ fly_app_name: 'web', level: 'info', env: 'prod', team: 'web' });
    expect(Object.keys(doc.streams[0]!.stream)).toEqual(['fly_app_name', 'level', 'env', 'team']);
  });

  it('sanitises label names and values, and counts the entries it changed', () => {
    const entries = [flyEntry({}), flyEntry({ message: 'second' })];
    const { doc, adjusted } = push(entries, { labels: ['fly_app_name'], staticLabels: [['team-name', 'web'], ['1st', 'a\nb']] });
    expect(doc.streams[0]!.stream).toEqual({ fly_app_name: 'web', team_name: 'web', _1st: 'a_b' });
    expect(adjusted).toEqual({ label_sanitised: 2 });
    // Clean label sets are not counted.
    expect(push(entries).adjusted).toEqual({});
  });

  it('keeps names that collide after sanitising once, the first by priority', () => {
    const { doc, adjusted } = push([flyEntry({})], { labels: ['fly_region'], staticLabels: [['fly-region', 'other']] });
    expect(doc.streams[0]!.stream).toEqual({ fly_region: 'ams' });
    expect(adjusted.label_sanitised).toBe(1);
  });

  it('keeps at most 15 labels, the dynamic ones first, and counts the entries', () => {
    const staticLabels = Array.from({ length: 12 }, (_, i) => [`s${i}`, `v${i}`] as const);
    const { doc, adjusted } = push([flyEntry({}), flyEntry({ message: 'x' })], { staticLabels });
    const names = Object.keys(doc.streams[0]!.stream);
    expect(names).toHaveLength(MAX_LABELS);
    expect(names.slice(0, 6)).toEqual([...DEFAULT_LABELS]);
    expect(names.slice(6)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8']);
    expect(adjusted).toEqual({ labels_limited: 2 });
  });

  it('merges streams whose raw values sanitise to the same label set', () => {
    const { doc } = push([flyEntry({ host: 'a\nb' }), flyEntry({ host: 'a\tb', message: 'other' })]);
    expect(doc.streams).toHaveLength(1);
    expect(doc.streams[0]!.stream.host).toBe('a_b');
    expect(doc.streams[0]!.values).toHaveLength(2);
  });

  it('sanitising helpers', () => {
    expect(sanitiseLabelName('fly_app_name')).toBe('fly_app_name');
    expect(sanitiseLabelName('app.kubernetes/name')).toBe('app_kubernetes_name');
    expect(sanitiseLabelName('9lives')).toBe('_9lives');
    expect(sanitiseLabelName('')).toBe('_');
    expect(sanitiseLabelValue('ok value')).toBe('ok value');
    expect(sanitiseLabelValue('\u0000x\u007f')).toBe('_x_');
    expect(sanitiseLabelValue('bad \ud800 surrogate')).toBe('bad \ufffd surrogate');
    expect(Buffer.byteLength(sanitiseLabelValue('é'.repeat(5000)))).toBeLessThanOrEqual(2048);
  });

  it('sends structured metadata as the third element, only the fields that have a value', () => {
    const entries = [flyEntry({ processGroup: 'worker', zone: 'd731' }), flyEntry({ message: 'no group' })];
    const { doc } = push(entries, { labels: ['fly_app_name'], structuredMetadata: ['fly_app_instance', 'process_group', 'zone'] });
    const values = doc.streams[0]!.values;
    expect(values[0]).toEqual([expect.any(String), entries[0]!.line, { fly_app_instance: 'i1', process_group: 'worker', zone: 'd731' }]);
    expect(values[1]).toEqual([expect.any(String), entries[1]!.line, { fly_app_instance: 'i1' }]);
    // Not configured: plain pairs.
    expect(push(entries).doc.streams[0]!.values[0]).toHaveLength(2);
  });

  it('sends the raw message as the line when asked', () => {
    const entries = sampleEntries();
    const { doc } = push(entries, { lineFormat: 'message' });
    const lines = flatten(doc).map((s) => s.line);
    expect(lines).toContain('litestream shut down');
    expect(lines).toContain('ünïcødé “quotes” \\ backslash \t tab 🚀');
    expect(lines).toContain('');
    expect(lines).toContain('{"level":"error","time":1795707277000,"msg":"payment provider timeout","order_id":48211,"latency_ms":30012}');
  });
});

describe('Loki encoding: timestamps', () => {
  it('are exact nanosecond strings from the RFC3339 value', () => {
    const entries = sampleEntries();
    const { doc, adjusted } = push(entries);
    const byLine = new Map(flatten(doc).map((s) => [s.line, s.ts]));
    for (const e of entries) {
      expect(byLine.get(e.line)).toBe(timestampNanos(e.timestamp));
    }
    expect(byLine.get(entries.find((e) => e.timestamp === '2026-11-26T20:34:43.999999999Z')!.line)).toBe('1795725283999999999');
    expect(byLine.get(entries.find((e) => e.timestamp === '2022-09-27T20:34:37.253080674Z')!.line)).toBe('1664310877253080674');
    expect(adjusted).toEqual({});
  });

  it('the fast path agrees with timestampNanos on every shape', () => {
    const cache = new SecondsCache();
    const samples = [
      '2026-11-26T20:34:37.000412877Z',
      '2026-11-26T20:34:37.5Z',
      '2026-11-26T20:34:37.123456789123Z',
      '2026-11-26T20:34:37Z',
      '2026-11-26T22:34:37.25+02:00',
      '2026-11-26t20:34:37.25z',
      '1970-01-01T00:00:00.5Z',
      '1970-01-01T00:00:01.000000001Z',
      '2026-02-30T00:00:00.1Z',
    ];
    for (let i = 0; i < 2000; i++) {
      const ms = 1_600_000_000_000 + Math.floor(Math.random() * 400_000_000_000);
      const frac = String(Math.floor(Math.random() * 1e9)).padStart(9, '0').slice(0, 1 + (i % 9));
      samples.push(`${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`);
    }
    for (const t of samples) expect(nanosOf(t, cache), t).toBe(timestampNanos(t)?.startsWith('-') ? undefined : timestampNanos(t));
  });

  it('an unparseable timestamp uses the receive time and is counted', () => {
    const parsed = parseFlyMessage('logs.web.ams.i1', Buffer.from(JSON.stringify({ fly: { app: { name: 'web', instance: 'i1' }, region: 'ams' }, message: 'm', timestamp: 'yesterday at noon' })), 1_795_725_300_123);
    if (parsed.kind !== 'entry') throw new Error('did not parse');
    const { doc, adjusted } = push([parsed.entry]);
    expect(doc.streams[0]!.values[0]![0]).toBe('1795725300123000000');
    expect(adjusted).toEqual({ timestamp_invalid: 1 });
  });
});

describe('Loki encoding: long lines', () => {
  const max = 4096;

  it('cuts the message of a too-long JSON line so it stays JSON and fits', () => {
    const message = `${'ab"\\\n'.repeat(2000)}tail`;
    const e = flyEntry({ message });
    const { doc, adjusted } = push([e, flyEntry({ message: 'short' })], { maxLineBytes: max });
    expect(adjusted).toEqual({ line_truncated: 1 });
    const lines = flatten(doc).map((s) => s.line);
    const long = lines.find((l) => l.includes('truncated'))!;
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(max);
    expect(Buffer.byteLength(long)).toBeGreaterThan(max - 64);
    const parsed = JSON.parse(long) as { message: string; logferry: { truncated: boolean }; fly: { app: { name: string } } };
    expect(parsed.logferry).toEqual({ truncated: true });
    expect(parsed.message.endsWith('…')).toBe(true);
    expect(message.startsWith(parsed.message.slice(0, -1))).toBe(true);
    expect(parsed.fly.app.name).toBe('web');
  });

  it('never splits a multi-byte character or a surrogate pair', () => {
    const message = '🚀é'.repeat(3000);
    const { doc } = push([flyEntry({ message })], { maxLineBytes: max });
    const line = doc.streams[0]!.values[0]![1];
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(max);
    const parsed = JSON.parse(line) as { message: string };
    expect(parsed.message.isWellFormed()).toBe(true);
    expect(message.startsWith(parsed.message.slice(0, -1))).toBe(true);
  });

  it('keeps an existing logferry marker and adds truncated', () => {
    const parsed = parseFlyMessage('logs.web.ams.i1', Buffer.from(`not json ${'x'.repeat(10_000)}`), SAMPLE_RECEIVED_AT_MS);
    if (parsed.kind !== 'entry') throw new Error('no entry');
    const { doc } = push([parsed.entry], { maxLineBytes: max });
    const out = JSON.parse(doc.streams[0]!.values[0]![1]) as { logferry: unknown };
    expect(out.logferry).toEqual({ malformed: 'invalid_json', truncated: true });
  });

  it('falls back to cutting the line when the rest of the entry alone is too long', () => {
    const body = { message: 'm', huge: 'z'.repeat(10_000) };
    const line = JSON.stringify(body);
    const cut = truncateJsonLine(body, line, max);
    expect(cut).toBe(line.slice(0, max));
  });

  it('cuts a raw message line at a character boundary, ending in …', () => {
    const { doc, adjusted } = push([flyEntry({ message: 'é'.repeat(5000) })], { maxLineBytes: max, lineFormat: 'message' });
    const line = doc.streams[0]!.values[0]![1];
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(max);
    expect(line).toMatch(/^é+…$/);
    expect(adjusted).toEqual({ line_truncated: 1 });
  });

  it('cutUtf8 backs off to a character start', () => {
    expect(cutUtf8('aé', 2)).toBe('a');
    expect(cutUtf8('a🚀', 4)).toBe('a');
    expect(cutUtf8('a🚀', 5)).toBe('a🚀');
    expect(cutUtf8('abc', 10)).toBe('abc');
  });

  it('leaves lines at the limit alone', () => {
    const e = flyEntry({ message: 'x'.repeat(1000) });
    expect(push([e], { maxLineBytes: e.bytes }).adjusted).toEqual({});
    expect(push([e], { maxLineBytes: e.bytes - 1 }).adjusted).toEqual({ line_truncated: 1 });
  });
});

describe('Loki encoding: the request body', () => {
  it('is gzip of the push JSON, the same bytes every time, with counts', async () => {
    const entries = sampleEntries();
    const a = await encodePush(entries, defaults);
    const b = await encodePush(entries, defaults);
    expect(Buffer.from(a.body).equals(Buffer.from(b.body))).toBe(true);
    expect(gunzipSync(a.body).toString('utf8')).toBe(buildPushBody(entries, defaults).json);
    expect(a.entryCount).toBe(entries.length);
    expect(a.adjusted).toBeUndefined();
    expect(a.dropped).toBeUndefined();
  });

  it('reports adjustments', async () => {
    const e = flyEntry({ message: 'x'.repeat(5000) });
    const encoded = await encodePush([e], { ...defaults, maxLineBytes: 2048 });
    expect(encoded.adjusted).toEqual({ line_truncated: 1 });
  });

  it('an empty batch is an empty streams list', () => {
    expect(buildPushBody([], defaults).json).toBe('{"streams":[]}');
  });
});

describe('Loki encoding: logfmt lines (LOKI_LINE_FORMAT=logfmt, OpsVerse)', () => {
  it("writes fly-log-shipper's OpsVerse line: level from log.level, a JSON message merged, keys flattened and sorted, no timestamp", () => {
    const body = {
      event: { provider: 'app' },
      fly: { app: { instance: 'i1', name: 'web' }, region: 'ams' },
      host: 'h1',
      log: { level: 'info' },
      message: '{"msg":"paid order","order_id":42,"ok":true,"tags":["a","b"]}',
      timestamp: '2026-11-26T20:34:37.000000001Z',
    };
    expect(logfmtLine(body)).toBe('event.provider=app fly.app.instance=i1 fly.app.name=web fly.region=ams host=h1 level=info log.level=info msg="paid order" ok=true order_id=42 tags[0]=a tags[1]=b');
    expect(logfmtLine({ ...body, message: 'say "hi" = \\ done\nnext' })).toContain('message="say \\"hi\\" = \\\\ done\\nnext"');
    expect(logfmtLine({ ...body, message: '' })).toContain('message=""');
  });

  it('every entry gets a logfmt line, in both push formats', () => {
    const entries = sampleEntries();
    const { doc } = push(entries, { lineFormat: 'logfmt' });
    const lines = flatten(doc).map((s) => s.line);
    expect(lines).toHaveLength(entries.length);
    expect(lines).toContain(logfmtLine(JSON.parse(entries[0]!.line) as Record<string, unknown>));
    for (const line of lines) expect(line).toMatch(/^[^ =]+=/);
  });
});
