// Option sets and generated lines the Loki encoder tests run under: every LOKI_* variant
// that changes the push, and Fly-like lines full of edge cases (escapes, odd types,
// duplicates, odd timestamps, long lines), seeded so failures reproduce.
import { DEFAULT_LABELS, METADATA_FIELDS, type LabelField } from '../../sinks/loki/config.js';
import { makeBatch } from '../../src/pipeline/batch.js';
import type { LogEntry } from '../../src/intake/entry.js';
import { buildPush, encodePush, type LokiEncodeOptions } from '../../sinks/loki/encode.js';
import type { EncodedBatch } from '../../src/pipeline/sink.js';
import { prng } from './fly-entries.js';

export const defaults: LokiEncodeOptions = {
  labels: DEFAULT_LABELS,
  staticLabels: [],
  structuredMetadata: [],
  lineFormat: 'json',
  maxLineBytes: 256 * 1024,
};

/** Option sets the comparison runs under: the default and the variants LOKI_* settings make. */
export const VARIANTS: ReadonlyArray<readonly [string, LokiEncodeOptions]> = [
  ['default', defaults],
  ['message lines', { ...defaults, lineFormat: 'message' }],
  ['short lines (truncation)', { ...defaults, maxLineBytes: 1024 }],
  ['short message lines', { ...defaults, lineFormat: 'message', maxLineBytes: 1024 }],
  ['all metadata, app label', { ...defaults, labels: ['fly_app_name'], structuredMetadata: METADATA_FIELDS }],
  ['metadata host+level, message lines', { ...defaults, labels: ['fly_app_name', 'fly_region', 'fly_app_instance', 'event_provider'], structuredMetadata: ['host', 'level'], lineFormat: 'message' }],
  ['static labels', { ...defaults, staticLabels: [['env', 'prod'], ['team-name', 'web'], ['level', 'clash']] }],
  ['no dynamic labels', { ...defaults, labels: [], staticLabels: [['env', 'prod']] }],
  ['level and host only', { ...defaults, labels: ['level', 'host'] }],
  ['reordered labels', { ...defaults, labels: ['level', 'event_provider', 'host', 'fly_app_instance', 'fly_region', 'fly_app_name'] as LabelField[] }],
];

// --- A generator of Fly-like lines with every shape the encoder must agree on ---------------

type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const str = (v: string): string => JSON.stringify(v);

/** One member as JSON text; the key is given as its raw token so escaped keys can be made. */
const member = (key: string, value: string): string => `${key}:${value}`;
const object = (members: readonly string[], space: string): string => `{${space}${members.join(`,${space}`)}${space}}`;

const APPS = ['shop-api', 'edge-cache', 'ünï-app', 'app "quoted"', 'back\\slash', 'ctl\u0001char', 'x'.repeat(2100), 'emoji🦀'];
const REGIONS = ['ams', 'iad', 'sjc', 'ünï'];
const INSTANCES = ['148e272f6e7d89', '5683d920b1e08e', 'e2860e1a0c7d48'];
const HOSTS = ['d731', 'a512', '', 'hôst', 'h\u007f'];
const PROVIDERS = ['app', 'proxy', 'runner', ''];
const LEVEL_TEXTS = ['info', 'INFO', 'Warning', 'err', 'fatal', 'PANIC', 'notice', 'verbose', 'bogus', '', 'İNFO', 'K', '__proto__', 'informational', 'critical', 'unknown'];

function timestampText(rand: Rand, baseMs: number): string {
  const ms = baseMs + Math.floor((rand() - 0.2) * 3000);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const digits = Math.floor(rand() * 1e9).toString().padStart(9, '0');
  const r = rand();
  if (r < 0.6) return str(`${iso}.${digits}Z`);
  if (r < 0.7) return str(`${iso}.${digits.slice(0, 1 + Math.floor(rand() * 9))}Z`);
  return pick(rand, [
    str(`${iso}Z`),
    str(`${iso}.Z`),
    str(`${iso}.${digits}+02:00`),
    str(`${iso}.${digits}-05:30`),
    str(`${iso.replace('T', 't')}.${digits}z`),
    str(`${iso}.${digits}123Z`),
    str('1970-01-01T00:00:00.000000005Z'),
    str('1970-01-01T00:00:00.5Z'),
    str('1970-01-01T00:00:01.25Z'),
    str('1969-12-31T23:59:59.9Z'),
    str('2024-02-30T00:00:00.1Z'),
    str('2024-02-29T23:59:60.1Z'),
    str('2024-13-01T00:00:00.1Z'),
    str('2024-02-29T24:00:00.1Z'),
    str('not a time'),
    str(''),
    `"${iso}.${digits}\\u005a"`,
    '1795707277',
  ]);
}

