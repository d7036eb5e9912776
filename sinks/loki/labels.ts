// What the Loki encoder (encode.ts) needs besides its scan and writers: label names and
// values as Loki accepts them, level folding, line truncation and timestamp conversion for
// lines that take the JSON.parse path. What real Loki would refuse (long lines, bad label
// names, too many labels) is fixed here and counted, so a batch never meets a 400 for
// something we could have prevented.
import { timestampNanos, type FlyLogBody, type LogEntry } from '../../src/intake/entry.js';
import type { LabelField, LineFormat, MetadataField } from './config.js';

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

/** Every spelling normaliseLevel knows (the byte-level fold builds its table from these). */
export const LEVEL_SPELLINGS: readonly string[] = Object.keys(LEVELS);

export function normaliseLevel(level: string): string {
  return Object.hasOwn(LEVELS, level) ? LEVELS[level]! : 'unknown';
}

/**
 * Per batch: whole seconds of Fly-form timestamps as nanosecond prefixes, by their
 * `YYYY-MM-DDTHH:MM:SS` text ('' for text that is not one exact second), plus the last one
 * looked up: entries arrive in time order, so most lookups are a startsWith.
 */
export class SecondsCache {
  readonly #byText = new Map<string, string>();
  #lastText = '\u0000';
  #lastSecs = '';

  /**
   * The whole seconds of a timestamp in Fly's own form (`2026-11-26T20:34:37.000412877Z`:
   * UTC, 1 to 9 fraction digits) as a nanosecond prefix; '' for any other form. For two
   * timestamps with a prefix and the same length, text order is time order (the seconds
   * text is checked to be the canonical one, so no `24:00` or `02-31` rolls over).
   */
  secondsOf(timestamp: string): string {
    const n = timestamp.length;
    if (n < 21 || n > 30 || timestamp.charCodeAt(19) !== 46 /* . */ || timestamp.charCodeAt(n - 1) !== 90 /* Z */) return '';
    for (let i = 20; i < n - 1; i++) {
      const c = timestamp.charCodeAt(i);
      if (c < 48 || c > 57) return '';
    }
    if (timestamp.startsWith(this.#lastText)) return this.#lastSecs;
    const text = timestamp.slice(0, 19);
    let secs = this.#byText.get(text);
    if (secs === undefined) {
      const whole = timestampNanos(`${text}Z`);
      // Before 1970-01-01T00:00:01 the digits cannot simply be appended; leave those to the slow path.
      const ok = whole !== undefined && whole.length > 9 && whole.charCodeAt(0) !== 45 && new Date(Number(whole.slice(0, -6))).toISOString().startsWith(text);
      secs = ok ? whole.slice(0, -9) : '';
      this.#byText.set(text, secs);
    }
    this.#lastText = text;
    this.#lastSecs = secs;
    return secs;
  }
}

/** The 9 nanosecond digits of a Fly-form timestamp (fewer digits are padded with zeros). */
function fraction9(timestamp: string): string {
  const fraction = timestamp.slice(20, timestamp.length - 1);
  return fraction.length === 9 ? fraction : fraction.padEnd(9, '0');
}

/**
 * Nanoseconds as a string. Fly's own form takes a fast path: the whole-second part repeats
 * within a batch, so it is converted once per batch (`seconds` caches it) and the fraction
 * is appended as digits, exact to the nanosecond.
 */
export function nanosOf(timestamp: string, seconds: SecondsCache): string | undefined {
  const secs = seconds.secondsOf(timestamp);
  if (secs !== '') return secs + fraction9(timestamp);
  const ns = timestampNanos(timestamp);
  return ns === undefined || ns.charCodeAt(0) === 45 /* - */ ? undefined : ns;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

/** A stream's label set as JSON, and whether making it had to sanitise or limit labels. */
export interface StreamLabels {
  readonly labelsJson: string;
  readonly sanitised: boolean;
  readonly limited: boolean;
}

/**
 * The label set for raw label values (one per `o.labels`, '' for none), sanitised and
 * limited as Loki requires. Runs once per stream, not per entry.
 */
export function streamLabels(values: readonly string[], o: LokiEncodeOptions): StreamLabels {
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
  return { labelsJson, sanitised, limited };
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

/** A label or metadata field's raw value for an entry whose line was parsed into `body`. */
export function fieldValue(field: MetadataField, entry: LogEntry, body: FlyLogBody, level: string): string {
  switch (field) {
    case 'fly_app_name': return entry.app;
    case 'fly_region': return entry.region;
    case 'fly_app_instance': return entry.instance;
    case 'level': return level;
    case 'host': return text(body.host);
    case 'event_provider': return text(body.event?.provider);
    case 'process_group': return text(body.fly?.app?.process_group);
    case 'zone': return text(body.fly?.zone);
  }
}

/**
 * Gzip level for the JSON push: level 1 costs a fraction of level 6's CPU for a body a few
 * percent larger; compression was most of the sink's CPU.
 */
export const GZIP_LEVEL = 1;

/**
 * The line fly-log-shipper's OpsVerse sink writes (LOKI_LINE_FORMAT=logfmt): `level` set from
 * `log.level`, a message that is a JSON object merged into the entry in place of `message`,
 * the timestamp left out (Loki carries it), nested keys flattened with `.` (arrays `[i]`),
 * keys sorted, as Vector's logfmt codec writes an event.
 */
export function logfmtLine(body: FlyLogBody): string {
  const event: Record<string, unknown> = { ...body, level: body.log?.level };
  const m = body.message;
  if (typeof m === 'string' && m.charCodeAt(0) === 123 /* { */) {
    try {
      const fields: unknown = JSON.parse(m);
      if (fields !== null && typeof fields === 'object' && !Array.isArray(fields)) {
        delete event.message;
        Object.assign(event, fields);
      }
    } catch {
      // Not JSON after all: the message stays text.
    }
  }
  delete event.timestamp;
  const pairs: Array<[string, string]> = [];
  const flatten = (prefix: string, v: unknown): void => {
    if (v === undefined) return;
    if (Array.isArray(v)) {
      v.forEach((item, i) => flatten(`${prefix}[${i}]`, item));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) flatten(prefix === '' ? k : `${prefix}.${k}`, inner);
    } else {
      pairs.push([prefix, logfmtValue(v)]);
    }
  };
  flatten('', event);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join(' ');
}

function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  if (typeof v === 'string' && (s === '' || /[\s"=\\]/.test(s) || /[\x00-\x1f]/.test(s))) {
    return `"${s.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
  }
  return s;
}
