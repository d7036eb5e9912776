// Datadog: one gzip'd POST to the logs intake v2 per batch (202 Accepted), the API key in
// DD-API-KEY; at start the key is checked with GET /api/v1/validate.
import { SinkResponseError } from '../../src/errors.js';
import { httpRequest } from '../shared/http-request.js';
import { VendorHttpSink } from '../shared/vendor-http.js';
import type { DatadogConfig } from './config.js';
import { buildDatadogBody, DATADOG_MAX_ENTRIES, DATADOG_MAX_REQUEST_BYTES } from './encode.js';

export const DATADOG_GZIP_LEVEL = 3;
const TIMEOUT_MS = 30_000;

/** `now` is the clock Datadog's time window is judged by (tests pin it; null leaves the window unchecked). */
export function createDatadogSink(config: DatadogConfig, maxConnections: number, now: (() => number) | null = Date.now): VendorHttpSink {
  return new VendorHttpSink({
    name: 'datadog',
    kind: 'datadog',
    url: config.intakeUrl,
    headers: { 'content-type': 'application/json', 'dd-api-key': config.apiKey },
    gzipLevel: DATADOG_GZIP_LEVEL,
    timeoutMs: TIMEOUT_MS,
    maxConnections,
    maxRequestBytes: DATADOG_MAX_REQUEST_BYTES,
    maxRequestEntries: DATADOG_MAX_ENTRIES,
    build: (batch) => buildDatadogBody(batch, now === null ? undefined : now()),
    async healthcheck(pool, signal) {
      const answer = await httpRequest(pool, { url: config.validateUrl, method: 'GET', headers: { 'dd-api-key': config.apiKey }, signal, timeoutMs: 10_000 });
      // {"valid":true}; anything else means the key is not one Datadog knows.
      let valid = false;
      try {
        valid = (JSON.parse(answer.body) as { valid?: unknown }).valid === true;
      } catch {
        valid = false;
      }
      if (!valid) throw new SinkResponseError(403, 'Datadog did not confirm the API key (validate answered without "valid": true)');
    },
  });
}
