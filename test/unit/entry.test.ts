import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EntryView, FIELD_MESSAGE, FLY_FIELD_SLOTS, entryLevel, intake, messageFields, ownString, parseBody, parseFlyMessage, parseSubject, scanAllFlyFieldsAtIntake, timestampNanos, utcDateHour, type LogEntry } from '../../src/intake/entry.js';
import { generatedLines } from '../support/loki-variants.js';

const enc = new TextEncoder();
const samples = readFileSync(new URL('../fixtures/fly-log-samples.ndjson', import.meta.url), 'utf8').split('\n').filter((l) => l !== '');

function parse(subject: string, payload: string | Uint8Array): ReturnType<typeof parseFlyMessage> {
  return parseFlyMessage(subject, typeof payload === 'string' ? enc.encode(payload) : payload, Date.parse('2026-11-26T12:00:00Z'));
}

function entryOf(result: ReturnType<typeof parseFlyMessage>): LogEntry {
  if (result.kind !== 'entry') throw new Error(`expected an entry, got ${result.kind}`);
  return result.entry;
}

describe('parseFlyMessage', () => {
  it('keeps every sample line byte-identical and reads the routing fields', () => {
    expect(samples.length).toBeGreaterThanOrEqual(10);
    for (const line of samples) {
      const body = JSON.parse(line);
      const entry = entryOf(parse(`logs.${body.fly.app.name}.${body.fly.region}.${body.fly.app.instance}`, line));
      expect(entry.line).toBe(line);
      expect(entry.bytes).toBe(Buffer.byteLength(line));
      expect(entry.app).toBe(body.fly.app.name);
      expect(entry.region).toBe(body.fly.region);
      expect(entry.instance).toBe(body.fly.app.instance);
      expect(entry.timestamp).toBe(body.timestamp);
    }
  });

  it('takes app, region and instance from the subject when the body lacks them', () => {
    const entry = entryOf(parse('logs.shop.ams.abc123', '{"message":"hi","timestamp":"2026-11-26T20:34:37.253080674Z"}'));
    expect(entry).toMatchObject({ app: 'shop', region: 'ams', instance: 'abc123' });
    expect(JSON.parse(entry.line)).toEqual({
      message: 'hi',
      timestamp: '2026-11-26T20:34:37.253080674Z',
      fly: { app: { name: 'shop', instance: 'abc123' }, region: 'ams' },
    });
  });

  it('keeps unknown fields', () => {
    const line = '{"fly":{"app":{"name":"a","instance":"i"},"region":"r"},"message":"m","timestamp":"2026-11-26T20:34:37Z","extra":{"deep":[1,2]}}';
    expect(entryOf(parse('logs.a.r.i', line)).line).toBe(line);
  });

  it('re-serialises pretty-printed JSON onto one line', () => {
    const entry = entryOf(parse('logs.a.r.i', '{\n "message": "m",\n "timestamp": "2026-11-26T20:34:37Z", "fly":{"app":{"name":"a","instance":"i"},"region":"r"}\n}'));
    expect(entry.line).not.toMatch(/\n/);
    expect(JSON.parse(entry.line).message).toBe('m');
  });

  it('wraps invalid JSON with its raw text, flagged', () => {
    const r = parse('logs.a.r.i', 'not json {');
    expect(r.kind === 'entry' && r.malformed).toBe('invalid_json');
    const body = JSON.parse(entryOf(r).line);
    expect(body.message).toBe('not json {');
    expect(body.logferry.malformed).toBe('invalid_json');
    expect(body.fly.app.name).toBe('a');
  });

  it('wraps JSON that is not an object', () => {
    for (const payload of ['[1,2]', '"str"', '42', 'null']) {
      const r = parse('logs.a.r.i', payload);
      expect(r.kind === 'entry' && r.malformed).toBe('not_an_object');
      expect(JSON.parse(entryOf(r).line).message).toBe(payload);
    }
  });

  it('keeps non-UTF-8 bytes as base64 next to a lossy text', () => {
    const bytes = new Uint8Array([0x66, 0x6f, 0xff, 0xfe, 0x6f]);
    const r = parse('logs.a.r.i', bytes);
    expect(r.kind === 'entry' && r.malformed).toBe('invalid_utf8');
    const body = JSON.parse(entryOf(r).line);
    expect(Buffer.from(body.logferry.raw_base64, 'base64')).toEqual(Buffer.from(bytes));
  });

  it('drops an empty payload with a reason', () => {
    expect(parse('logs.a.r.i', '')).toEqual({ kind: 'dropped', reason: 'empty_payload' });
  });

  it('handles a payload near the 1 MiB NATS limit', () => {
    const message = 'x'.repeat(1024 * 1024 - 200);
    const line = JSON.stringify({ message, timestamp: '2026-11-26T20:34:37Z', fly: { app: { name: 'a', instance: 'i' }, region: 'r' } });
    expect(entryOf(parse('logs.a.r.i', line)).bytes).toBe(line.length);
  });
});

