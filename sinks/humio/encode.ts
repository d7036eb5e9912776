// LogScale's HEC body: one JSON object per entry, newline-separated, as Splunk's HEC takes
// them: `time` (epoch seconds, millisecond fraction), `host` (the instance, fly-log-shipper's
// host_key fly.app.instance) and `event` (the entry's own object, its line as it came).
import type { Batch } from '../../src/pipeline/sink.js';
import type { BuiltBody } from '../shared/vendor-http.js';
import { bump, capRecord, q, readRecords } from '../shared/fly-fields.js';

/** LogScale truncates events over 1 MB; cutting the message here keeps the event JSON. */
export const HUMIO_MAX_EVENT_BYTES = 1024 * 1024;

export function buildHumioBody(batch: Batch): BuiltBody {
  const records: string[] = [];
  const dropped: Record<string, number> = {};
  const adjusted: Record<string, number> = {};
  for (const r of readRecords(batch)) {
    const head = `{"time":${(r.timeMs / 1000).toFixed(3)},"host":${q(r.instance)},"event":`;
    const capped = capRecord(r, HUMIO_MAX_EVENT_BYTES, (line) => `${head}${line}}`);
    if (capped.json === undefined) {
      bump(dropped, 'entry_too_large');
      continue;
    }
    if (capped.truncated) bump(adjusted, 'message_truncated');
    if (!r.timeValid) bump(adjusted, 'timestamp_invalid');
    records.push(capped.json);
  }
  return { plain: Buffer.from(records.length === 0 ? '' : `${records.join('\n')}\n`, 'utf8'), entryCount: records.length, dropped, adjusted };
}
