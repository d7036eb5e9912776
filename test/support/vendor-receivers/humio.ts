// Stands in for Falcon LogScale's (Humio's) HEC endpoint (POST /api/v1/ingest/hec) and its
// status page (GET /api/v1/status): the ingest token as `Bearer` or `Splunk` authorization,
// gzip accepted, a body of HEC events (`{"time": <epoch seconds>, "host", "event": {...}}`,
// whitespace-separated). Answers as HEC does: 200 {"text":"Success","code":0}; 401/403 with
// HEC's token codes; for a bad event, 400 {"text":"Invalid data format","code":6,
// "invalid-event-number":N}, having indexed the events before N (HEC reads in order).
import { parseJson, retryAfterHeader, startReceiverCore, type ReceiverCore } from './base.js';

export interface HumioReceiver extends ReceiverCore {
  readonly events: Array<{ time: number; host: string; event: Record<string, unknown> }>;
  entries(): Array<Record<string, unknown>>;
}

const HEC: Record<number, { text: string; code: number }> = {
  400: { text: 'Invalid data format', code: 6 },
  401: { text: 'Token is required', code: 2 },
  403: { text: 'Invalid token', code: 4 },
  413: { text: 'Content length too large', code: 27 },
  429: { text: 'Too many requests', code: 9 },
  500: { text: 'Internal server error', code: 8 },
  503: { text: 'Server is busy', code: 9 },
};

/** `refuse(event)`: true makes that event invalid (to provoke HEC's partial answer). */
export async function startHumioReceiver(options: { token: string; refuse?: (event: Record<string, unknown>) => boolean }): Promise<HumioReceiver> {
  const events: HumioReceiver['events'] = [];
  const answer = (status: number, extra: Record<string, unknown> = {}): string => JSON.stringify({ ...(HEC[status] ?? { text: 'Error', code: 8 }), ...extra });
  const core = await startReceiverCore(
    (req, violation) => {
      if (req.method === 'GET' && req.path === '/api/v1/status') return { status: 200, body: '{"status":"OK","version":"1.160.0"}' };
      const auth = String(req.headers.authorization ?? '');
      if (auth === '') return { status: 401, body: answer(401) };
      if (auth !== `Bearer ${options.token}` && auth !== `Splunk ${options.token}`) return { status: 403, body: answer(403) };
      if (req.method !== 'POST' || req.path !== '/api/v1/ingest/hec') {
        violation('unexpected method or path');
        return { status: 404, body: answer(404) };
      }
      if (req.headers['content-encoding'] !== 'gzip') violation('not gzip');
      if (req.body === undefined) return { status: 400, body: answer(400) };
      const lines = req.body.toString('utf8').split('\n').filter((l) => l.trim() !== '');
      for (let i = 0; i < lines.length; i++) {
        const ev = parseJson({ ...req, body: Buffer.from(lines[i]!) }, violation) as { time?: unknown; host?: unknown; event?: unknown } | undefined;
        if (ev === undefined) return { status: 400, body: answer(400, { 'invalid-event-number': i }) };
        if (ev.event === undefined || ev.event === null || typeof ev.event !== 'object') {
          violation(`event ${i} without an event object`);
          return { status: 400, body: JSON.stringify({ text: 'Event field is required', code: 12, 'invalid-event-number': i }) };
        }
        if (typeof ev.time !== 'number') violation(`event ${i}: time is not epoch seconds`);
        if (options.refuse?.(ev.event as Record<string, unknown>)) return { status: 400, body: answer(400, { 'invalid-event-number': i }) };
        events.push(ev as HumioReceiver['events'][number]);
      }
      return { status: 200, body: '{"text":"Success","code":0}' };
    },
    (status, retryAfter) => ({ status, body: answer(status), headers: retryAfterHeader(retryAfter) }),
    { failOnly: (r) => r.path === '/api/v1/ingest/hec' },
  );
  return { ...core, events, entries: () => events.map((e) => e.event) };
}
