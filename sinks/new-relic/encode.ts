// New Relic Log API body: `[{"logs": [...]}]`, each log the entry's own attributes (New
// Relic flattens nested objects: fly.app.name, log.level) with `timestamp` as Unix epoch
// milliseconds (what the Log API reads as the log's time), Fly's RFC3339 timestamp kept to
// the nanosecond in `rfc3339_timestamp`, and hostname (the instance), service.name (the
// app) and level. The numeric timestamp replaces Fly's string, so each record is built anew.
import type { Batch } from '../../src/pipeline/sink.js';
import type { BuiltBody } from '../shared/vendor-http.js';
import { bump, capRecord, readRecords, type FlyRecord } from '../shared/fly-fields.js';

/** The Log API's limit: 1 MB (10^6 bytes) per POST, compressed. An entry must fit one. */
export const NEW_RELIC_MAX_PAYLOAD_BYTES = 1_000_000;
// An entry that will not compress below the payload limit cannot be sent; well before that,
// New Relic keeps 128 KB of an attribute and truncates the rest itself.
const MAX_RECORD_BYTES = 1_000_000;

function record(r: FlyRecord, line: string): string {
  const body = line === r.line ? r.body : (JSON.parse(line) as Record<string, unknown>);
  return JSON.stringify({
    ...body,
    timestamp: r.timeMs,
    rfc3339_timestamp: r.timestamp,
    hostname: r.instance,
    'service.name': r.app,
    level: r.level,
  });
}

export function buildNewRelicBody(batch: Batch): BuiltBody {
  const records: string[] = [];
  const dropped: Record<string, number> = {};
  const adjusted: Record<string, number> = {};
  for (const r of readRecords(batch)) {
    const capped = capRecord(r, MAX_RECORD_BYTES, (line) => record(r, line));
    if (capped.json === undefined) {
      bump(dropped, 'entry_too_large');
      continue;
    }
    if (capped.truncated) bump(adjusted, 'message_truncated');
    if (!r.timeValid) bump(adjusted, 'timestamp_invalid');
    records.push(capped.json);
  }
  return { plain: Buffer.from(`[{"logs":[${records.join(',')}]}]`, 'utf8'), entryCount: records.length, dropped, adjusted };
}
