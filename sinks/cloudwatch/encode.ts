// PutLogEvents bodies. Each entry is one log event: `timestamp` in epoch milliseconds and
// the entry's JSON line as `message` (fly-log-shipper's json codec). Events are sorted by
// time (stable), as PutLogEvents requires, and the service's limits are measured here:
// 10,000 events, 1,048,576 bytes (each message's UTF-8 bytes plus 26), 24 hours between
// the first and last event, 256 KB per event.
import { EntryView, type LogEntry } from '../../src/intake/entry.js';
import type { Batch } from '../../src/pipeline/sink.js';
import type { BuiltBody } from '../shared/vendor-http.js';
import { bump, capRecord, q, readRecords } from '../shared/fly-fields.js';

export const CW_MAX_EVENTS = 10_000;
export const CW_MAX_REQUEST_BYTES = 1_048_576;
export const CW_EVENT_OVERHEAD = 26;
export const CW_MAX_SPAN_MS = 24 * 3600_000;
export const CW_MAX_EVENT_BYTES = 256 * 1024 - CW_EVENT_OVERHEAD;

const HOST_KEY = Buffer.from('"host":"');

/** The stream an entry goes to: `<app>/<host>` as fly-log-shipper names it (the instance when the entry has no host). */
export function streamName(entry: LogEntry): string {
  let host = '';
  if (entry instanceof EntryView) {
    const bytes = entry.buf.subarray(entry.start, entry.end);
    const at = bytes.indexOf(HOST_KEY);
    if (at !== -1) {
      const from = at + HOST_KEY.length;
      const to = bytes.indexOf(0x22, from);
      const backslash = bytes.indexOf(0x5c, from);
      // An escaped value is rare: JSON.parse reads it right.
      if (to !== -1) host = backslash !== -1 && backslash < to ? hostFromLine(entry.line) : bytes.toString('utf8', from, to);
    }
  } else {
    host = hostFromLine(entry.line);
  }
  // Stream names cannot contain ':' or '*' and hold at most 512 characters.
  return `${entry.app}/${host === '' ? entry.instance : host}`.replace(/[:*]/g, '_').slice(0, 512);
}

function hostFromLine(line: string): string {
  try {
    const h = (JSON.parse(line) as { host?: unknown }).host;
    return typeof h === 'string' ? h : '';
  } catch {
    return '';
  }
}

export function buildPutLogEventsBody(batch: Batch, group: string): BuiltBody {
  const dropped: Record<string, number> = {};
  const adjusted: Record<string, number> = {};
  const events: Array<{ t: number; json: string; size: number }> = [];
  for (const r of readRecords(batch)) {
    const capped = capRecord(r, CW_MAX_EVENT_BYTES, (line) => line);
    if (capped.json === undefined) {
      bump(dropped, 'entry_too_large');
      continue;
    }
    if (capped.truncated) bump(adjusted, 'message_truncated');
    if (!r.timeValid) bump(adjusted, 'timestamp_invalid');
    events.push({ t: r.timeMs, json: capped.json, size: Buffer.byteLength(capped.json) + CW_EVENT_OVERHEAD });
  }
  // Array.prototype.sort is stable: entries with the same millisecond keep their order.
  events.sort((a, b) => a.t - b.t);
  let bytes = 0;
  for (const e of events) bytes += e.size;
  const span = events.length > 0 ? events[events.length - 1]!.t - events[0]!.t : 0;
  const parts = events.map((e) => `{"timestamp":${e.t},"message":${q(e.json)}}`);
  const body = `{"logGroupName":${q(group)},"logStreamName":${q(batch.partition)},"logEvents":[${parts.join(',')}]}`;
  return {
    plain: Buffer.from(body, 'utf8'),
    entryCount: events.length,
    dropped,
    adjusted,
    meta: { serviceBytes: String(bytes), spanMs: String(span), stream: batch.partition },
  };
}