describe('subjects', () => {
  it('splits logs.<app>.<region>.<instance>', () => {
    expect(parseSubject('logs.my-app.sjc.0e286551c30586')).toEqual({ app: 'my-app', region: 'sjc', instance: '0e286551c30586' });
    expect(parseSubject('other.thing')).toEqual({ app: '', region: '', instance: '' });
    // Long parts (kept as strings of their own), dotted instances, and the same app twice.
    expect(parseSubject('logs.terrateam-app-production.iad.a.b')).toEqual({ app: 'terrateam-app-production', region: 'iad', instance: 'a.b' });
    expect(parseSubject('logs.terrateam-app-production.ams.c').app).toBe('terrateam-app-production');
  });

  it('keeps a bounded cache that forgets the least recently seen subjects, not the busy ones', () => {
    const busy = parseSubject('logs.busy-app.ams.0001');
    // 120,000 distinct subjects (an instance id per message, say): more than the cache holds.
    for (let i = 0; i < 120_000; i++) {
      expect(parseSubject(`logs.sprayer.fra.${i}`).instance).toBe(String(i));
      // The busy subject is seen all along: still the very same parts.
      if (i % 1000 === 0) expect(parseSubject('logs.busy-app.ams.0001')).toBe(busy);
    }
    expect(parseSubject('logs.busy-app.ams.0001')).toBe(busy);
    expect(parseSubject('logs.sprayer.fra.7')).toEqual({ app: 'sprayer', region: 'fra', instance: '7' });
  });
});

describe('ownString', () => {
  it('gives the same text, whatever it holds', () => {
    for (const text of ['', 'plain', '2026-11-26T20', 'ünïcödé 日本 🚀', 'lone \ud800 surrogate', 'x'.repeat(5000)]) expect(ownString(text)).toBe(text);
  });
});

describe('JSON in message and levels', () => {
  it("uses the app's own JSON level over Fly's log.level", () => {
    const body = parseBody(entryOf(parse('logs.shop-api.ams.x', samples[2]!)));
    expect(messageFields(body)).toMatchObject({ level: 'error', order_id: 48211 });
    expect(entryLevel(body)).toBe('error');
  });

  it('maps pino numeric levels', () => {
    expect(entryLevel({ message: '{"level":30,"msg":"x"}', log: { level: 'info' } })).toBe('info');
    expect(entryLevel({ message: '{"level":50}', log: { level: 'info' } })).toBe('error');
  });

  it("falls back to log.level for plain messages and messages that only look like JSON", () => {
    expect(entryLevel({ message: 'plain', log: { level: 'WARN' } })).toBe('warn');
    expect(entryLevel({ message: '{not json', log: { level: 'error' } })).toBe('error');
    expect(entryLevel({ message: '' })).toBe('unknown');
  });
});

describe('timestamps', () => {
  it('keeps nanosecond precision', () => {
    expect(timestampNanos('2026-11-26T20:34:37.253080674Z')).toBe('1795725277253080674');
    expect(timestampNanos('1970-01-01T00:00:00.000000001Z')).toBe('1');
    expect(timestampNanos('2026-11-26T20:34:37Z')).toBe('1795725277000000000');
    expect(timestampNanos('2026-11-26T21:34:37.5+01:00')).toBe('1795725277500000000');
    expect(timestampNanos('yesterday')).toBeUndefined();
  });

  it('gives UTC date and hour', () => {
    expect(utcDateHour('2026-11-26T20:34:37.253080674Z', 0)).toEqual({ date: '2026-11-26', hour: '20' });
    expect(utcDateHour('2026-11-27T00:30:00+01:00', 0)).toEqual({ date: '2026-11-26', hour: '23' });
    expect(utcDateHour('garbage', Date.parse('2026-01-02T03:04:05Z'))).toEqual({ date: '2026-01-02', hour: '03' });
  });
});

