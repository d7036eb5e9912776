// Sematext: one `_bulk` request per batch to the region's Logs receiver (NDJSON,
// uncompressed, as Vector's sematext sink sends it); per-document answers counted (es-bulk.ts).
// The start-up check connects (and verifies TLS): the receiver has no read-only check.
import { probeConnection } from '../http/probe.js';
import { BULK_MAX_DOCUMENTS, BulkRetryError, readBulkAnswer } from '../shared/es-bulk.js';
import { VendorHttpSink } from '../shared/vendor-http.js';
import type { SematextConfig } from './config.js';
import { buildSematextBody } from './encode.js';

export function createSematextSink(config: SematextConfig, maxConnections: number): VendorHttpSink {
  return new VendorHttpSink({
    name: 'sematext',
    kind: 'sematext',
    url: config.bulkUrl,
    headers: { 'content-type': 'application/x-ndjson' },
    gzipLevel: undefined,
    timeoutMs: 30_000,
    maxConnections,
    maxRequestEntries: BULK_MAX_DOCUMENTS,
    build: (batch) => buildSematextBody(batch, config.token),
    readAnswer: (answer, encoded) => readBulkAnswer('sematext', answer, encoded.entryCount),
    classify: (error) => (error instanceof BulkRetryError ? 'retry' : undefined),
    healthcheck: (_pool, signal) => probeConnection(config.bulkUrl, 10_000, signal),
  });
}
