// Turns a batch into one Loki push body: entries grouped into streams by label set, each
// stream sorted by timestamp, nanosecond timestamps as strings, gzip. What real Loki would
// refuse (long lines, bad label names, too many labels) is fixed here and counted, so a
// batch never meets a 400 for something we could have prevented.
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { entryLevel, parseBody, timestampNanos, type FlyLogBody, type LogEntry } from '../../src/entry.js';
import type { EncodedBatch } from '../../src/sink.js';
import type { LabelField, LineFormat, MetadataField } from './config.js';

const gzip = promisify(gzipCallback);

/** Loki's `max_label_names_per_series` default. */
export const MAX_LABELS = 15;
/** Loki's `max_label_value_length` default. */
export const MAX_LABEL_VALUE_BYTES = 2048;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Control characters in a label make streams that are impossible to select by hand.
const CONTROL = /[\x00-\x1f\x7f]/g;
const CONTROL_TEST = /[\x00-\x1f\x7f]/;

export type AdjustReason = 'line_truncated' | 'label_sanitised' | 'labels_limited' | 'timestamp_invalid';

export interface LokiEncodeOptions {
  readonly labels: readonly LabelField[];
  readonly staticLabels: readonly (readonly [string, string])[];
  readonly structuredMetadata: readonly MetadataField[];
  readonly lineFormat: LineFormat;
  readonly maxLineBytes: number;
}

export interface PushBody {
  /** The JSON document for `POST /loki/api/v1/push`. */
  readonly json: string;
  readonly entryCount: number;
  readonly streamCount: number;
  readonly adjusted: Partial<Record<AdjustReason, number>>;
}

