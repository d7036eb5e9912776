// The Loki encoder reads host, event.provider, the level and the message with the byte scan
// instead of JSON.parse. Whatever it reads must be what the parsed body gives; what it cannot
// read exactly it must leave to JSON.parse: either way the push is the same bytes.
import { describe, expect, it } from 'vitest';
import { entryLevel, parseBody, parseFlyMessage, type FlyLogBody } from '../../../src/intake/entry.js';
import { DEFAULT_LABELS } from '../../../sinks/loki/config.js';
import { batchFromLines } from '../../../src/pipeline/batch.js';
import { buildPush } from '../../../sinks/loki/encode.js';
import { METADATA_FIELDS } from '../../../sinks/loki/config.js';
import { buildPushBody, defaults } from '../../support/loki-variants.js';
import { loadSampleLines, makeFlyEntries } from '../../support/fly-entries.js';

/** The line's push is the same bytes through the scan and through JSON.parse, under options that read every field. */
function agrees(line: string): void {
  const withRouting = line.includes('"fly"') ? line : line.replace(/^\s*\{/, '{"fly":{"app":{"name":"web","instance":"i1"},"region":"ams"},"timestamp":"2026-11-26T20:34:37Z",').replace(',}', '}');
  for (const o of [defaults, { ...defaults, lineFormat: 'message' as const }, { ...defaults, labels: ['fly_app_name' as const], structuredMetadata: METADATA_FIELDS }]) {
    const batch = batchFromLines(1, 'p', [withRouting], 1_795_000_000_000);
    const scanned = buildPush(batch, o).body.toString('utf8');
    const parsed = buildPush(batch, o, 'json', true).body.toString('utf8');
    expect(scanned, withRouting).toBe(parsed);
  }
}

const fly = (rest: string): string =>
  `{"event":{"provider":"app"},"fly":{"app":{"instance":"i1","name":"web"},"region":"ams"},"host":"h1","log":{"level":"info"},${rest}"timestamp":"2026-11-26T20:34:37.000000001Z"}`;

describe('Loki line scan', () => {
  it('reads every real Fly sample and generated entry exactly as the parse does', () => {
    const lines = [...loadSampleLines(), ...makeFlyEntries(3000, { seed: 7 }).map((e) => e.payload)];
    for (const line of lines) agrees(line);
  });

  it('handles escapes, nesting, whitespace and other values around the fields it reads', () => {
    const scanned = [
      fly('"message":"say \\"hi\\" \\\\",'),
      fly('"message":"ends in a backslash \\\\\\\\",'),
      fly('"message":"{\\"level\\":\\"WARN\\",\\"host\\":\\"not-this\\"}",'),
      fly('"message":"\\u007b\\"severity\\":\\"Error\\"}",'),
      fly('"message":"{\\"lvl\\":50}",'),
      fly('"message":"{not json",'),
      fly('"message":"emoji 👩‍💻 and \\ud83d\\ude00",'),
      fly('"message":"",'),
      fly('"extra":[{"host":"}]\\"{"},[1,2,{"a":[]}],"x"],"n":-1.5e3,"t":true,"f":false,"z":null,"message":"m",'),
      ' { "host" : "spaced" , "event" : { "provider" : "proxy" } , "log" : { "level" : "DEBUG" } , "message" : "m" } ',
      '{\t"host":"tab",\r\n"message":"x"}',
      '{"host":"first","host":"second","message":"a","message":"b"}',
      '{"event":{"provider":"a"},"event":{},"log":{"level":"error"},"log":{"other":1}}',
      '{"event":{"provider":"a","provider":"b"},"log":{"level":"x","level":"y"}}',
      '{"host":"h\\u00e9\\n","event":{"provider":"pr\\"ov"},"log":{"level":"IN\\u0046O"}}',
      '{}',
      '{"fly":{"host":"nested","app":{"host":"deeper"}},"message":"m"}',
      '{"log":{},"event":{"x":{"provider":"nested"}}}',
      `{"message":"${'long \\"quoted\\" text '.repeat(200)}","host":"after"}`,
      '{"host_name":"x","hosts":"y","logs":{"level":"z"},"messages":"w","message":"m"}',
    ];
    for (const line of scanned) agrees(line);

    // Shapes the scan leaves to the parse: wanted fields that are not strings, escaped keys.
    const declined = [
      '{"host":42,"message":"m"}',
      '{"host":null}',
      '{"message":{"level":"error"}}',
      '{"message":null}',
      '{"log":{"level":30}}',
      '{"log":null}',
      '{"event":"app"}',
      '{"ho\\u0073t":"escaped key"}',
      '{"log":{"lev\\u0065l":"error"}}',
    ];
    for (const line of declined) agrees(line);
  });

  it('the push body is the same whether a line was scanned or parsed', () => {
    const lines = [
      fly('"message":"{\\"level\\":\\"warning\\"}",'),
      '{"host":42,"fly":{"app":{"name":"web","instance":"i1"},"region":"ams"},"log":{"level":"info"},"message":"m","timestamp":"2026-11-26T20:34:37.5Z"}',
      '{"ho\\u0073t":"h9","fly":{"app":{"name":"web","instance":"i1"},"region":"ams"},"message":"m","timestamp":"2026-11-26T20:34:38Z"}',
    ];
    const entries = lines.map((l) => {
      const parsed = parseFlyMessage('logs.web.ams.i1', Buffer.from(l), 1_795_000_000_000);
      if (parsed.kind !== 'entry') throw new Error('did not parse');
      return parsed.entry;
    });
    const doc = JSON.parse(buildPushBody(entries, { labels: DEFAULT_LABELS, staticLabels: [], structuredMetadata: [], lineFormat: 'json', maxLineBytes: 256 * 1024 }).json) as {
      streams: Array<{ stream: Record<string, string>; values: string[][] }>;
    };
    const labelsOf = (i: number): Record<string, string> | undefined => doc.streams.find((s) => s.values.some((v) => v[1] === entries[i]!.line))?.stream;
    expect(labelsOf(0)).toMatchObject({ host: 'h1', event_provider: 'app', level: 'warn' });
    // Parsed (not scanned): the numeric host is still label text, the escaped key still the host.
    expect(labelsOf(1)).toMatchObject({ host: '42', level: 'info' });
    expect(labelsOf(2)).toMatchObject({ host: 'h9', level: 'unknown' });
    expect(parseBody(entries[2]!).host).toBe('h9');
  });
});
