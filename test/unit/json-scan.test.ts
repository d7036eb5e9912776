import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NOT_PLAIN, ABSENT, type ScanResult } from '../../src/codec/json-scan.js';
import { FIELD_APP_INSTANCE, FIELD_APP_NAME, FIELD_REGION, FIELD_TIMESTAMP, scanFlyJson } from '../../src/intake/entry.js';
import { makeFlyEntries, prng } from '../support/fly-entries.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const samples = readFileSync(new URL('../fixtures/fly-log-samples.ndjson', import.meta.url), 'utf8').split('\n').filter((l) => l !== '');

function scan(text: string | Uint8Array): { result: ScanResult; spans: Int32Array; bytes: Uint8Array } {
  const bytes = typeof text === 'string' ? enc.encode(text) : text;
  const spans = new Int32Array(8);
  const result: ScanResult = { valid: false, multiline: false, ambiguous: false, escaped: 0 };
  scanFlyJson(bytes, spans, result);
  return { result, spans, bytes };
}

function fieldOf(s: ReturnType<typeof scan>, which: number): string | number {
  const start = s.spans[which * 2]!;
  if (start < 0) return start;
  return dec.decode(s.bytes.subarray(start, s.spans[which * 2 + 1]));
}

/** What JSON.parse says: a JSON object, or not. */
function parsesAsObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

