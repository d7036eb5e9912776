// Honeycomb batch API body: a JSON array of `{"time": <Fly's RFC3339 timestamp>, "data":
// <the entry's own object>}`; the entry's line goes in as it came, not re-serialised.
import type { Batch } from '../../src/pipeline/sink.js';
import type { BuiltBody } from '../shared/vendor-http.js';
import { bump, capRecord, jsonArray, q, readRecords } from '../shared/fly-fields.js';

/** Honeycomb's limits: 1 MB per event, 5 MB per batch request (uncompressed). */
export const HONEYCOMB_MAX_EVENT_BYTES = 1_000_000;
export const HONEYCOMB_MAX_REQUEST_BYTES = 5_000_000;
/** Events per request: the 200 answer carries one status each, and the transport reads its first 64 KiB. */
export const HONEYCOMB_MAX_EVENTS = 1000;

export function buildHoneycombBody(batch: Batch): BuiltBody {
  const records: string[] = [];
  const dropped: Record<string, number> = {};
  const adjusted: Record<string, number> = {};
  for (const r of readRecords(batch)) {
    // An unreadable time is left out: Honeycomb then uses its arrival time.
    const time = r.timeValid ? `"time":${q(r.timestamp)},` : '';
    const capped = capRecord(r, HONEYCOMB_MAX_EVENT_BYTES, (line) => `{${time}"data":${line}}`);
    if (capped.json === undefined) {
      bump(dropped, 'entry_too_large');
      continue;
    }
    if (capped.truncated) bump(adjusted, 'message_truncated');
    records.push(capped.json);
  }
  return { plain: jsonArray(records), entryCount: records.length, dropped, adjusted };
}
