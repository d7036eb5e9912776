// Stands in for Honeycomb's batch events API (POST /1/batch/<dataset>) and its key check
// (GET /1/auth): the X-Honeycomb-Team key, JSON (gzip accepted), an array of
// `{time?, data}` events in at most 5 MB, each at most 1 MB. It answers 200 with one status
// per event, in order, as Honeycomb does: {"status":202} when stored, {"status":400,
// "error":"Event has too many columns"} for an event over `maxColumns` (flattened fields).
// Errors for the whole request use Honeycomb's legacy `{"error": ...}` form.
import { parseJson, retryAfterHeader, startReceiverCore, type ReceiverCore } from './base.js';

const ERRORS: Record<number, string> = {
  400: 'request body is malformed and cannot be read as JSON',
  401: 'unknown API key - check your credentials',
  403: 'API key does not have permission to send events',
  413: 'request body is too large',
  429: 'request dropped due to rate limiting',
  500: 'internal server error',
  503: 'service unavailable',
};

export interface HoneycombReceiver extends ReceiverCore {
  /** Events stored: `{ time, data }`, as sent. */
  readonly events: Array<{ time?: string; data: Record<string, unknown> }>;
  entries(): Array<Record<string, unknown>>;
  refused: number;
}

function columns(o: unknown, prefix = ''): number {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 1;
  let n = 0;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) n += columns(v, `${prefix}${k}.`);
  return n;
}

export async function startHoneycombReceiver(options: { apiKey: string; dataset: string; maxColumns?: number }): Promise<HoneycombReceiver> {
  const events: HoneycombReceiver['events'] = [];
  const state = { refused: 0 };
  const maxColumns = options.maxColumns ?? 2000;
  const error = (status: number): string => JSON.stringify({ error: ERRORS[status] ?? 'error' });
  const core = await startReceiverCore(
    (req, violation) => {
      if (req.headers['x-honeycomb-team'] !== options.apiKey) return { status: 401, body: error(401) };
      if (req.method === 'GET' && req.path === '/1/auth') return { status: 200, body: JSON.stringify({ api_key_access: { events: true }, environment: { name: 'test', slug: 'test' }, team: { name: 'fly', slug: 'fly' } }) };
      if (req.method !== 'POST' || req.path !== `/1/batch/${encodeURIComponent(options.dataset)}`) {
        violation('unexpected method or path');
        return { status: 404, body: error(404) };
      }
      if (!String(req.headers['content-type']).startsWith('application/json')) violation(`content-type ${req.headers['content-type']}`);
      if (req.headers['content-encoding'] !== 'gzip') violation('not gzip');
      if (req.body !== undefined && req.body.length > 5_000_000) {
        violation(`request ${req.body.length} bytes > 5 MB`);
        return { status: 413, body: error(413) };
      }
      const parsed = parseJson(req, violation);
      if (!Array.isArray(parsed)) return { status: 400, body: error(400) };
      const statuses: Array<{ status: number; error?: string }> = [];
      for (const ev of parsed as Array<{ time?: unknown; data?: unknown }>) {
        if (ev === null || typeof ev !== 'object' || ev.data === null || typeof ev.data !== 'object') {
          violation('event without a data object');
          statuses.push({ status: 400, error: 'Request body is malformed and cannot be read' });
          continue;
        }
        if (ev.time !== undefined && (typeof ev.time !== 'string' || Number.isNaN(Date.parse(ev.time)))) violation(`time ${String(ev.time)} is not RFC3339`);
        if (Buffer.byteLength(JSON.stringify(ev)) > 1_000_000) violation('event > 1 MB');
        if (columns(ev.data) > maxColumns) {
          state.refused++;
          statuses.push({ status: 400, error: 'Event has too many columns' });
          continue;
        }
        events.push(ev as { time?: string; data: Record<string, unknown> });
        statuses.push({ status: 202 });
      }
      return { status: 200, body: JSON.stringify(statuses) };
    },
    (status, retryAfter) => ({ status, body: error(status), headers: retryAfterHeader(retryAfter) }),
    { failOnly: (r) => r.path.startsWith('/1/batch/') },
  );
  return {
    ...core,
    events,
    entries: () => events.map((e) => e.data),
    get refused() {
      return state.refused;
    },
  };
}
