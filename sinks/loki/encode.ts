// Turns a batch into one Loki push body: entries grouped into streams by label set, each
// stream sorted by timestamp, nanosecond timestamps as strings, gzip. What real Loki would
// refuse (long lines, bad label names, too many labels) is fixed here and counted, so a
// batch never meets a 400 for something we could have prevented.
import { gzip } from '../../src/codec/compress.js';
import { entryLevel, parseBody, timestampNanos, type FlyLogBody, type LogEntry } from '../../src/intake/entry.js';
import { Out, releasePushBuffer } from './out.js';
import type { EncodedBatch } from '../../src/pipeline/sink.js';
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

/** A stream value's timestamp as nanoseconds (see Stream.ts and Stream.secs). */
function nanosText(ts: string, secs: string): string {
  return secs === '' ? ts : secs + fraction9(ts);
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
  /**
   * Per value: the timestamp in Fly's form when `secs` has its whole seconds (the common
   * case: nothing is built per entry), else the nanoseconds already worked out.
   */
  readonly ts: string[];
  /** Per value: SecondsCache's prefix for `ts`, or '' when `ts` is nanoseconds. */
  readonly secs: string[];
  /** Per value: the entry's index in the batch. */
  readonly index: number[];
  /** Per value, for the `message` line format only: the line. */
  readonly lines: string[];
  /** Per entry: the structured metadata object as JSON, or '' for none. Undefined when not configured. */
  readonly meta: string[] | undefined;
  sorted: boolean;
}

/**
 * Streams by raw label values, one level per label: each lookup is by a short string whose
 * hash is usually cached (app, region and instance are the intake's shared strings), where
 * one joined key would be built and hashed anew for every entry.
 */
interface KeyNode {
  readonly next: Map<string, KeyNode>;
  stream: Stream | undefined;
}

/** A stream's label set as JSON, and whether making it had to sanitise or limit labels. */
export interface StreamLabels {
  readonly labelsJson: string;
  readonly sanitised: boolean;
  readonly limited: boolean;
}

function makeStream(values: readonly string[], o: LokiEncodeOptions, withMeta: boolean): Stream {
  const { labelsJson, sanitised, limited } = streamLabels(values, o);
  return { labelsJson, sanitised, limited, ts: [], secs: [], index: [], lines: [], meta: withMeta ? [] : undefined, sorted: true };
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

/** A label or metadata field's raw value for an entry (from the scan when `body` is undefined, else from the parsed body). */
export function fieldValue(field: MetadataField, entry: LogEntry, body: FlyLogBody | undefined, level: string): string {
  switch (field) {
    case 'fly_app_name': return entry.app;
    case 'fly_region': return entry.region;
    case 'fly_app_instance': return entry.instance;
    case 'level': return level;
    case 'host': return body === undefined ? scanned.host : text(body.host);
    case 'event_provider': return body === undefined ? scanned.provider : text(body.event?.provider);
    case 'process_group': return text(body?.fly?.app?.process_group);
    case 'zone': return text(body?.fly?.zone);
  }
}

const BODY_FIELDS: ReadonlySet<MetadataField> = new Set(['host', 'event_provider', 'level', 'process_group', 'zone']);
// What scanLine can read without a parse; process_group and zone still need the parsed body.
const SCANNED_FIELDS: ReadonlySet<MetadataField> = new Set(['host', 'event_provider', 'level']);

/**
 * The fields of the entry being encoded that scanLine found (module scratch: encoding is
 * synchronous, and reusing it keeps the per-entry path free of allocations).
 */
const scanned = { host: '', provider: '', logLevel: undefined as string | undefined, msgStart: -1, msgEnd: -1 };
// Handed to entryLevel so the app's JSON level is read exactly as the core reads it.
const levelBody: { message: string; log: { level: string | undefined } } = { message: '', log: { level: undefined } };

/** Index of the quote closing the string whose opening quote is at `open`; -1 if none. */
function stringEnd(s: string, open: number): number {
  // Jumping from quote to quote beats walking the characters; `j` always starts a character
  // (never the middle of an escape), so backslashes are only counted back to it.
  let j = open + 1;
  for (;;) {
    const q = s.indexOf('"', j);
    if (q < 0) return -1;
    let k = q - 1;
    while (k >= j && s.charCodeAt(k) === 92 /* \ */) k--;
    if (((q - 1 - k) & 1) === 0) return q;
    j = q + 1;
  }
}

function skipSpace(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return i;
    i++;
  }
}