describe('intake and EntryView', () => {
  const line = '{"fly":{"app":{"instance":"i1","name":"web"},"region":"ams"},"message":"ünï","timestamp":"2026-11-26T20:00:00.1Z"}';

  it('scans in place: the view points into the buffer, fields decoded only when read, subject strings reused', () => {
    const buf = Buffer.from(`MSG x 1 9\r\n${line}\r\n`);
    const start = buf.indexOf('{');
    const end = start + Buffer.byteLength(line);
    const subject = parseSubject('logs.web.ams.i1');
    const view = new EntryView();
    expect(intake(subject, buf, start, end, 5, view)).toBe('entry');
    expect(view.buf).toBe(buf);
    expect([view.start, view.end, view.bytes]).toEqual([start, end, Buffer.byteLength(line)]);
    // The very strings of the subject: nothing decoded, nothing allocated.
    expect(view.app).toBe(subject.app);
    expect(view.region).toBe(subject.region);
    expect(view.instance).toBe(subject.instance);
    expect(view.timestamp).toBe('2026-11-26T20:00:00.1Z');
    expect(view.line).toBe(line);
    expect(view.toEntry()).toEqual({ line, bytes: Buffer.byteLength(line), app: 'web', region: 'ams', instance: 'i1', timestamp: '2026-11-26T20:00:00.1Z', receivedAtMs: 5 });
  });

  it('reads a line more than 2 GiB into its buffer the slow way, and right', () => {
    // The scanner's offsets are int32. Only the pages written are touched: address space, not memory.
    const big = Buffer.allocUnsafeSlow(2 ** 31 + 64 * 1024);
    const bytes = Buffer.from(line);
    for (const at of [2 ** 31 - 40, 2 ** 31 + 1001]) {
      bytes.copy(big, at);
      const view = new EntryView();
      expect(intake(parseSubject('logs.web.ams.i1'), big, at, at + bytes.length, 5, view)).toBe('entry');
      expect(view.toEntry()).toEqual({ line, bytes: bytes.length, app: 'web', region: 'ams', instance: 'i1', timestamp: '2026-11-26T20:00:00.1Z', receivedAtMs: 5 });
    }
    // Well inside 2 GiB the same buffer is scanned in place.
    bytes.copy(big, 4096);
    const view = new EntryView();
    expect(intake(parseSubject('logs.web.ams.i1'), big, 4096, 4096 + bytes.length, 5, view)).toBe('entry');
    expect(view.buf).toBe(big);
  });

  it('fields that differ from the subject (or are not ASCII) are decoded from the body', () => {
    const other = line.replace('"name":"web"', '"name":"wéb"').replace('"region":"ams"', '"region":"fra"');
    const buf = Buffer.from(other);
    const view = new EntryView();
    expect(intake(parseSubject('logs.web.ams.i1'), buf, 0, buf.length, 0, view)).toBe('entry');
    expect([view.app, view.region, view.instance]).toEqual(['wéb', 'fra', 'i1']);
    // A latin1-decoded subject with the same bytes is not the same text: decoded as UTF-8.
    const latin = Buffer.from('wéb', 'utf8').toString('latin1');
    const again = new EntryView();
    intake({ app: latin, region: 'fra', instance: 'i1' }, buf, 0, buf.length, 0, again);
    expect(again.app).toBe('wéb');
  });

  it('the view is reset for every message', () => {
    const view = new EntryView();
    const a = Buffer.from(line);
    intake(parseSubject('logs.web.ams.i1'), a, 0, a.length, 0, view);
    expect(view.app).toBe('web');
    const b = Buffer.from(line.replace('"name":"web"', '"name":"api"'));
    intake(parseSubject('logs.api.ams.i1'), b, 0, b.length, 0, view);
    expect(view.app).toBe('api');
    expect(view.line).toContain('"api"');
    expect(intake(parseSubject('logs.api.ams.i1'), Buffer.from('nope'), 0, 4, 7, view)).toBe('invalid_json');
    expect(view.toEntry()).toMatchObject({ app: 'api', region: 'ams', instance: 'i1', receivedAtMs: 7 });
    expect(JSON.parse(view.line)).toMatchObject({ message: 'nope', logferry: { malformed: 'invalid_json' } });
    expect(intake(parseSubject('logs.api.ams.i1'), b, 3, 3, 0, view)).toBe('empty_payload');
  });
});

describe('intake scanning every Fly field (a sink reads them)', () => {
  it('takes the same entries as the routing-only scan, byte for byte, and gives their spans', () => {
    const payloads = [...samples, ...generatedLines(4, 800), '', '{"broken', '[1]'].map((p) => Buffer.from(p, 'utf8'));
    const subject = parseSubject('logs.app.ord.i1');
    const run = (all: boolean): Array<[string, string, string, string]> => {
      scanAllFlyFieldsAtIntake(all);
      try {
        const view = new EntryView();
        return payloads.map((p) => {
          const outcome = intake(subject, p, 0, p.length, 1, view);
          return [outcome, outcome === 'empty_payload' ? '' : view.line, view.app, view.timestamp];
        });
      } finally {
        scanAllFlyFieldsAtIntake(false);
      }
    };
    expect(run(true)).toEqual(run(false));
    scanAllFlyFieldsAtIntake(true);
    try {
      const view = new EntryView();
      const line = Buffer.from(`xx${JSON.stringify({ timestamp: '2026-11-26T00:00:00Z', message: 'a \\"b\\"', fly: { app: { name: 'a', instance: 'i' }, region: 'r' } })}`);
      expect(intake(subject, line, 2, line.length, 1, view)).toBe('entry');
      const spans = view.allFieldSpans!;
      expect(spans).toHaveLength(FLY_FIELD_SLOTS * 2);
      // Offsets into the buffer the message came in; the message has escapes and keeps its span.
      expect(line.toString('utf8', spans[FIELD_MESSAGE * 2]!, spans[FIELD_MESSAGE * 2 + 1]!)).toBe('a \\\\\\"b\\\\\\"');
      expect(view.escapedFields & (1 << FIELD_MESSAGE)).not.toBe(0);
      // An entry the slow path made has none.
      const pretty = Buffer.from(JSON.stringify({ timestamp: '2026-11-26T00:00:00Z', fly: { app: { name: 'a', instance: 'i' }, region: 'r' } }, null, 2));
      expect(intake(subject, pretty, 0, pretty.length, 1, view)).toBe('entry');
      expect(view.allFieldSpans).toBeUndefined();
    } finally {
      scanAllFlyFieldsAtIntake(false);
    }
  });
});