describe('scanFlyJson', () => {
  it('finds the routing fields of every sample and of generated entries', () => {
    const lines = [...samples, ...makeFlyEntries(500, { seed: 7 }).map((e) => e.payload)];
    for (const line of lines) {
      const body = JSON.parse(line);
      const s = scan(line);
      expect(s.result).toMatchObject({ valid: true, multiline: false, ambiguous: false });
      expect(fieldOf(s, FIELD_TIMESTAMP)).toBe(body.timestamp);
      expect(fieldOf(s, FIELD_APP_NAME)).toBe(body.fly.app.name);
      expect(fieldOf(s, FIELD_APP_INSTANCE)).toBe(body.fly.app.instance);
      expect(fieldOf(s, FIELD_REGION)).toBe(body.fly.region);
    }
  });

  it('takes fields only from their place in the tree', () => {
    const s = scan('{"message":"{\\"timestamp\\":\\"x\\"}","x":{"fly":{"region":"no"}},"fly":{"app":{"name":"a","meta":{"name":"no"}},"region":"r"},"timestamp":"t"}');
    expect(s.result.valid).toBe(true);
    expect(fieldOf(s, FIELD_APP_NAME)).toBe('a');
    expect(fieldOf(s, FIELD_REGION)).toBe('r');
    expect(fieldOf(s, FIELD_TIMESTAMP)).toBe('t');
    expect(fieldOf(s, FIELD_APP_INSTANCE)).toBe(ABSENT);
  });

  it('flags a wanted key twice, or a key with escapes on the path, and the intake then reads the line as JSON.parse does', async () => {
    const { parseFlyMessage } = await import('../../src/intake/entry.js');
    const routing = '"fly":{"app":{"name":"a","instance":"i"},"region":"r"},"timestamp":"2026-11-26T20:34:37Z"';
    const ambiguous = [
      `{${routing},"fly":{"app":{"name":"b","instance":"j"},"region":"s"}}`,
      `{${routing},"timestamp":"2026-11-26T20:34:38Z"}`,
      `{"fly":{"app":{"name":"a","instance":"i","name":"c"},"region":"r"},"timestamp":"2026-11-26T20:34:37Z"}`,
      `{${routing},"timest\\u0061mp":"2026-11-26T20:34:39Z"}`,
      `{"fly":{"app":{"name":"a","instance":"i"},"region":"r","\\u0061pp":{"name":"d","instance":"k"}},"timestamp":"2026-11-26T20:34:37Z"}`,
    ];
    for (const line of ambiguous) {
      expect(scan(line).result, line).toMatchObject({ valid: true, ambiguous: true });
      const parsed = parseFlyMessage('logs.x.y.z', enc.encode(line), 0);
      if (parsed.kind !== 'entry') throw new Error('no entry');
      const body = JSON.parse(line) as { timestamp: string; fly: { region: string; app: { name: string; instance: string } } };
      expect([parsed.entry.app, parsed.entry.instance, parsed.entry.region, parsed.entry.timestamp], line).toEqual([body.fly.app.name, body.fly.app.instance, body.fly.region, body.timestamp]);
    }
    // Escaped keys and repeats off the path do not matter.
    expect(scan(`{${routing},"x":{"a":1,"a":2,"\\u0061":3}}`).result).toMatchObject({ valid: true, ambiguous: false });
  });

  it('marks fields that are not plain strings', () => {
    const s = scan('{"timestamp":1,"fly":{"app":{"name":"a\\"b","instance":null},"region":["r"]}}');
    expect(s.result.valid).toBe(true);
    for (const f of [FIELD_TIMESTAMP, FIELD_APP_NAME, FIELD_APP_INSTANCE, FIELD_REGION]) expect(fieldOf(s, f)).toBe(NOT_PLAIN);
  });

  it('notices pretty-printed JSON', () => {
    expect(scan('{\n "a": 1\n}').result).toMatchObject({ valid: true, multiline: true });
    expect(scan('{"a": "x\\ny"}').result).toMatchObject({ valid: true, multiline: false, ambiguous: false });
  });

  it('accepts exactly what JSON.parse accepts as an object', () => {
    const cases = [
      '{}', '{"a":[]}', '{"a":[1,2.5,-3e10,0,1E+2,-0.0]}', '{"a":{"b":{"c":[{"d":null}]}}}', ' {"a" : true , "b":false} ',
      '{"u":"\\u00e9\\ud83d\\ude80"}', '{"e":"\\/\\b\\f\\n\\r\\t\\\\"}',
      '', '{', '}', '{"a"}', '{"a":}', '{"a":1,}', '{,}', '{"a":1}}', '{"a":1} x', '[1]', '"s"', '1', 'null',
      '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":-}', '{"a":1e}', '{"a":tru}', '{"a":nul}', '{"a":"\\x"}', '{"a":"\\u12g4"}',
      '{"a":"tab\there"}', '{"a" 1}', "{'a':1}", '{"a":[1,]}', '{"a":[,1]}', '{"a":[1 2]}', '{"a":1 "b":2}', '{"a":{"b":1]}',
      '{"a":[}', '{"a":"unterminated}', '{} {}', '{"a":NaN}', '{"a":Infinity}', '{"a":+1}',
    ];
    for (const text of cases) expect(scan(text).result.valid, text).toBe(parsesAsObject(text));
  });

  it('agrees with JSON.parse on thousands of mutated Fly entries', () => {
    const random = prng(42);
    const seeds = makeFlyEntries(200, { seed: 9 }).map((e) => enc.encode(e.payload));
    const interesting = enc.encode('{}[]",:\\0123456789-+.eEtrufalsn \n');
    let invalid = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = Uint8Array.from(seeds[i % seeds.length]!);
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) bytes[Math.floor(random() * bytes.length)] = interesting[Math.floor(random() * interesting.length)]!;
      const text = dec.decode(bytes);
      // A mutation can cut a multi-byte character: the scan also checks UTF-8.
      const expected = isUtf8(bytes) && parsesAsObject(text);
      if (!expected) invalid++;
      expect(scan(bytes).result.valid, text).toBe(expected);
    }
    // The mutations must actually produce both kinds, or this test proves little.
    expect(invalid).toBeGreaterThan(2000);
    expect(invalid).toBeLessThan(19_000);
  });

  it('agrees with JSON.parse at every alignment inside a larger buffer, whatever surrounds the range', () => {
    // Strings are checked a 32-bit word at a time where aligned: every byte class must be
    // caught in every position of a word, and nothing past the range may be read as its own.
    const random = prng(7);
    const seeds = makeFlyEntries(100, { seed: 11 }).map((e) => enc.encode(e.payload));
    const special = [0x22, 0x5c, 0x00, 0x01, 0x09, 0x0a, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xbf, 0xc3, 0xe2, 0xf0, 0xff];
    const arena = new ArrayBuffer(64 * 1024);
    const spans = new Int32Array(8);
    const result: ScanResult = { valid: false, multiline: false, ambiguous: false, escaped: 0 };
    let invalid = 0;
    for (let i = 0; i < 8000; i++) {
      const bytes = Uint8Array.from(seeds[i % seeds.length]!);
      if (i % 4 !== 0) bytes[Math.floor(random() * bytes.length)] = special[Math.floor(random() * special.length)]!;
      const expected = isUtf8(bytes) && parsesAsObject(dec.decode(bytes));
      if (!expected) invalid++;
      // A view that starts at an odd place in its ArrayBuffer, and a range at an odd place in the view.
      const viewOffset = i % 4;
      const start = 3 + (i >> 2) % 5;
      const view = Buffer.from(arena, viewOffset, start + bytes.length + 8);
      // Around the range: what would end a string or close the object early if it were read.
      view.fill(0x22, 0, start);
      view.set(bytes, start);
      view.fill(i % 2 === 0 ? 0x22 : 0x7d, start + bytes.length);
      scanFlyJson(view, spans, result, start, start + bytes.length);
      expect(result.valid, dec.decode(bytes)).toBe(expected);
      if (expected) {
        const whole = scan(bytes);
        for (let k = 0; k < 8; k++) expect(spans[k]! >= 0 ? spans[k]! - start : spans[k]).toBe(whole.spans[k]);
      }
    }
    expect(invalid).toBeGreaterThan(2000);
    expect(invalid).toBeLessThan(6000);
  });

  it('checks UTF-8 inside strings like isUtf8 does, on every kind of bad sequence', () => {
    const good = ['é', '日本', '🚀', '\u{10FFFF}', '\u{FFFF}', '\u{80}', '\u{7FF}', '\u{800}', '\u{D7FF}', '\u{E000}', '\u{10000}'];
    for (const ch of good) expect(scan(`{"m":"a${ch}b"}`).result.valid, ch).toBe(true);
    const bad: number[][] = [
      [0x80], // stray continuation
      [0xc0, 0xaf], // overlong 2-byte
      [0xc1, 0xbf],
      [0xe0, 0x80, 0xaf], // overlong 3-byte
      [0xed, 0xa0, 0x80], // UTF-16 surrogate
      [0xf0, 0x80, 0x80, 0xaf], // overlong 4-byte
      [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
      [0xf5, 0x80, 0x80, 0x80],
      [0xff],
      [0xc3], // truncated before the closing quote
      [0xe6, 0x97], // truncated 3-byte
      [0xf0, 0x9f, 0x9a], // truncated 4-byte
    ];
    for (const seq of bad) {
      const bytes = Uint8Array.from([...enc.encode('{"m":"a'), ...seq, ...enc.encode('"}')]);
      expect(isUtf8(bytes), seq.join(',')).toBe(false);
      expect(scan(bytes).result.valid, seq.join(',')).toBe(false);
    }
    // Outside strings, any byte ≥ 0x80 is not JSON.
    expect(scan(Uint8Array.from([...enc.encode('{"m":1'), 0xc3, 0xa9, ...enc.encode('}')])).result.valid).toBe(false);
  });

  it('scans a range of a larger buffer, with spans as offsets into it', () => {
    const line = samples[0]!;
    const buf = Buffer.from(`MSG logs.a.b.c 1 ${Buffer.byteLength(line)}\r\n${line}\r\nMSG`);
    const start = buf.indexOf('\r\n') + 2;
    const end = start + Buffer.byteLength(line);
    const spans = new Int32Array(8);
    const result: ScanResult = { valid: false, multiline: false, ambiguous: false, escaped: 0 };
    scanFlyJson(buf, spans, result, start, end);
    expect(result.valid).toBe(true);
    const whole = scan(line);
    for (let k = 0; k < 8; k++) expect(spans[k]! >= 0 ? spans[k]! - start : spans[k]).toBe(whole.spans[k]);
    // The bytes around the range are not part of it: a range that stops one byte short is invalid.
    scanFlyJson(buf, spans, result, start, end - 1);
    expect(result.valid).toBe(false);
  });

  it('hands very deep nesting to the slow path instead of overflowing', () => {
    const deep = `{"a":${'['.repeat(500)}${']'.repeat(500)}}`;
    expect(parsesAsObject(deep)).toBe(true);
    expect(scan(deep).result.valid).toBe(false);
  });
});