/** Index just after the JSON value starting at `i`; -1 when it is not one. */
function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 34 /* " */) {
    const e = stringEnd(s, i);
    return e < 0 ? -1 : e + 1;
  }
  if (c === 123 /* { */ || c === 91 /* [ */) {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s.charCodeAt(j);
      if (d === 34) {
        j = stringEnd(s, j);
        if (j < 0) return -1;
      } else if (d === 123 || d === 91) {
        depth++;
      } else if (d === 125 || d === 93) {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  // A number or a literal: up to the next delimiter.
  let j = i;
  for (; j < s.length; j++) {
    const d = s.charCodeAt(j);
    if (d === 44 || d === 125 || d === 93 || d === 32 || d === 9 || d === 10 || d === 13) break;
  }
  return j > i ? j : -1;
}

/** The string value whose quotes are at `open` and `close`, unescaped only when it has escapes. */
function stringAt(s: string, open: number, close: number): string {
  return hasSlash(s, open, close) ? (JSON.parse(s.slice(open, close + 1)) as string) : s.slice(open + 1, close);
}

function hasSlash(s: string, open: number, close: number): boolean {
  const slash = s.indexOf('\\', open + 1);
  return slash >= 0 && slash < close;
}

/** The raw key at `open`..`close` is exactly `name`. */
function keyIs(s: string, open: number, close: number, name: string): boolean {
  return close - open - 1 === name.length && s.startsWith(name, open + 1);
}

/** A key with an escape could spell a wanted name another way (`"ho\u0073t"`); keys are short, so walk it. */
function keyEscaped(s: string, open: number, close: number): boolean {
  for (let k = open + 1; k < close; k++) if (s.charCodeAt(k) === 92) return true;
  return false;
}

// What scanChild found: the member's string ('' when absent) and whether it was there.
let childValue = '';
let childFound = false;

/**
 * Reads one member (`provider` of event, `level` of log) of the object at `i` into
 * childValue/childFound. Returns the index after the object, or -1 when the member is not a
 * plain string, a key is escaped, or anything looks off: the caller parses the line instead.
 */
function scanChild(s: string, i: number, want: string): number {
  childValue = '';
  childFound = false;
  i = skipSpace(s, i + 1);
  if (s.charCodeAt(i) === 125 /* } */) return i + 1;
  for (;;) {
    if (s.charCodeAt(i) !== 34) return -1;
    const ke = stringEnd(s, i);
    if (ke < 0) return -1;
    const wanted = keyIs(s, i, ke, want);
    if (!wanted && keyEscaped(s, i, ke)) return -1;
    i = skipSpace(s, ke + 1);
    if (s.charCodeAt(i) !== 58 /* : */) return -1;
    i = skipSpace(s, i + 1);
    if (wanted) {
      if (s.charCodeAt(i) !== 34) return -1;
      const ve = stringEnd(s, i);
      if (ve < 0) return -1;
      childValue = stringAt(s, i, ve);
      childFound = true;
      i = ve + 1;
    } else {
      i = skipValue(s, i);
      if (i < 0) return -1;
    }
    i = skipSpace(s, i);
    const c = s.charCodeAt(i);
    if (c === 125) return i + 1;
    if (c !== 44 /* , */) return -1;
    i = skipSpace(s, i + 1);
  }
}

/**
 * Finds host, event.provider, log.level and the message in a line without parsing it into
 * objects (the line is valid JSON: the intake guarantees it). Fills `scanned`; false when
 * the line has a shape this does not handle (a wanted field that is not a string, escaped
 * keys), and the caller parses it. Later duplicates win, as with JSON.parse.
 */
function scanLine(s: string): boolean {
  scanned.host = '';
  scanned.provider = '';
  scanned.logLevel = undefined;
  scanned.msgStart = -1;
  let i = skipSpace(s, 0);
  if (s.charCodeAt(i) !== 123) return false;
  i = skipSpace(s, i + 1);
  if (s.charCodeAt(i) === 125) return true;
  for (;;) {
    if (s.charCodeAt(i) !== 34) return false;
    const ke = stringEnd(s, i);
    if (ke < 0) return false;
    // Fly's keys: event, fly, host, log, message, timestamp; the length picks the candidate.
    const len = ke - i - 1;
    const which =
      len === 4 ? (keyIs(s, i, ke, 'host') ? 1 : 0) :
      len === 7 ? (keyIs(s, i, ke, 'message') ? 2 : 0) :
      len === 5 ? (keyIs(s, i, ke, 'event') ? 3 : 0) :
      len === 3 ? (keyIs(s, i, ke, 'log') ? 4 : 0) : 0;
    if (which === 0 && keyEscaped(s, i, ke)) return false;
    i = skipSpace(s, ke + 1);
    if (s.charCodeAt(i) !== 58) return false;
    i = skipSpace(s, i + 1);
    const c = s.charCodeAt(i);
    if (which === 1 || which === 2) {
      // A host that is a number, or a message that is an object, is left to the parse.
      if (c !== 34) return false;
      const ve = stringEnd(s, i);
      if (ve < 0) return false;
      if (which === 1) {
        scanned.host = stringAt(s, i, ve);
      } else {
        scanned.msgStart = i + 1;
        scanned.msgEnd = ve;
      }
      i = ve + 1;
    } else if (which === 3 || which === 4) {
      if (c !== 123) return false;
      i = scanChild(s, i, which === 3 ? 'provider' : 'level');
      if (i < 0) return false;
      if (which === 3) scanned.provider = childValue;
      else scanned.logLevel = childFound ? childValue : undefined;
    } else {
      i = skipValue(s, i);
      if (i < 0) return false;
    }
    i = skipSpace(s, i);
    const d = s.charCodeAt(i);
    if (d === 125) return true;
    if (d !== 44) return false;
    i = skipSpace(s, i + 1);
  }
}

/** The scanned message as a string (unescaped only when it has escapes). */
function scannedMessage(line: string): string {
  if (scanned.msgStart < 0) return '';
  // Only the messages that are read get checked for escapes; most lines never need it.
  return stringAt(line, scanned.msgStart - 1, scanned.msgEnd);
}

/** entryLevel on the scanned fields: the message is only decoded when it can be JSON (starts with `{`, or an escape). */
function scannedLevel(line: string): string {
  const first = scanned.msgStart < 0 ? 0 : line.charCodeAt(scanned.msgStart);
  levelBody.message = first === 123 || first === 92 ? scannedMessage(line) : '';
  levelBody.log.level = scanned.logLevel;
  return entryLevel(levelBody);
}

/**
 * What the scan reads from a line: the same values the parsed body gives (host and
 * event.provider as label text, the level before folding, the message), or undefined when
 * the line needs the parse. For tests; the encoder uses the scratch fields directly.
 */
export function scanLineFields(line: string): { host: string; provider: string; level: string; message: string } | undefined {
  if (!scanLine(line)) return undefined;
  return { host: scanned.host, provider: scanned.provider, level: scannedLevel(line), message: scannedMessage(line) };
}

export { Out, releasePushBuffer } from './out.js';

export interface PushBuffer {
  /** The JSON document for `POST /loki/api/v1/push`, as UTF-8. */
  readonly body: Buffer;
  readonly entryCount: number;
  readonly streamCount: number;
  readonly adjusted: Partial<Record<AdjustReason, number>>;
}

/**
 * Builds the push document as UTF-8 bytes. Pure: the same entries and options give the
 * same bytes. Two passes: the first groups entry indexes into streams (reading only the
 * fields the labels need: a scan, not a parse), the second writes each stream's values
 * straight into one buffer, in timestamp order.
 */
export function buildPush(entries: readonly LogEntry[], o: LokiEncodeOptions): PushBuffer {
  const needsLevel = o.labels.includes('level') || o.structuredMetadata.includes('level');
  const needsBody = o.lineFormat === 'message' || o.labels.some((l) => BODY_FIELDS.has(l)) || o.structuredMetadata.some((f) => BODY_FIELDS.has(f));
  // Only when every body field wanted is one the scan finds; otherwise each entry is parsed once.
  const canScan = o.labels.every((l) => !BODY_FIELDS.has(l) || SCANNED_FIELDS.has(l)) && o.structuredMetadata.every((f) => !BODY_FIELDS.has(f) || SCANNED_FIELDS.has(f));
  const withMeta = o.structuredMetadata.length > 0;
  const messageLines = o.lineFormat === 'message';
  const byValues: KeyNode = { next: new Map(), stream: undefined };
  const byLabels = new Map<string, Stream>();
  const seconds = new SecondsCache();
  const values: string[] = new Array<string>(o.labels.length).fill('');
  // JSON lines cut to fit, by entry index (rare).
  let cutLines: Map<number, string> | undefined;
  let truncated = 0;
  let sanitised = 0;
  let limited = 0;
  let badTime = 0;
  let lineBytes = 0;

  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e]!;
    lineBytes += entry.bytes;
    // Either the scan found the fields (body stays undefined) or the line is parsed once.
    let body: FlyLogBody | undefined;
    let scannedOk = false;
    if (needsBody) {
      scannedOk = canScan && scanLine(entry.line);
      if (!scannedOk) body = parseBody(entry);
    }
    const level = needsLevel ? normaliseLevel(scannedOk ? scannedLevel(entry.line) : entryLevel(body!)) : '';

    let node = byValues;
    for (let i = 0; i < o.labels.length; i++) {
      const v = fieldValue(o.labels[i]!, entry, body, level);
      values[i] = v;
      let child = node.next.get(v);
      if (child === undefined) {
        child = { next: new Map(), stream: undefined };
        node.next.set(v, child);
      }
      node = child;
    }
    let stream = node.stream;
    if (stream === undefined) {
      const made = makeStream(values, o, withMeta);
      // Different raw values can sanitise to the same label set: they share one stream.
      stream = byLabels.get(made.labelsJson) ?? made;
      byLabels.set(stream.labelsJson, stream);
      node.stream = stream;
    }
    if (stream.sanitised) sanitised++;
    if (stream.limited) limited++;

    const secs = seconds.secondsOf(entry.timestamp);
    let ts = entry.timestamp;
    if (secs === '') {
      const ns = nanosOf(ts, seconds);
      if (ns === undefined) {
        const ms = Math.trunc(entry.receivedAtMs);
        ts = ms > 0 ? `${ms}000000` : '0';
        badTime++;
      } else {
        ts = ns;
      }
    }

    if (messageLines) {
      let line: string;
      if (scannedOk) {
        line = scannedMessage(entry.line);
      } else {
        const m = body!.message;
        line = typeof m === 'string' ? m : m === undefined || m === null ? '' : JSON.stringify(m);
      }
      // A string of n UTF-16 units is at most 3n bytes of UTF-8: most lines skip the measuring.
      if (line.length * 3 > o.maxLineBytes && Buffer.byteLength(line) > o.maxLineBytes) {
        line = `${cutUtf8(line, o.maxLineBytes - 3)}…`;
        truncated++;
      }
      stream.lines.push(line);
    } else if (entry.bytes > o.maxLineBytes) {
      body ??= parseBody(entry);
      (cutLines ??= new Map()).set(e, truncateJsonLine(body, entry.line, o.maxLineBytes));
      truncated++;
    }

    const last = stream.ts.length - 1;
    if (stream.sorted && last >= 0) {
      const prevTs = stream.ts[last]!;
      const prevSecs = stream.secs[last]!;
      // Two Fly-form timestamps of one length compare as text; anything else as nanoseconds.
      const later =
        secs !== '' && prevSecs !== '' && prevTs.length === ts.length
          ? prevTs > ts
          : compareNanos(nanosText(prevTs, prevSecs), nanosText(ts, secs)) > 0;
      if (later) stream.sorted = false;
    }
    stream.ts.push(ts);
    stream.secs.push(secs);
    stream.index.push(e);
    if (stream.meta !== undefined) {
      let meta = '';
      for (const field of o.structuredMetadata) {
        const v = fieldValue(field, entry, body, level);
        if (v !== '') meta += `${meta === '' ? '{' : ','}"${field}":${JSON.stringify(v)}`;
      }
      stream.meta.push(meta === '' ? '' : `${meta}}`);
    }
  }

  // Escaping adds a little to the lines, and each value ~40 bytes of framing; Out grows if that is short.
  const out = new Out(lineBytes + (lineBytes >>> 3) + entries.length * 40 + 64);
  out.text('{"streams":[');
  let first = true;
  for (const s of byLabels.values()) {
    out.text(first ? '{"stream":' : ',{"stream":');
    out.text(s.labelsJson);
    out.text(',"values":[');
    first = false;
    let order: number[] | undefined;
    if (!s.sorted) {
      const nanos = s.ts.map((t, i) => nanosText(t, s.secs[i]!));
      order = Array.from(nanos.keys()).sort((a, b) => compareNanos(nanos[a]!, nanos[b]!));
    }
    for (let k = 0; k < s.ts.length; k++) {
      const i = order === undefined ? k : order[k]!;
      const ts = s.ts[i]!;
      const secs = s.secs[i]!;
      const e = s.index[i]!;
      const line = messageLines ? s.lines[i]! : (cutLines?.get(e) ?? entries[e]!.line);
      const json = JSON.stringify(line);
      const meta = s.meta?.[i] ?? '';
      out.ensure(8 + secs.length + 9 + ts.length + json.length * 3 + meta.length * 3);
      const buf = out.buf;
      let pos = out.pos;
      if (k > 0) buf[pos++] = 44; /* , */
      buf[pos++] = 91; /* [ */
      buf[pos++] = 34; /* " */
      if (secs === '') {
        pos += buf.write(ts, pos, 'latin1');
      } else {
        // Whole seconds, then the fraction's digits copied from the timestamp, zero-padded to 9.
        pos += buf.write(secs, pos, 'latin1');
        const end = ts.length - 1;
        for (let j = 20; j < end; j++) buf[pos++] = ts.charCodeAt(j);
        for (let j = end - 20; j < 9; j++) buf[pos++] = 48; /* 0 */
      }
      buf[pos++] = 34;
      buf[pos++] = 44;
      pos += buf.write(json, pos, 'utf8');
      if (meta !== '') {
        buf[pos++] = 44;
        pos += buf.write(meta, pos, 'utf8');
      }
      buf[pos++] = 93; /* ] */
      out.pos = pos;
    }
    out.text(']}');
  }
  out.text(']}');

  const adjusted: Partial<Record<AdjustReason, number>> = {};
  if (truncated > 0) adjusted.line_truncated = truncated;
  if (sanitised > 0) adjusted.label_sanitised = sanitised;
  if (limited > 0) adjusted.labels_limited = limited;
  if (badTime > 0) adjusted.timestamp_invalid = badTime;
  return { body: out.buf.subarray(0, out.pos), entryCount: entries.length, streamCount: byLabels.size, adjusted };
}

/** The push document as a string (tests and debugging; the sink sends buildPush's bytes). */
export function buildPushBody(entries: readonly LogEntry[], o: LokiEncodeOptions): PushBody {
  const push = buildPush(entries, o);
  return { json: push.body.toString('utf8'), entryCount: push.entryCount, streamCount: push.streamCount, adjusted: push.adjusted };
}

/**
 * Gzip level: 1–3 go to the native encoder (src/compress.ts), a fraction of zlib level 6's
 * CPU for a body a few percent larger; compression was most of the sink's CPU.
 */
export const GZIP_LEVEL = 1;

/** The gzip-compressed push body (compressed on the libuv pool, off the event loop). */
export async function encodePush(entries: readonly LogEntry[], o: LokiEncodeOptions): Promise<EncodedBatch> {
  const push = buildPush(entries, o);
  let body: Buffer;
  try {
    body = await gzip(push.body, GZIP_LEVEL);
  } finally {
    releasePushBuffer(push.body);
  }
  const adjusted = Object.keys(push.adjusted).length > 0 ? push.adjusted : undefined;
  return adjusted === undefined ? { body, entryCount: push.entryCount } : { body, entryCount: push.entryCount, adjusted };
}
