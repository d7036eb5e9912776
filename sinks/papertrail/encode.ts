// Syslog (RFC 5424) lines with octet-counting framing (RFC 6587 §3.4.1): `<length> <message>`
// per entry, where the message is `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - - - MSG`: facility
// user, the severity from the entry's level, Fly's timestamp (to the microsecond, RFC 5424's
// limit), Fly's host as HOSTNAME (Papertrail's "system", as Vector's papertrail sink sets it),
// the app as APP-NAME, and the entry's JSON (codec json) or its message (codec text) as MSG.
import type { Batch } from '../../src/pipeline/sink.js';
import type { BuiltBody } from '../shared/vendor-http.js';
import { bump, readRecords, type FlyRecord } from '../shared/fly-fields.js';
import type { PapertrailCodec } from './config.js';

const FACILITY_USER = 1;
const SEVERITIES: Readonly<Record<string, number>> = {
  emerg: 0, emergency: 0, panic: 0, alert: 1, crit: 2, critical: 2, fatal: 2, err: 3, error: 3,
  warn: 4, warning: 4, notice: 5, info: 6, informational: 6, debug: 7, trace: 7,
};

/** RFC 5424 header fields are printable US-ASCII without spaces, with a length limit; '-' when empty. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** RFC 5424 TIMESTAMP: at most 6 fractional digits. */
export function syslogTimestamp(r: FlyRecord): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(r.timestamp);
  if (m) return `${m[1]}${m[2] ? `.${m[2].slice(0, 6)}` : ''}${m[3]!.toUpperCase()}`;
  return new Date(r.timeMs).toISOString();
}

export function syslogMessage(r: FlyRecord, codec: PapertrailCodec): string {
  const pri = FACILITY_USER * 8 + (SEVERITIES[r.level] ?? 6);
  const msg = codec === 'json' ? r.line : r.message;
  return `<${pri}>1 ${syslogTimestamp(r)} ${headerField(r.host || r.instance, 255)} ${headerField(r.app, 48)} - - - ${msg}`;
}

export function buildSyslogFrames(batch: Batch, codec: PapertrailCodec): BuiltBody {
  const frames: Buffer[] = [];
  const adjusted: Record<string, number> = {};
  for (const r of readRecords(batch)) {
    const message = Buffer.from(syslogMessage(r, codec), 'utf8');
    frames.push(Buffer.from(`${message.length} `, 'ascii'), message);
    if (!r.timeValid) bump(adjusted, 'timestamp_invalid');
  }
  return { plain: Buffer.concat(frames), entryCount: frames.length / 2, adjusted };
}
