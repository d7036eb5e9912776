// Datadog logs intake v2 body: a JSON array of the entries, each Fly's own object with
// Datadog's reserved attributes in front: ddsource, ddtags, hostname (the instance),
// service (the app) and status (the level). Fly's `timestamp` (RFC3339) is Datadog's
// default date attribute, so it stays as sent.
import type { Batch } from '../../src/pipeline/sink.js';
import type { BuiltBody } from '../shared/vendor-http.js';
import { bump, capRecord, jsonArray, q, readRecords, spliceObject, type FlyRecord } from '../shared/fly-fields.js';

/** Datadog's documented limits: 1,000 entries and 5 MB (uncompressed) per request, 1 MB per entry. */
export const DATADOG_MAX_ENTRIES = 1000;
export const DATADOG_MAX_REQUEST_BYTES = 5 * 1024 * 1024;
export const DATADOG_MAX_ENTRY_BYTES = 1024 * 1024;
export const DATADOG_SOURCE = 'fly';
/** Datadog accepts entries up to 18 h old and 2 h ahead, and silently discards the rest (still answering 202). */
export const DATADOG_MAX_AGE_MS = 18 * 3600_000;
export const DATADOG_MAX_AHEAD_MS = 2 * 3600_000;

function fields(r: FlyRecord): string {
  const tags = `fly_app:${r.app},fly_region:${r.region},fly_instance:${r.instance}`;
  return `"ddsource":${q(DATADOG_SOURCE)},"ddtags":${q(tags)},"hostname":${q(r.instance)},"service":${q(r.app)},"status":${q(r.level)}`;
}

/**
 * The request body. Entries Datadog would accept and discard (outside its time window, by
 * `nowMs`) are left out and counted as dropped: they would never be stored.
 */
export function buildDatadogBody(batch: Batch, nowMs: number | undefined): BuiltBody {
  const records: string[] = [];
  const dropped: Record<string, number> = {};
  const adjusted: Record<string, number> = {};
  for (const r of readRecords(batch)) {
    if (nowMs !== undefined && r.timeValid && (nowMs - r.timeMs > DATADOG_MAX_AGE_MS || r.timeMs - nowMs > DATADOG_MAX_AHEAD_MS)) {
      bump(dropped, nowMs > r.timeMs ? 'older_than_18h' : 'more_than_2h_ahead');
      continue;
    }
    const f = fields(r);
    const capped = capRecord(r, DATADOG_MAX_ENTRY_BYTES, (line) => spliceObject(f, line));
    if (capped.json === undefined) {
      bump(dropped, 'entry_too_large');
      continue;
    }
    if (capped.truncated) bump(adjusted, 'message_truncated');
    records.push(capped.json);
  }
  return { plain: jsonArray(records), entryCount: records.length, dropped, adjusted };
}
