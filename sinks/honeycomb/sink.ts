// Honeycomb: one gzip'd POST to /1/batch/<dataset> per batch, the key in X-Honeycomb-Team.
// Honeycomb answers 200 with one status per event, in order: 202 for each it queued, an
// error (e.g. 400 "Event has too many columns") for each it refused; those are counted as
// rejected. The key is checked at start with GET /1/auth.
import { SinkNetworkError } from '../../src/errors.js';
import type { SendResult } from '../../src/pipeline/sink.js';
import { excerpt, httpRequest, type HttpAnswer } from '../shared/http-request.js';
import { VendorHttpSink } from '../shared/vendor-http.js';
import type { HoneycombConfig } from './config.js';
import { buildHoneycombBody, HONEYCOMB_MAX_EVENTS, HONEYCOMB_MAX_REQUEST_BYTES } from './encode.js';

const TIMEOUT_MS = 30_000;

/** Reads the per-event statuses; an answer that does not account for every event is treated as a failed attempt. */
export function readHoneycombAnswer(answer: HttpAnswer, sent: number): SendResult | void {
  let statuses: unknown;
  try {
    statuses = JSON.parse(answer.body);
  } catch {
    statuses = undefined;
  }
  if (!Array.isArray(statuses) || statuses.length !== sent) {
    // Without one status per event nothing can be counted; a retry may duplicate, losing nothing.
    throw new SinkNetworkError(`honeycomb answered ${answer.status} without one status per event (${sent} sent): ${excerpt(answer.body, 200)}`);
  }
  let rejected = 0;
  let firstError: string | undefined;
  for (const s of statuses as Array<{ status?: unknown; error?: unknown }>) {
    if (s?.status === 202) continue;
    rejected++;
    firstError ??= `honeycomb_event_${String(s?.status)}${typeof s?.error === 'string' ? `: ${s.error}` : ''}`;
  }
  return rejected > 0 ? { rejectedEntries: rejected, rejectReason: firstError ?? 'honeycomb_event_refused' } : undefined;
}

export function createHoneycombSink(config: HoneycombConfig, maxConnections: number): VendorHttpSink {
  return new VendorHttpSink({
    name: 'honeycomb',
    kind: 'honeycomb',
    url: config.batchUrl,
    headers: { 'content-type': 'application/json', 'x-honeycomb-team': config.apiKey },
    gzipLevel: 3,
    timeoutMs: TIMEOUT_MS,
    maxConnections,
    maxRequestBytes: HONEYCOMB_MAX_REQUEST_BYTES,
    maxRequestEntries: HONEYCOMB_MAX_EVENTS,
    build: buildHoneycombBody,
    readAnswer: (answer, encoded) => readHoneycombAnswer(answer, encoded.entryCount),
    async healthcheck(pool, signal) {
      await httpRequest(pool, { url: config.authUrl, method: 'GET', headers: { 'x-honeycomb-team': config.apiKey }, signal, timeoutMs: 10_000 });
    },
  });
}
