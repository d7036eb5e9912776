// A Fly log entry as it moves through logferry, and the parsing that makes one from a
// NATS message. Parsing never throws: a payload that is not a Fly JSON object becomes an
// entry that keeps the raw text, flagged under `logferry.malformed`.
import { isUtf8 } from 'node:buffer';
import { LRUCache } from 'lru-cache';
import { fieldSchema, scanJson, type FieldSchema, type ScanResult } from '../codec/json-scan.js';

/** The routing fields' span slots (start at [2k], end at [2k+1] of a spans array). */
export const FIELD_TIMESTAMP = 0;
export const FIELD_REGION = 1;
export const FIELD_APP_NAME = 2;
export const FIELD_APP_INSTANCE = 3;
/** The fields the intake routes by, for scanJson. */
export const FLY_ROUTING_FIELDS = fieldSchema({
  timestamp: FIELD_TIMESTAMP,
  fly: { region: FIELD_REGION, app: { name: FIELD_APP_NAME, instance: FIELD_APP_INSTANCE } },
});
/** The other Fly fields a sink may read per entry (Loki: labels, level, message), after the routing ones. */
export const FIELD_HOST = 4;
export const FIELD_MESSAGE = 5;
export const FIELD_PROVIDER = 6;
export const FIELD_LOG_LEVEL = 7;
export const FIELD_PROCESS_GROUP = 8;
export const FIELD_ZONE = 9;
export const FLY_FIELD_SLOTS = 10;
/** Every Fly field a sink reads; the message keeps its span when it has escapes (it is copied or escaped whole). */
export const FLY_FIELDS = fieldSchema(
  {
    timestamp: FIELD_TIMESTAMP,
    host: FIELD_HOST,
    message: FIELD_MESSAGE,
    event: { provider: FIELD_PROVIDER },
    log: { level: FIELD_LOG_LEVEL },
    fly: { region: FIELD_REGION, zone: FIELD_ZONE, app: { name: FIELD_APP_NAME, instance: FIELD_APP_INSTANCE, process_group: FIELD_PROCESS_GROUP } },
  },
  [FIELD_MESSAGE],
);

// What the intake's one scan looks for: the routing fields, or every Fly field when a sink
// reads them per entry (its batches then carry the spans, and it scans no line again).
let intakeSchema: FieldSchema = FLY_ROUTING_FIELDS;

/** Whether the intake scans every Fly field (FLY_FIELDS) and entries carry their spans; set once at start-up. */
export function scanAllFlyFieldsAtIntake(on: boolean): void {
  intakeSchema = on ? FLY_FIELDS : FLY_ROUTING_FIELDS;
}

/** scanJson for the routing fields (spans: 8 entries). */
export function scanFlyJson(b: Uint8Array, spans: Int32Array, result: ScanResult, start = 0, end = b.length): void {
  scanJson(b, FLY_ROUTING_FIELDS, spans, result, start, end);
}

export interface LogEntry {
  /** The entry as one line of JSON (no raw newline): Fly's original bytes whenever they were a valid JSON object. */
  readonly line: string;
  /** UTF-8 length of `line`; what buffers and batches are measured in. */
  readonly bytes: number;
  readonly app: string;
  readonly region: string;
  readonly instance: string;
  /** RFC3339 as Fly sent it, nanoseconds intact (a JS Date would keep only milliseconds). */
  readonly timestamp: string;
  /** Wall clock when the agent received it (ms since epoch); for latency and age, never for the entry's time. */
  readonly receivedAtMs: number;
}

export type MalformedReason = 'invalid_json' | 'not_an_object' | 'invalid_utf8';

export type ParseResult =
  | { readonly kind: 'entry'; readonly entry: LogEntry; readonly malformed?: MalformedReason }
  | { readonly kind: 'dropped'; readonly reason: 'empty_payload' };

/** The parts of a Fly entry logferry reads; everything else is kept untouched in `line`. */
export interface FlyLogBody {
  timestamp?: unknown;
  message?: unknown;
  log?: { level?: unknown; [k: string]: unknown };
  fly?: { app?: { name?: unknown; instance?: unknown; process_group?: unknown; [k: string]: unknown }; region?: unknown; zone?: unknown; [k: string]: unknown };
  host?: unknown;
  event?: { provider?: unknown; [k: string]: unknown };
  [k: string]: unknown;
}

export interface SubjectParts {
  readonly app: string;
  readonly region: string;
  readonly instance: string;
}