function messageText(rand: Rand, big: boolean): string | undefined {
  const r = rand();
  if (big && r < 0.05) return str(`big ${'Lorem ipsum ✅ "q" \\ '.repeat(80 + Math.floor(rand() * 40))}`);
  if (r < 0.3) return str(`GET /api/v1/items/${Math.floor(rand() * 1000)} 200`);
  if (r < 0.5) {
    const fields: Record<string, unknown> = { msg: 'payment timeout', n: Math.floor(rand() * 100) };
    const which = pick(rand, ['level', 'severity', 'lvl', 'level+severity', 'none']);
    const value = pick<unknown>(rand, ['error', 'WARN', 'debug', '', null, 30, 50, 60, 35, 'Information', true, { nested: 1 }]);
    if (which === 'level+severity') {
      fields.level = value;
      fields.severity = 'error';
    } else if (which !== 'none') {
      fields[which] = value;
    }
    const text = JSON.stringify(fields);
    return rand() < 0.1 ? str(`${text} trailing`) : rand() < 0.1 ? str(` ${text}`) : str(text);
  }
  return pick(rand, [
    str('\u001b[32mINFO\u001b[0m processed'),
    '"\\u001B[31mupper-case escape\\u001B[0m"',
    '"slash \\/ escaped"',
    '"\\u0041 spelled with an escape"',
    '"\\u007b\\"level\\":\\"error\\"}"',
    '"\\ud83d\\ude00 escaped pair"',
    '"lone \\ud800 surrogate"',
    '"\\u0000 nul and \\u0008 backspace"',
    '"tab\\tnewline\\nreturn\\rformfeed\\fbs\\b"',
    str('Traceback:\n  File "x.py"\n    raise'),
    str('日本語のログ行 ✅ 🚀'),
    str(''),
    str('{}'),
    str('{ }'),
    str('{not json'),
    str(`plain ${'long message without escapes '.repeat(10 + Math.floor(rand() * 300))}`),
    str(`${'y'.repeat(300)} ends in a backslash \\`),
    str(`${'z'.repeat(300)} ends in a quote \\"`),
    str(`${'w'.repeat(300)} \u001b[0m then plain text for long enough to be jumped over ${'v'.repeat(400)}`),
    '{"level":"error","msg":"object message"}',
    '12345',
    'null',
    'true',
    '["a",1]',
    undefined,
  ]);
}

function flyObject(rand: Rand, space: string): string {
  const app: string[] = [];
  const name = rand() < 0.97 ? str(pick(rand, APPS)) : pick(rand, ['42', '""', '"we\\u0062"']);
  const instance = rand() < 0.98 ? str(pick(rand, INSTANCES)) : pick(rand, ['7', '""']);
  app.push(member('"instance"', instance), member('"name"', name));
  const pg = rand();
  if (pg < 0.5) app.push(member('"process_group"', str(pick(rand, ['app', 'worker']))));
  else if (pg < 0.53) app.push(member('"process_group"', '3'));
  else if (pg < 0.55) app.push(member('"process_group"', '"w\\u006frker"'));
  if (rand() < 0.02) app.push(member('"na\\u006de"', '"escaped-key-app"'));
  if (rand() < 0.02) app.push(member('"name"', str('duplicate-name')));
  if (rand() < 0.5) app.reverse();
  const fly: string[] = [member('"app"', object(app, space))];
  const region = rand();
  fly.push(member('"region"', region < 0.97 ? str(pick(rand, REGIONS)) : region < 0.985 ? 'null' : '"a\\u006ds"'));
  const zone = rand();
  if (zone < 0.6) fly.push(member('"zone"', str(pick(rand, ['d731', 'a512', 'zöne']))));
  else if (zone < 0.63) fly.push(member('"zone"', '{"id":1}'));
  if (rand() < 0.02) fly.push(member('"region"', str('dup-region')));
  if (rand() < 0.3) fly.reverse();
  return object(fly, space);
}

