// The fields vendor destinations put on each record (time, level, app, instance, host,
// message), read once per batch from the batch's lines; plus the helpers their encoders
// share: splicing vendor fields into Fly's original line (no re-serialisation), capping a
// record's size by cutting its message, and the local "too large for one request" error.
import { EntryView, entryLevel, messageFields, type FlyLogBody } from '../../src/intake/entry.js';
import { forEachLine, readEntry } from '../../src/pipeline/batch.js';
import type { Batch } from '../../src/pipeline/sink.js';
import { LogferryError } from '../../src/errors.js';

export interface FlyRecord {
  /** The entry's line (one line of JSON, Fly's bytes when they were good). */
  readonly line: string;
  readonly body: FlyLogBody;
  readonly app: string;
  readonly region: string;
  readonly instance: string;
  /** Fly's `host` field (the physical host's id); '' when absent. */
  readonly host: string;
  /** The app's own JSON level when it logs JSON, else Fly's log.level; 'unknown' when neither. */
  readonly level: string;
  /** RFC3339 as Fly sent it. */
  readonly timestamp: string;
  /** The timestamp in ms since the epoch; the batch's receive time when it cannot be read (`timeValid` false). */
  readonly timeMs: number;
  readonly timeValid: boolean;
  /** `message` as a string ('' when absent or not a string). */
  readonly message: string;
}

/** Every entry of the batch with its fields (one JSON.parse per entry, once per batch). */
export function readRecords(batch: Batch): FlyRecord[] {
  const out: FlyRecord[] = [];
  const view = new EntryView();
  forEachLine(batch, (start, end) => {
    const entry = readEntry(batch, start, end, view);
    if (entry === undefined) return;
    const line = entry.line;
    let body: FlyLogBody;
    try {
      const parsed: unknown = JSON.parse(line);
      body = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as FlyLogBody) : { message: line };
    } catch {
      body = { message: line };
    }
    const parsedMs = Date.parse(entry.timestamp);
    const timeValid = !Number.isNaN(parsedMs);
    out.push({
      line,
      body,
      app: entry.app,
      region: entry.region,
      instance: entry.instance,
      host: typeof body.host === 'string' ? body.host : '',
      level: entryLevel(body, messageFields(body)),
      timestamp: entry.timestamp,
      timeMs: timeValid ? parsedMs : batch.receivedAtMs,
      timeValid,
      message: typeof body.message === 'string' ? body.message : '',
    });
  });
  return out;
}

/**
 * `{<fields>, <the line's own members>}`: vendor fields in front of Fly's original bytes.
 * `fields` is a JSON member list without braces (`"a":1,"b":"x"`). Lines are JSON objects.
 */
export function spliceObject(fields: string, line: string): string {
  let i = 1;
  while (i < line.length && (line.charCodeAt(i) === 0x20 || line.charCodeAt(i) === 0x09)) i++;
  const empty = line.charCodeAt(i) === 0x7d; /* } */
  return empty ? `{${fields}}` : `{${fields},${line.slice(1)}`;
}

/** Longest prefix of `text` whose UTF-8 form fits `maxBytes`, never splitting a character. */
export function cutUtf8(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

/** Counts reasons into a record (for EncodedBatch.dropped / adjusted). */
export function bump(into: Record<string, number>, reason: string, n = 1): void {
  into[reason] = (into[reason] ?? 0) + n;
}

export interface CappedRecord {
  /** The record's JSON, or undefined when even an empty message does not fit (drop it). */
  readonly json: string | undefined;
  readonly truncated: boolean;
}

/**
 * Keeps a record under a vendor's per-entry limit: when `build(r.line)` is too large, the
 * record is built again from the entry with its message cut to fit (counted as adjusted by
 * the caller). Rare, so the slow path may re-serialise.
 */
export function capRecord(r: FlyRecord, maxBytes: number, build: (line: string) => string): CappedRecord {
  const json = build(r.line);
  const size = Buffer.byteLength(json);
  if (size <= maxBytes) return { json, truncated: false };
  const withoutMessage = build(JSON.stringify({ ...r.body, message: '' }));
  const room = maxBytes - Buffer.byteLength(withoutMessage);
  // JSON escaping can make a character up to 6 bytes; cut conservatively and check again.
  if (room <= 0) return { json: undefined, truncated: false };
  let cut = cutUtf8(r.message, room);
  for (;;) {
    const candidate = build(JSON.stringify({ ...r.body, message: cut }));
    if (Buffer.byteLength(candidate) <= maxBytes) return { json: candidate, truncated: true };
    if (cut === '') return { json: undefined, truncated: false };
    cut = cutUtf8(cut, Math.floor(Buffer.byteLength(cut) * 0.8));
  }
}

/**
 * The request body breaks a vendor's documented request limit (bytes, entries, time span):
 * found before sending, so the batch is split (classify → 'split') rather than refused.
 */
export class RequestLimitError extends LogferryError {
  constructor(message: string) {
    super('SINK_REQUEST_LIMIT', message);
  }
}

/** Joins record JSON strings into a JSON array body. */
export function jsonArray(records: readonly string[]): Buffer {
  return Buffer.from(`[${records.join(',')}]`, 'utf8');
}

/** JSON string literal of a value (for building member lists). */
export const q = (value: string): string => JSON.stringify(value);