const EMPTY_PARTS: SubjectParts = { app: '', region: '', instance: '' };
// Subjects repeat (one per app instance), so splitting each once is enough. Subjects are
// whatever the org's machines publish, so the cache is bounded: least recently seen goes.
// lru-cache allocates its arrays for `max` up front (~22 bytes a slot, ~1 MiB at 50,000),
// so the bound is the busiest org's running machines with room, not every machine ever seen.
const SUBJECT_CACHE_MAX = 8_192;
const subjectCache = new LRUCache<string, SubjectParts>({ max: SUBJECT_CACHE_MAX });

// One string per distinct part (an app has many instances): the partition cache's Map
// lookups by app then find the very same string and compare no characters.
const partStrings = new LRUCache<string, string>({ max: SUBJECT_CACHE_MAX });

/**
 * The string as one of its own rather than a slice of a longer one (V8 makes substrings of
 * 13 characters and more as slices, whose characters are read through the slice): for
 * strings kept and compared per entry.
 */
export function ownString(text: string): string {
  const copy = Buffer.from(text, 'utf8').toString('utf8');
  return copy === text ? copy : text;
}

/** A subject part as a string of its own, shared by every subject with that part. */
function ownPart(part: string): string {
  const known = partStrings.get(part);
  if (known !== undefined) return known;
  const own = ownString(part);
  partStrings.set(own, own);
  return own;
}

/** `logs.<app>.<region>.<instance>` → its parts; anything else gives empty strings where a part is missing. */
export function parseSubject(subject: string): SubjectParts {
  const cached = subjectCache.get(subject);
  if (cached !== undefined) return cached;
  const tokens = subject.split('.');
  const parts: SubjectParts =
    tokens[0] === 'logs'
      ? { app: ownPart(tokens[1] ?? ''), region: ownPart(tokens[2] ?? ''), instance: ownPart(tokens.slice(3).join('.')) }
      : EMPTY_PARTS;
  subjectCache.set(subject, parts);
  return parts;
}

const utf8Lossy = new TextDecoder('utf-8');
const encoder = new TextEncoder();
const EMPTY_BUFFER = Buffer.alloc(0);

/**
 * An entry during intake: a view of its line's bytes (Fly's original bytes whenever they
 * were a good line) and its routing fields, decoded to strings only when someone asks.
 * The router reuses one view for every message, so it is valid only until the next one:
 * a pipeline copies the bytes into its batch and keeps nothing else.
 */
export class EntryView implements LogEntry {
  /** The line is `buf[start, end)`: UTF-8, one line of JSON, no raw newline. */
  buf: Buffer = EMPTY_BUFFER;
  start = 0;
  end = 0;
  receivedAtMs = 0;
  #subject: SubjectParts = EMPTY_PARTS;
  // Byte spans of the fields in `buf` (from the scan). Each field is decoded on first use:
  // the HTTP sink uses none, S3 the app and timestamp, so most are never made into strings.
  readonly #spans = new Int32Array(FLY_FIELD_SLOTS * 2);
  #escapedFields = 0;
  #allFields = false;
  #line: string | undefined;
  #app: string | undefined;
  #region: string | undefined;
  #instance: string | undefined;
  #timestamp: string | undefined;

  get bytes(): number {
    return this.end - this.start;
  }