function flyLine(rand: Rand, baseMs: number): string {
  const space = rand() < 0.05 ? pick(rand, [' ', '\t', '  ']) : '';
  const members: string[] = [];
  const ev = rand();
  if (ev < 0.9) members.push(member('"event"', object([member('"provider"', str(pick(rand, PROVIDERS)))], space)));
  else if (ev < 0.93) members.push(member('"event"', str('app')));
  else if (ev < 0.95) members.push(member('"event"', object([member('"provider"', '1')], space)));
  else if (ev < 0.97) members.push(member('"event"', object([member('"provider"', '"pr\\u006fxy"'), member('"x"', '[1,{"y":"}"}]')], space)));
  members.push(member('"fly"', flyObject(rand, space)));
  const h = rand();
  if (h < 0.85) members.push(member('"host"', str(pick(rand, HOSTS))));
  else if (h < 0.88) members.push(member('"host"', '42'));
  else if (h < 0.9) members.push(member('"host"', '"h\\u00e9"'));
  else if (h < 0.92) members.push(member('"ho\\u0073t"', str('escaped-key-host')));
  const lv = rand();
  if (lv < 0.85) members.push(member('"log"', object([member('"level"', str(pick(rand, LEVEL_TEXTS)))], space)));
  else if (lv < 0.88) members.push(member('"log"', object([member('"level"', '30')], space)));
  else if (lv < 0.9) members.push(member('"log"', object([member('"lev\\u0065l"', '"error"')], space)));
  else if (lv < 0.92) members.push(member('"log"', object([], space)));
  else if (lv < 0.94) members.push(member('"log"', object([member('"level"', '"w\\u0061rn"')], space)));
  const message = messageText(rand, true);
  if (message !== undefined) members.push(member('"message"', message));
  if (rand() < 0.97) members.push(member('"timestamp"', timestampText(rand, baseMs)));
  if (rand() < 0.05) members.push(member('"logferry"', object([member('"malformed"', '"invalid_json"')], space)));
  if (rand() < 0.05) members.push(member('"extra"', '{"a":[1,2,{"b":"\\"}"}],"c":null,"d":-1.5e3,"e":true}'));
  if (rand() < 0.02) members.push(member('"host"', str('duplicate-host')));
  if (rand() < 0.01) members.push(member('"message"', str('duplicate-message')));
  if (rand() < 0.01) members.push(member('"timestamp"', str('2026-11-26T20:34:37.000000001Z')));
  if (rand() < 0.01) members.push(member('"fly"', object([member('"region"', '"ams"')], space)));
  if (rand() < 0.3) members.reverse();
  return object(members, space);
}

/** Seeded Fly-like lines with every shape the encoders must agree on. */
export function generatedLines(seed: number, n: number): string[] {
  const rand = prng(seed);
  const baseMs = Date.UTC(2026, 10, 26, 20, 34, 37);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(flyLine(rand, baseMs + i * 3));
  return lines;
}


/** The JSON push document for these entries, batched as the core batches them (their lines; the first one's receive time). */
export function buildPushBody(entries: readonly LogEntry[], o: LokiEncodeOptions): { json: string; entryCount: number; streamCount: number; adjusted: Record<string, number> } {
  const push = buildPush(makeBatch(1, 'p', entries), o, 'json');
  return { json: push.body.toString('utf8'), entryCount: push.entryCount, streamCount: push.streamCount, adjusted: push.adjusted };
}

/** The gzip JSON push for these entries, as the sink sends it. */
export function encodeEntries(entries: readonly LogEntry[], o: LokiEncodeOptions): Promise<EncodedBatch> {
  return encodePush(makeBatch(1, 'p', entries), o, 'json');
}
