// Timestamps in Fly's own form are kept as text and compared as text within a stream; every
// other form as nanoseconds. Either way each stream's values must come out in time order
// with exact nanosecond strings.
import { describe, expect, it } from 'vitest';
import { parseFlyMessage, timestampNanos, type LogEntry } from '../../../src/intake/entry.js';
import { buildPushBody } from '../../support/loki-variants.js';

function entry(timestamp: string, message: string): LogEntry {
  const body = { fly: { app: { instance: 'i1', name: 'web' }, region: 'ams' }, log: { level: 'info' }, message, timestamp };
  const parsed = parseFlyMessage('logs.web.ams.i1', Buffer.from(JSON.stringify(body)), 1_795_000_000_000);
  if (parsed.kind !== 'entry') throw new Error('did not parse');
  return parsed.entry;
}

function values(entries: readonly LogEntry[]): Array<[string, string]> {
  const o = { labels: ['fly_app_name'] as const, staticLabels: [], structuredMetadata: [], lineFormat: 'json' as const, maxLineBytes: 256 * 1024 };
  const doc = JSON.parse(buildPushBody(entries, o).json) as { streams: Array<{ values: Array<[string, string]> }> };
  expect(doc.streams).toHaveLength(1);
  return doc.streams[0]!.values.map(([ts, line]) => [ts, (JSON.parse(line) as { message: string }).message]);
}

describe('Loki stream order', () => {
  it('orders Fly-form, shorter-fraction, offset and rolled-over timestamps by their nanoseconds', () => {
    const stamps = [
      '2026-11-26T20:34:37.5Z',
      '2026-11-26T20:34:37.400000000Z',
      '2026-11-26T20:34:37.45Z',
      '2026-11-26T21:34:36.999999999+01:00',
      '2026-11-26t20:34:37.300000000Z',
      '2026-02-31T00:00:00.100000000Z', // rolls over to 2026-03-03
      '2026-03-02T00:00:00.100000000Z',
      '2026-11-26T24:00:00.000000000Z', // rolls over to the 27th
      '2026-11-26T23:59:59.999999999Z',
      '2026-11-26T20:34:37.500000000Z',
    ];
    const sent = values(stamps.map((t, i) => entry(t, `m${i}`)));
    const expected = stamps
      .map((t, i) => ({ ns: BigInt(timestampNanos(t)!), i }))
      .sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.i - b.i))
      .map(({ ns, i }) => [ns.toString(), `m${i}`]);
    expect(sent).toEqual(expected);
  });

  it('keeps arrival order when Fly-form timestamps arrive in order, across seconds', () => {
    const stamps: string[] = [];
    for (let s = 0; s < 3; s++) for (let f = 0; f < 4; f++) stamps.push(`2026-11-26T20:34:3${s}.00000000${f}Z`);
    stamps.push('2026-11-26T20:34:32.000000003Z');
    const sent = values(stamps.map((t, i) => entry(t, `m${i}`)));
    expect(sent.map(([, m]) => m)).toEqual(stamps.map((_, i) => `m${i}`));
    expect(sent.map(([ts]) => ts)).toEqual(stamps.map((t) => timestampNanos(t)));
  });

  it('sorts a stream that arrives out of order, stable for equal timestamps', () => {
    const stamps = ['2026-11-26T20:34:38.000000001Z', '2026-11-26T20:34:37.9Z', '2026-11-26T20:34:37.900000000Z', '2026-11-26T20:34:36.000000001Z'];
    const sent = values(stamps.map((t, i) => entry(t, `m${i}`)));
    expect(sent.map(([, m]) => m)).toEqual(['m3', 'm1', 'm2', 'm0']);
  });

  it('notices a pair out of order that text order would miss', () => {
    const pairs: Array<[string, string]> = [
      ['2026-11-26T20:34:37.000000002Z', '2026-11-26T20:34:37.000000001Z'],
      ['2026-11-26T20:34:38.000000000Z', '2026-11-26T20:34:37.999999999Z'],
      // Text order says these are in order; their times say otherwise.
      ['2026-02-31T00:00:00.100000000Z', '2026-03-02T00:00:00.100000000Z'],
      ['2026-11-26T24:00:00.500000000Z', '2026-11-27T00:00:00.100000000Z'],
      ['2026-11-26T21:00:00.000000000Z', '2026-11-26t20:00:00.000000000Z'],
    ];
    for (const [a, b] of pairs) {
      const sent = values([entry(a, 'first'), entry(b, 'second')]);
      expect(sent, `${a} then ${b}`).toEqual([
        [timestampNanos(b), 'second'],
        [timestampNanos(a), 'first'],
      ]);
    }
  });
});