  get line(): string {
    return (this.#line ??= this.buf.toString('utf8', this.start, this.end));
  }

  get app(): string {
    return (this.#app ??= this.#field(FIELD_APP_NAME, this.#subject.app));
  }

  get region(): string {
    return (this.#region ??= this.#field(FIELD_REGION, this.#subject.region));
  }

  get instance(): string {
    return (this.#instance ??= this.#field(FIELD_APP_INSTANCE, this.#subject.instance));
  }

  get timestamp(): string {
    return (this.#timestamp ??= this.#field(FIELD_TIMESTAMP, ''));
  }

  /** The timestamp starts with `prefix` (ASCII), compared on the bytes: nothing decoded. */
  timestampStartsWith(prefix: string): boolean {
    if (this.#timestamp !== undefined) return this.#timestamp.startsWith(prefix);
    const start = this.#spans[FIELD_TIMESTAMP * 2]!;
    return this.#spans[FIELD_TIMESTAMP * 2 + 1]! - start >= prefix.length && asciiAt(this.buf, start, prefix);
  }

  /** The timestamp is in Fly's UTC form (`…T…Z`, at least 20 characters), checked on the bytes. */
  timestampIsUtcZ(): boolean {
    if (this.#timestamp !== undefined) return isUtcZ(this.#timestamp);
    const start = this.#spans[FIELD_TIMESTAMP * 2]!;
    const end = this.#spans[FIELD_TIMESTAMP * 2 + 1]!;
    return end - start >= 20 && this.buf[end - 1] === 90 /* Z */ && this.buf[start + 10] === 84 /* T */;
  }

  /**
   * Every Fly field's span (FLY_FIELDS slots, offsets into `buf`) when the intake scanned
   * them all (see scanAllFlyFieldsAtIntake); undefined otherwise. Valid until the next message.
   */
  get allFieldSpans(): Int32Array | undefined {
    return this.#allFields ? this.#spans : undefined;
  }

  /** With allFieldSpans: bit k set when slot k (the message) is a string with escapes. */
  get escapedFields(): number {
    return this.#escapedFields;
  }

  /** A plain object with the same values, safe to keep. */
  toEntry(): LogEntry {
    return { line: this.line, bytes: this.bytes, app: this.app, region: this.region, instance: this.instance, timestamp: this.timestamp, receivedAtMs: this.receivedAtMs };
  }

  /** Points the view at a good line whose fields the scan found (spans: offsets into buf). */
  setScanned(buf: Buffer, start: number, end: number, subject: SubjectParts, fieldSpans: Int32Array, receivedAtMs: number, allFields = false, escapedFields = 0): void {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.receivedAtMs = receivedAtMs;
    this.#subject = subject;
    this.#spans.set(fieldSpans);
    this.#allFields = allFields;
    this.#escapedFields = escapedFields;
    this.#line = undefined;
    this.#app = undefined;
    this.#region = undefined;
    this.#instance = undefined;
    this.#timestamp = undefined;
  }

  /** Points the view at an entry the slow path built (re-serialised or wrapped): rare, so encoding its line is fine. */
  setEntry(entry: LogEntry): void {
    this.buf = Buffer.from(entry.line, 'utf8');
    this.start = 0;
    this.end = this.buf.length;
    this.receivedAtMs = entry.receivedAtMs;
    this.#allFields = false;
    this.#line = entry.line;
    this.#app = entry.app;
    this.#region = entry.region;
    this.#instance = entry.instance;
    this.#timestamp = entry.timestamp;
  }

  /** A field's string. When its bytes spell the subject's (ASCII) string, that string is used: no decoding, nothing allocated. */
  #field(which: number, same: string): string {
    const start = this.#spans[which * 2]!;
    const end = this.#spans[which * 2 + 1]!;
    if (end - start === same.length && asciiAt(this.buf, start, same)) return same;
    return this.buf.toString('utf8', start, end);
  }
}

/**
 * `buf` at `start` holds `text`, which is ASCII, byte for byte. (ASCII only: a subject
 * string is decoded as latin1, a field as UTF-8; beyond ASCII equal bytes are not equal text.)
 */
function asciiAt(buf: Buffer, start: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) {
    const c = buf[start + k]!;
    if (c !== text.charCodeAt(k) || c >= 0x80) return false;
  }
  return true;
}

export type IntakeOutcome = 'entry' | 'empty_payload' | MalformedReason;

// Scratch space for the scanner: the intake is synchronous, one message at a time.
const spans = new Int32Array(FLY_FIELD_SLOTS * 2);
const scan: ScanResult = { valid: false, multiline: false, ambiguous: false, escaped: 0 };

/**
 * The hot path: one NATS payload (`buf[start, end)`) → `view`. A good Fly line (the common
 * case) is scanned in place: nothing is copied, decoded or allocated. Anything else goes
 * the slow way (parse, fill, re-serialise or wrap), and `view` then holds the new line.
 * Returns 'entry', a malformed reason (the view holds the wrapped entry), or 'empty_payload'
 * (the view is untouched). Never throws.
 */
export function intake(fromSubject: SubjectParts, buf: Buffer, start: number, end: number, receivedAtMs: number, view: EntryView): IntakeOutcome {
  if (end <= start) return 'empty_payload';
  const schema = intakeSchema;
  scanJson(buf, schema, spans, scan, start, end);
  if (scan.valid && !scan.multiline && !scan.ambiguous && present(FIELD_TIMESTAMP) && present(FIELD_APP_NAME) && present(FIELD_REGION) && present(FIELD_APP_INSTANCE)) {
    view.setScanned(buf, start, end, fromSubject, spans, receivedAtMs, schema === FLY_FIELDS, scan.escaped);
    return 'entry';
  }
  const result = parseSlowly(buf.subarray(start, end), fromSubject, receivedAtMs);
  view.setEntry(result.entry);
  return result.malformed ?? 'entry';
}

/**
 * Turns one NATS message into an entry that is safe to keep. `data.length` is used as the
 * byte size of the original line, so no re-encoding happens.
 */
export function parseFlyMessage(subject: string, data: Uint8Array, receivedAtMs: number): ParseResult {
  return parseFlyPayload(parseSubject(subject), data, receivedAtMs);
}

const scratchView = new EntryView();

/** parseFlyMessage for a caller that already split the subject. */
export function parseFlyPayload(fromSubject: SubjectParts, data: Uint8Array, receivedAtMs: number): ParseResult {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length);
  const outcome = intake(fromSubject, bytes, 0, bytes.length, receivedAtMs, scratchView);
  if (outcome === 'empty_payload') return { kind: 'dropped', reason: 'empty_payload' };
  const entry = scratchView.toEntry();
  return outcome === 'entry' ? { kind: 'entry', entry } : { kind: 'entry', entry, malformed: outcome };
}

/** The scanned field is a plain, non-empty string. */
function present(which: number): boolean {
  const start = spans[which * 2]!;
  return start >= 0 && spans[which * 2 + 1]! > start;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

interface SlowResult {
  readonly entry: LogEntry;
  readonly malformed?: MalformedReason;
}

/** Everything else: JSON.parse, fill what is missing, re-serialise when needed, or wrap what is not a Fly object. */
function parseSlowly(bytes: Buffer, fromSubject: SubjectParts, receivedAtMs: number): SlowResult {
  if (!isUtf8(bytes)) {
    return wrapMalformed(utf8Lossy.decode(bytes), fromSubject, receivedAtMs, 'invalid_utf8', bytes.toString('base64'));
  }
  const text = bytes.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return wrapMalformed(text, fromSubject, receivedAtMs, 'invalid_json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return wrapMalformed(text, fromSubject, receivedAtMs, 'not_an_object');
  }
  return { entry: entryFromBody(body as FlyLogBody, text, bytes.length, fromSubject, receivedAtMs) };
}

function entryFromBody(body: FlyLogBody, text: string, bytes: number, fromSubject: SubjectParts, receivedAtMs: number): LogEntry {
  const fly = body.fly;
  const flyApp = fly?.app;
  let app = str(flyApp?.name);
  let region = str(fly?.region);
  let instance = str(flyApp?.instance);
  let timestamp = str(body.timestamp);
  // Pretty-printed JSON would break NDJSON framing; such payloads are rare, so re-serialising them is fine.
  let rewrite = text.includes('\n') || text.includes('\r');
  if (app === undefined || region === undefined || instance === undefined || timestamp === undefined) {
    // Fill what the body lacks from the subject (and the receive time), so every sink sees the same fields.
    const f = (body.fly ??= {});
    const a = (f.app ??= {});
    if (app === undefined && fromSubject.app !== '') a.name = app = fromSubject.app;
    if (instance === undefined && fromSubject.instance !== '') a.instance = instance = fromSubject.instance;
    if (region === undefined && fromSubject.region !== '') f.region = region = fromSubject.region;
    if (timestamp === undefined) body.timestamp = timestamp = new Date(receivedAtMs).toISOString();
    rewrite = true;
  }
  let line = text;
  if (rewrite) {
    line = JSON.stringify(body);
    bytes = Buffer.byteLength(line);
  }
  return { line, bytes, app: app ?? '', region: region ?? '', instance: instance ?? '', timestamp, receivedAtMs };
}

function wrapMalformed(
  text: string,
  fromSubject: SubjectParts,
  receivedAtMs: number,
  reason: MalformedReason,
  rawBase64?: string,
): SlowResult {
  const timestamp = new Date(receivedAtMs).toISOString();
  const body = {
    fly: { app: { name: fromSubject.app, instance: fromSubject.instance }, region: fromSubject.region },
    log: { level: 'info' },
    message: text,
    timestamp,
    logferry: rawBase64 === undefined ? { malformed: reason } : { malformed: reason, raw_base64: rawBase64 },
  };
  const line = JSON.stringify(body);
  return {
    malformed: reason,
    entry: {
      line,
      bytes: Buffer.byteLength(line),
      app: fromSubject.app,
      region: fromSubject.region,
      instance: fromSubject.instance,
      timestamp,
      receivedAtMs,
    },
  };
}

/** Re-creates an entry from a line logferry produced earlier (spool replay, tests). Never throws. */
export function entryFromLine(line: string, receivedAtMs: number): LogEntry {
  const data = encoder.encode(line);
  const parsed = parseFlyMessage('', data, receivedAtMs);
  if (parsed.kind === 'entry') return parsed.entry;
  return { line: '{}', bytes: 2, app: '', region: '', instance: '', timestamp: new Date(receivedAtMs).toISOString(), receivedAtMs };
}

/** The parsed body of an entry, for sinks that need fields beyond the routing ones. Parse once per batch, not per use. */
export function parseBody(entry: LogEntry): FlyLogBody {
  try {
    const v: unknown = JSON.parse(entry.line);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as FlyLogBody;
  } catch {
    // Lines are produced by parseFlyMessage and are always JSON objects; this is belt and braces.
  }
  return { message: entry.line };
}

/** When the app logged JSON (`message` is a JSON object), its fields; otherwise undefined. */
export function messageFields(body: FlyLogBody): Record<string, unknown> | undefined {
  const m = body.message;
  if (typeof m !== 'string' || m.length < 2 || m.charCodeAt(0) !== 123 /* { */) return undefined;
  try {
    const v: unknown = JSON.parse(m);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Not JSON after all; the message stays a plain string.
  }
  return undefined;
}

// pino and bunyan log numeric levels.
const NUMERIC_LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** The app's own level from its JSON message's fields (`level`, `severity` or `lvl`); undefined when it has none usable. */
export function appLevel(fields: Record<string, unknown>): string | undefined {
  const v = fields.level ?? fields.severity ?? fields.lvl;
  if (typeof v === 'string' && v !== '') return v.toLowerCase();
  if (typeof v === 'number') return NUMERIC_LEVELS[v] ?? String(v);
  return undefined;
}

/** The entry's level: the app's own JSON `level` (or `severity`/`lvl`) when the message is JSON, else Fly's `log.level`. */
export function entryLevel(body: FlyLogBody, fields: Record<string, unknown> | undefined = messageFields(body)): string {
  if (fields !== undefined) {
    const own = appLevel(fields);
    if (own !== undefined) return own;
  }
  const l = body.log?.level;
  return typeof l === 'string' && l !== '' ? l.toLowerCase() : 'unknown';
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;

/** Nanoseconds since the epoch as a decimal string, exact to the nanosecond. Undefined when not RFC3339. */
export function timestampNanos(timestamp: string): string | undefined {
  const m = RFC3339.exec(timestamp);
  if (!m) return undefined;
  const wholeSecondsMs = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}${m[6]!.toUpperCase()}`);
  if (Number.isNaN(wholeSecondsMs)) return undefined;
  const fraction = (m[5] ?? '').slice(0, 9).padEnd(9, '0');
  return (BigInt(wholeSecondsMs) * 1_000_000n + BigInt(fraction)).toString();
}

/** A timestamp in Fly's UTC form, `YYYY-MM-DDTHH:MM:SS[.fff…]Z`, whose date and hour are its first 13 characters. */
export function isUtcZ(timestamp: string): boolean {
  return timestamp.length >= 20 && timestamp.charCodeAt(timestamp.length - 1) === 90 /* Z */ && timestamp.charCodeAt(10) === 84 /* T */;
}

/** `timestamp.startsWith(prefix)` and in UTC form; for an intake view, on its bytes without decoding. */
export function utcTimestampStartsWith(entry: LogEntry, prefix: string): boolean {
  if (entry instanceof EntryView) return entry.timestampIsUtcZ() && entry.timestampStartsWith(prefix);
  return isUtcZ(entry.timestamp) && entry.timestamp.startsWith(prefix);
}

/** UTC `YYYY-MM-DD` and `HH` of a timestamp, for date/hour partitions. Falls back to `fallbackMs` when unparseable. */
export function utcDateHour(timestamp: string, fallbackMs: number): { date: string; hour: string } {
  // Fly sends UTC ("...Z"): slicing is exact and cheap. Anything else goes through Date.
  if (isUtcZ(timestamp)) {
    return { date: timestamp.slice(0, 10), hour: timestamp.slice(11, 13) };
  }
  let ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) ms = fallbackMs;
  const iso = new Date(ms).toISOString();
  return { date: iso.slice(0, 10), hour: iso.slice(11, 13) };
}
