// Stands in for Datadog's logs intake v2 (POST /api/v2/logs) and its key check
// (GET /api/v1/validate), checking what Datadog checks: the DD-API-KEY header, JSON (gzip
// accepted), an array of at most 1,000 objects in at most 5 MB uncompressed, each at most
// 1 MB. It answers 202 `{}`; like Datadog, entries older than 18 h or more than 2 h ahead
// are accepted and silently not stored. Errors come in Datadog's `{"errors":[...]}` shape.
import { parseJson, retryAfterHeader, startReceiverCore, without, type ReceiverCore } from './base.js';

export const DATADOG_ADDED_FIELDS = ['ddsource', 'ddtags', 'hostname', 'service', 'status'] as const;
const TITLES: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 408: 'Request Timeout', 413: 'Request Entity Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

export interface DatadogReceiver extends ReceiverCore {
  /** Records Datadog stored, as sent. */
  readonly records: Array<Record<string, unknown>>;
  /** The Fly entries inside them (Datadog's fields taken off). */
  entries(): Array<Record<string, unknown>>;
  /** Records accepted but not stored (outside Datadog's time window). */
  readonly discarded: number;
}

/** `now`: the clock of Datadog's time window; without it every entry is stored. */
export async function startDatadogReceiver(options: { apiKey: string; now?: () => number }): Promise<DatadogReceiver> {
  const records: Array<Record<string, unknown>> = [];
  const now = options.now;
  const state = { discarded: 0 };
  const errors = (status: number): string => JSON.stringify({ errors: [TITLES[status] ?? 'Error'] });
  const core = await startReceiverCore(
    (req, violation) => {
      if (req.headers['dd-api-key'] !== options.apiKey) return { status: 403, body: errors(403) };
      if (req.method === 'GET' && req.path === '/api/v1/validate') return { status: 200, body: '{"valid":true}' };
      if (req.method !== 'POST' || req.path !== '/api/v2/logs') {
        violation('unexpected method or path');
        return { status: 404, body: errors(404) };
      }
      if (!String(req.headers['content-type']).startsWith('application/json')) violation(`content-type ${req.headers['content-type']}`);
      if (req.headers['content-encoding'] !== 'gzip') violation('not gzip');
      if (req.body !== undefined && req.body.length > 5 * 1024 * 1024) {
        violation(`uncompressed payload ${req.body.length} bytes > 5 MB`);
        return { status: 413, body: errors(413) };
      }
      const parsed = parseJson(req, violation);
      if (!Array.isArray(parsed)) {
        violation('body is not a JSON array');
        return { status: 400, body: errors(400) };
      }
      if (parsed.length > 1000) {
        violation(`${parsed.length} entries > 1000`);
        return { status: 413, body: errors(413) };
      }
      for (const item of parsed as Array<Record<string, unknown>>) {
        if (Buffer.byteLength(JSON.stringify(item)) > 1024 * 1024) violation('entry > 1 MB');
        for (const f of DATADOG_ADDED_FIELDS) if (typeof item[f] !== 'string') violation(`${f} missing or not a string`);
        const fly = item.fly as { app?: { name?: string; instance?: string } } | undefined;
        if (item.service !== fly?.app?.name) violation(`service ${String(item.service)} is not the app name`);
        if (item.hostname !== fly?.app?.instance) violation(`hostname ${String(item.hostname)} is not the instance`);
        const t = Date.parse(String(item.timestamp));
        if (now !== undefined && !Number.isNaN(t) && (now() - t > 18 * 3600_000 || t - now() > 2 * 3600_000)) {
          state.discarded++;
          continue;
        }
        records.push(item);
      }
      return { status: 202, body: '{}' };
    },
    (status, retryAfter) => ({ status, body: errors(status), headers: retryAfterHeader(retryAfter) }),
    { failOnly: (r) => r.path === '/api/v2/logs' },
  );
  return {
    ...core,
    records,
    entries: () => records.map((r) => without(r, DATADOG_ADDED_FIELDS)),
    get discarded() {
      return state.discarded;
    },
  };
}
