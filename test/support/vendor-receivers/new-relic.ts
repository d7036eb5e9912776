// Stands in for New Relic's Log API (POST /log/v1): the license key (X-License-Key or
// Api-Key) or insert key (X-Insert-Key), Content-Type application/json, gzip, at most 1 MB
// (10^6 bytes) as sent, a body of `[{"common"?, "logs": [...]}]` whose logs carry an integer
// epoch-millisecond timestamp and at most 255 attributes (flattened). Answers 202
// `{"requestId": ...}` as New Relic does.
import { randomUUID } from 'node:crypto';
import { parseJson, retryAfterHeader, startReceiverCore, without, type ReceiverCore } from './base.js';

export interface NewRelicReceiver extends ReceiverCore {
  readonly logs: Array<Record<string, unknown>>;
  entries(): Array<Record<string, unknown>>;
}

function attributes(o: unknown): number {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 1;
  let n = 0;
  for (const v of Object.values(o as Record<string, unknown>)) n += attributes(v);
  return n;
}

export async function startNewRelicReceiver(options: { key: string; keyHeader: 'x-license-key' | 'x-insert-key' }): Promise<NewRelicReceiver> {
  const logs: Array<Record<string, unknown>> = [];
  const error = (status: number): string => JSON.stringify({ error: { 400: 'Bad Request', 403: 'Forbidden', 413: 'Payload Too Large', 429: 'Too Many Requests', 503: 'Service Unavailable' }[status] ?? 'Error' });
  const core = await startReceiverCore(
    (req, violation) => {
      const key = req.headers[options.keyHeader] ?? (options.keyHeader === 'x-license-key' ? req.headers['api-key'] : undefined);
      if (key !== options.key) return { status: 403, body: error(403) };
      if (req.method !== 'POST' || req.path !== '/log/v1') {
        violation('unexpected method or path');
        return { status: 404, body: error(404) };
      }
      if (!String(req.headers['content-type']).startsWith('application/json')) violation(`content-type ${req.headers['content-type']}`);
      if (req.headers['content-encoding'] !== 'gzip') violation('not gzip');
      if (req.raw.length > 1_000_000) {
        violation(`payload ${req.raw.length} bytes > 10^6`);
        return { status: 413, body: error(413) };
      }
      const parsed = parseJson(req, violation);
      if (!Array.isArray(parsed)) return { status: 400, body: error(400) };
      for (const block of parsed as Array<{ logs?: unknown }>) {
        if (!Array.isArray(block?.logs)) {
          violation('block without a logs array');
          return { status: 400, body: error(400) };
        }
        for (const log of block.logs as Array<Record<string, unknown>>) {
          if (!Number.isInteger(log.timestamp)) violation(`timestamp ${String(log.timestamp)} is not epoch milliseconds`);
          if (attributes(log) > 255) violation('more than 255 attributes');
          logs.push(log);
        }
      }
      return { status: 202, body: JSON.stringify({ requestId: randomUUID() }) };
    },
    (status, retryAfter) => ({ status, body: error(status), headers: retryAfterHeader(retryAfter) }),
  );
  return {
    ...core,
    logs,
    entries: () => logs.map((l) => ({ ...without(l, ['hostname', 'service.name', 'level', 'rfc3339_timestamp']), timestamp: l.rfc3339_timestamp })),
  };
}