/** A name Loki accepts: invalid characters become `_`, a leading digit gets a `_` before it. */
export function sanitiseLabelName(name: string): string {
  if (LABEL_NAME.test(name)) return name;
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return cleaned === '' || /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

/** A value without control characters or broken UTF-16, at most MAX_LABEL_VALUE_BYTES of UTF-8. */
export function sanitiseLabelValue(value: string): string {
  let v = CONTROL_TEST.test(value) ? value.replace(CONTROL, '_') : value;
  if (!v.isWellFormed()) v = v.toWellFormed();
  return v.length * 3 > MAX_LABEL_VALUE_BYTES ? cutUtf8(v, MAX_LABEL_VALUE_BYTES) : v;
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, never splitting a character. */
export function cutUtf8(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let end = maxBytes;
  // A continuation byte right after the cut means the cut splits a character: back off to its start.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}

// Levels apps write, folded to one spelling each so `level` stays a handful of streams;
// anything else (an app bug can put any text there) becomes "unknown" rather than a new stream.
const LEVELS: Readonly<Record<string, string>> = {
  trace: 'trace', debug: 'debug', dbg: 'debug', verbose: 'debug',
  info: 'info', inf: 'info', information: 'info', informational: 'info', notice: 'notice',
  warn: 'warn', warning: 'warn', wrn: 'warn',
  error: 'error', err: 'error', eror: 'error',
  critical: 'critical', crit: 'critical', alert: 'critical',
  fatal: 'fatal', panic: 'fatal', emerg: 'fatal', emergency: 'fatal',
  unknown: 'unknown',
};

export function normaliseLevel(level: string): string {
  return Object.hasOwn(LEVELS, level) ? LEVELS[level]! : 'unknown';
}

/**
 * Nanoseconds as a string. Fly's own form (`2026-11-26T20:34:37.000412877Z`) takes a fast
 * path: the whole-second part repeats within a batch, so it is converted once per batch
 * (`seconds` caches it) and the fraction is appended as digits, exact to the nanosecond.
 */
export function nanosOf(timestamp: string, seconds: Map<string, string>): string | undefined {
  const n = timestamp.length;
  if (n >= 21 && n <= 30 && timestamp.charCodeAt(19) === 46 /* . */ && timestamp.charCodeAt(n - 1) === 90 /* Z */) {
    let digits = true;
    for (let i = 20; i < n - 1; i++) {
      const c = timestamp.charCodeAt(i);
      if (c < 48 || c > 57) {
        digits = false;
        break;
      }
    }
    if (digits) {
      const prefix = timestamp.slice(0, 19);
      let secs = seconds.get(prefix);
      if (secs === undefined) {
        const whole = timestampNanos(`${prefix}Z`);
        // Before 1970-01-01T00:00:01 the digits cannot simply be appended; leave those to the slow path.
        secs = whole !== undefined && whole.length > 9 && whole.charCodeAt(0) !== 45 ? whole.slice(0, -9) : '';
        seconds.set(prefix, secs);
      }
      if (secs !== '') {
        const fraction = timestamp.slice(20, n - 1);
        return secs + (fraction.length === 9 ? fraction : fraction.padEnd(9, '0'));
      }
    }
  }
  const ns = timestampNanos(timestamp);
  return ns === undefined || ns.charCodeAt(0) === 45 /* - */ ? undefined : ns;
}

/** Orders decimal strings without sign or leading zeros numerically. */
function compareNanos(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

interface Stream {
  readonly labelsJson: string;
  readonly sanitised: boolean;
  readonly limited: boolean;
  readonly ts: string[];
  readonly lines: string[];
  /** Per entry: the structured metadata object as JSON, or '' for none. Undefined when not configured. */
  readonly meta: string[] | undefined;
  sorted: boolean;
}

const KEY_SEPARATOR = '\u0000';

/** The label set of a stream, sanitised and limited as Loki requires. Runs once per stream, not per entry. */
function makeStream(values: readonly string[], o: LokiEncodeOptions, withMeta: boolean): Stream {
  const raw: Array<readonly [string, string]> = [];
  for (let i = 0; i < o.labels.length; i++) {
    const v = values[i] ?? '';
    // An empty value is the same as no label to Loki (and to LogQL's `label=""`).
    if (v !== '') raw.push([o.labels[i]!, v]);
  }
  raw.push(...o.staticLabels);
  // Loki refuses a stream without labels; only entries lacking every dynamic field get here.
  if (raw.length === 0) raw.push([o.labels[0] ?? 'fly_app_name', 'unknown']);

  let sanitised = false;
  const seen = new Set<string>();
  const pairs: Array<readonly [string, string]> = [];
  for (const [name, value] of raw) {
    const n = sanitiseLabelName(name);
    const v = sanitiseLabelValue(value);
    if (n !== name || v !== value) sanitised = true;
    if (seen.has(n)) {
      // Two names that sanitise to the same one: the first (higher priority) wins.
      sanitised = true;
      continue;
    }
    seen.add(n);
    pairs.push([n, v]);
  }
  const limited = pairs.length > MAX_LABELS;
  const kept = limited ? pairs.slice(0, MAX_LABELS) : pairs;
  const labelsJson = `{${kept.map(([n, v]) => `${JSON.stringify(n)}:${JSON.stringify(v)}`).join(',')}}`;
  return { labelsJson, sanitised, limited, ts: [], lines: [], meta: withMeta ? [] : undefined, sorted: true };
}

/**
 * The line for one entry within `maxBytes`. JSON lines keep being JSON: the message is cut
 * (ending in "…") and `logferry.truncated` is set, so `| json` still works on them.
 */
export function truncateJsonLine(body: FlyLogBody, line: string, maxBytes: number): string {
  const message = body.message;
  if (typeof message === 'string' && message !== '') {
    const marker = typeof body.logferry === 'object' && body.logferry !== null ? (body.logferry as Record<string, unknown>) : {};
    const shell: FlyLogBody = { ...body, message: '', logferry: { ...marker, truncated: true } };
    const budget = maxBytes - Buffer.byteLength(JSON.stringify(shell)) - 3; /* "…" */
    if (budget > 0) {
      let cut = Math.min(message.length, budget);
      for (;;) {
        if (cut > 0 && /[\ud800-\udbff]/.test(message.charAt(cut - 1))) cut--;
        const piece = message.slice(0, cut);
        const size = Buffer.byteLength(JSON.stringify(piece)) - 2;
        if (size <= budget) {
          shell.message = `${piece}…`;
          return JSON.stringify(shell);
        }
        // Escapes and multi-byte characters made it too long: shrink in proportion and try again.
        cut = Math.max(0, Math.floor((cut * budget) / size) - 1);
      }
    }
  }
  // The rest of the entry alone is too long: only cutting the line itself is left.
  return cutUtf8(line, maxBytes);
}

function fieldValue(field: MetadataField, entry: LogEntry, body: FlyLogBody | undefined, level: string): string {
  switch (field) {
    case 'fly_app_name': return entry.app;
    case 'fly_region': return entry.region;
    case 'fly_app_instance': return entry.instance;
    case 'level': return level;
    case 'host': return text(body?.host);
    case 'event_provider': return text(body?.event?.provider);
    case 'process_group': return text(body?.fly?.app?.process_group);
    case 'zone': return text(body?.fly?.zone);
  }
}

const BODY_FIELDS: ReadonlySet<MetadataField> = new Set(['host', 'event_provider', 'level', 'process_group', 'zone']);

/** Builds the push document. Pure: the same entries and options give the same JSON. */
export function buildPushBody(entries: readonly LogEntry[], o: LokiEncodeOptions): PushBody {
  const needsLevel = o.labels.includes('level') || o.structuredMetadata.includes('level');
  const needsBody = o.lineFormat === 'message' || o.labels.some((l) => BODY_FIELDS.has(l)) || o.structuredMetadata.some((f) => BODY_FIELDS.has(f));
  const withMeta = o.structuredMetadata.length > 0;
  const byKey = new Map<string, Stream>();
  const byLabels = new Map<string, Stream>();
  const seconds = new Map<string, string>();
  const values: string[] = new Array<string>(o.labels.length).fill('');
  let truncated = 0;
  let sanitised = 0;
  let limited = 0;
  let badTime = 0;

  for (const entry of entries) {
    let body = needsBody ? parseBody(entry) : undefined;
    const level = needsLevel ? normaliseLevel(entryLevel(body!)) : '';

    let key = '';
    for (let i = 0; i < o.labels.length; i++) {
      const v = fieldValue(o.labels[i]!, entry, body, level);
      values[i] = v;
      key += v + KEY_SEPARATOR;
    }
    let stream = byKey.get(key);
    if (stream === undefined) {
      const made = makeStream(values, o, withMeta);
      // Different raw values can sanitise to the same label set: they share one stream.
      stream = byLabels.get(made.labelsJson) ?? made;
      byLabels.set(stream.labelsJson, stream);
      byKey.set(key, stream);
    }
    if (stream.sanitised) sanitised++;
    if (stream.limited) limited++;

    let ts = nanosOf(entry.timestamp, seconds);
    if (ts === undefined) {
      const ms = Math.trunc(entry.receivedAtMs);
      ts = ms > 0 ? `${ms}000000` : '0';
      badTime++;
    }

    let line: string;
    if (o.lineFormat === 'json') {
      line = entry.line;
      if (entry.bytes > o.maxLineBytes) {
        body ??= parseBody(entry);
        line = truncateJsonLine(body, line, o.maxLineBytes);
        truncated++;
      }
    } else {
      const m = body!.message;
      line = typeof m === 'string' ? m : m === undefined || m === null ? '' : JSON.stringify(m);
      // A string of n UTF-16 units is at most 3n bytes of UTF-8: most lines skip the measuring.
      if (line.length * 3 > o.maxLineBytes && Buffer.byteLength(line) > o.maxLineBytes) {
        line = `${cutUtf8(line, o.maxLineBytes - 3)}…`;
        truncated++;
      }
    }

    if (stream.sorted && stream.ts.length > 0 && compareNanos(stream.ts[stream.ts.length - 1]!, ts) > 0) stream.sorted = false;
    stream.ts.push(ts);
    stream.lines.push(line);
    if (stream.meta !== undefined) {
      let meta = '';
      for (const field of o.structuredMetadata) {
        const v = fieldValue(field, entry, body, level);
        if (v !== '') meta += `${meta === '' ? '{' : ','}"${field}":${JSON.stringify(v)}`;
      }
      stream.meta.push(meta === '' ? '' : `${meta}}`);
    }
  }

  const out: string[] = ['{"streams":['];
  let first = true;
  for (const s of byLabels.values()) {
    out.push(first ? '{"stream":' : ',{"stream":', s.labelsJson, ',"values":[');
    first = false;
    const order = s.sorted ? undefined : Array.from(s.ts.keys()).sort((a, b) => compareNanos(s.ts[a]!, s.ts[b]!));
    for (let k = 0; k < s.ts.length; k++) {
      const i = order === undefined ? k : order[k]!;
      const meta = s.meta?.[i];
      out.push(k === 0 ? '["' : ',["', s.ts[i]!, '",', JSON.stringify(s.lines[i]!), meta ? `,${meta}]` : ']');
    }
    out.push(']}');
  }
  out.push(']}');

  const adjusted: Partial<Record<AdjustReason, number>> = {};
  if (truncated > 0) adjusted.line_truncated = truncated;
  if (sanitised > 0) adjusted.label_sanitised = sanitised;
  if (limited > 0) adjusted.labels_limited = limited;
  if (badTime > 0) adjusted.timestamp_invalid = badTime;
  return { json: out.join(''), entryCount: entries.length, streamCount: byLabels.size, adjusted };
}

/** The gzip-compressed push body (compressed on the libuv pool, off the event loop). */
export async function encodePush(entries: readonly LogEntry[], o: LokiEncodeOptions): Promise<EncodedBatch> {
  const push = buildPushBody(entries, o);
  const body = await gzip(Buffer.from(push.json, 'utf8'));
  const adjusted = Object.keys(push.adjusted).length > 0 ? push.adjusted : undefined;
  return adjusted === undefined ? { body, entryCount: push.entryCount } : { body, entryCount: push.entryCount, adjusted };
}
