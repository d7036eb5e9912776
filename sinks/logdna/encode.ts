// Mezmo's ingest body, as Vector's logdna sink builds it: {"lines":[{line, timestamp, app, env,
// meta}]}. `line` is the message; `timestamp` the entry's time in ms (what the API documents);
// `app` the Fly app (Vector would say "vector"); `env` "production" (Vector's default); `meta`
// every other field, `timestamp` included so its nanoseconds are kept.
import { parseLine } from '../shared/vendor-http.js';

export function logdnaLine(raw: string): string {
  const entry = parseLine(raw);
  const { message, ...meta } = entry;
  const fly = entry.fly as { app?: { name?: unknown } } | undefined;
  const app = typeof fly?.app?.name === 'string' && fly.app.name !== '' ? fly.app.name : 'vector';
  const ms = typeof entry.timestamp === 'string' ? Date.parse(entry.timestamp) : Number.NaN;
  const line: Record<string, unknown> = {
    line: typeof message === 'string' ? message : message === undefined ? '' : JSON.stringify(message),
    ...(Number.isFinite(ms) ? { timestamp: ms } : {}),
    app,
    env: 'production',
    meta,
  };
  return JSON.stringify(line);
}

/** `{"lines":[…]}` from lines that are already JSON objects. */
export function logdnaBody(lines: readonly string[]): Buffer {
  return Buffer.from(`{"lines":[${lines.join(',')}]}`, 'utf8');
}
