// EraSearch: one `_bulk` request per batch (NDJSON, uncompressed, as fly-log-shipper sends
// it), ERASEARCH_AUTH as the Authorization header; per-document answers counted (es-bulk.ts).
// fly-log-shipper turns EraSearch's healthcheck off; the start-up check only connects.
import { probeConnection } from '../http/probe.js';
import { BULK_MAX_DOCUMENTS, BulkRetryError, readBulkAnswer } from '../shared/es-bulk.js';
import { VendorHttpSink } from '../shared/vendor-http.js';
import type { EraSearchConfig } from './config.js';
import { buildEraSearchBody } from './encode.js';

export function createEraSearchSink(config: EraSearchConfig, maxConnections: number): VendorHttpSink {
  return new VendorHttpSink({
    name: 'erasearch',
    kind: 'erasearch',
    url: config.bulkUrl,
    headers: { 'content-type': 'application/x-ndjson', ...(config.authorization !== undefined ? { authorization: config.authorization } : {}) },
    gzipLevel: undefined,
    timeoutMs: 30_000,
    maxConnections,
    maxRequestEntries: BULK_MAX_DOCUMENTS,
    build: (batch) => buildEraSearchBody(batch, config.index),
    readAnswer: (answer, encoded) => readBulkAnswer('erasearch', answer, encoded.entryCount),
    classify: (error) => (error instanceof BulkRetryError ? 'retry' : undefined),
    healthcheck: (_pool, signal) => probeConnection(config.bulkUrl, 10_000, signal),
  });
}
