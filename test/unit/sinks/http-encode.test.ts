import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import type { LogEntry } from '../../../src/intake/entry.js';
import { batchLines, makeBatch as batchOf } from '../../../src/pipeline/batch.js';
import { gzip } from '../../../src/codec/compress.js';
import { jsonArrayBody as jsonArrayOf, ndjsonBody as ndjsonOf } from '../../../sinks/http/encode.js';
import { readHttpSinkConfig } from '../../../sinks/http/config.js';
import { HttpSink } from '../../../sinks/http/sink.js';
import { makeBatch, sampleEntries } from '../../support/sink-contract.js';

function entry(line: string, bytes = Buffer.byteLength(line)): LogEntry {
  return { line, bytes, app: 'a', region: 'r', instance: 'i', timestamp: '2026-11-26T20:34:37.000000000Z', receivedAtMs: 0 };
}

function ndjsonBody(entries: readonly LogEntry[]): Buffer {
  return ndjsonOf(batchOf(1, '', entries));
}

function jsonArrayBody(entries: readonly LogEntry[]): Buffer {
  return jsonArrayOf(batchOf(1, '', entries));
}

describe('body encoding', () => {
  const lines = ['{"a":1}', '{"m":"ünïcødé 🚀 \\n"}', '{}'];
  const entries = lines.map((l) => entry(l));

  test('ndjson: each line then a newline', () => {
    expect(ndjsonBody(entries).toString('utf8')).toBe(`${lines.join('\n')}\n`);
    expect(ndjsonBody([]).length).toBe(0);
    expect(ndjsonBody([entries[0]!]).toString('utf8')).toBe('{"a":1}\n');
  });

  test('json: the lines as an array, no re-serialisation', () => {
    expect(jsonArrayBody(entries).toString('utf8')).toBe(`[${lines.join(',')}]`);
    expect(JSON.parse(jsonArrayBody(entries).toString('utf8'))).toEqual(lines.map((l) => JSON.parse(l)));
    expect(jsonArrayBody([]).toString('utf8')).toBe('[]');
    expect(jsonArrayBody([entries[0]!]).toString('utf8')).toBe('[{"a":1}]');
  });

  test('an entry with a wrong byte count still encodes exactly', () => {
    const tooSmall = [entry('{"x":"é"}', 5), entry('{"y":"🚀"}', 3)];
    const tooLarge = [entry('{"x":1}', 40), entry('{"y":2}')];
    // Off by a single multi-byte character at the very end: must not truncate silently.
    const lastShort = [entry('{"a":1}'), entry('{"b":"éé"}', Buffer.byteLength('{"b":"éé"}') - 1)];
    for (const list of [tooSmall, tooLarge, lastShort]) {
      expect(ndjsonBody(list).toString('utf8')).toBe(`${list.map((e) => e.line).join('\n')}\n`);
      expect(jsonArrayBody(list).toString('utf8')).toBe(`[${list.map((e) => e.line).join(',')}]`);
    }
  });

  test('gzip is one deterministic member', async () => {
    const plain = ndjsonBody(entries);
    const a = await gzip(plain, 6);
    const b = await gzip(plain, 6);
    expect(a.equals(b)).toBe(true);
    expect(a[0]).toBe(0x1f);
    expect(a[1]).toBe(0x8b);
    expect(gunzipSync(a).equals(plain)).toBe(true);
  });
});

describe('HttpSink.encode', () => {
  const sinks: HttpSink[] = [];
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
  });
  function sink(env: Record<string, string>): HttpSink {
    const s = new HttpSink(readHttpSinkConfig(new EnvReader({ HTTP_URL: 'http://127.0.0.1:9/x', ...env }))!);
    sinks.push(s);
    return s;
  }

  test('counts entries and compresses when asked', async () => {
    const batch = makeBatch(sampleEntries());
    const plain = await sink({}).encode(batch);
    expect(plain.entryCount).toBe(batch.count);
    expect(Buffer.from(plain.body).toString('utf8')).toBe(`${batchLines(batch).join('\n')}\n`);
    const zipped = await sink({ HTTP_COMPRESSION: 'gzip', HTTP_FORMAT: 'json' }).encode(batch);
    expect(zipped.entryCount).toBe(batch.count);
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(`[${batchLines(batch).join(',')}]`);
    expect(zipped.body.length).toBeLessThan(plain.body.length);
  });

  test('send with an aborted signal rejects with the signal reason before any I/O', async () => {
    const s = sink({});
    const batch = makeBatch(sampleEntries());
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(s.send(await s.encode(batch), batch, controller.signal)).rejects.toBe(reason);
  });

  test('close is idempotent', async () => {
    const s = sink({});
    await s.close();
    await s.close();
  });
});
