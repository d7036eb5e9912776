// Humio / LogScale: one gzip'd POST to /api/v1/ingest/hec per batch, the ingest token as a
// bearer token. HEC answers 200 {"text":"Success","code":0}. A 400 naming an
// `invalid-event-number` means the events before it were indexed (HEC reads in order and
// stops at the bad one): those count as delivered, the rest as rejected. At start,
// GET /api/v1/status checks that LogScale answers (it needs no token).
import { SinkResponseError } from '../../src/errors.js';
import { httpRequest } from '../shared/http-request.js';
import { VendorHttpSink } from '../shared/vendor-http.js';
import type { HumioConfig } from './config.js';
import { buildHumioBody } from './encode.js';

/** Events refused by a HEC 400 answer: those from `invalid-event-number` on; undefined when it names none. */
export function hecRejected(error: SinkResponseError, sent: number): number | undefined {
  if (error.status !== 400) return undefined;
  try {
    const n = (JSON.parse(error.body) as { 'invalid-event-number'?: unknown })['invalid-event-number'];
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < sent) return sent - n;
  } catch {
    // Not HEC's JSON: the whole batch is refused.
  }
  return undefined;
}

export function createHumioSink(config: HumioConfig, maxConnections: number): VendorHttpSink {
  return new VendorHttpSink({
    name: 'humio',
    kind: 'humio',
    url: config.hecUrl,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${config.token}` },
    gzipLevel: 3,
    timeoutMs: 30_000,
    maxConnections,
    build: buildHumioBody,
    async healthcheck(pool, signal) {
      await httpRequest(pool, { url: config.statusUrl, method: 'GET', signal, timeoutMs: 10_000 });
    },
    mapError(error, encoded) {
      if (!(error instanceof SinkResponseError)) return error;
      const rejected = hecRejected(error, encoded.entryCount);
      return rejected === undefined ? error : new SinkResponseError(error.status, error.bodyExcerpt, { rejectedEntries: rejected, body: error.body, cause: error });
    },
  });
}
