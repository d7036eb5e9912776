// New Relic: one gzip'd POST to the Log API per batch (202 Accepted), the key in
// X-License-Key or X-Insert-Key as Vector sends it. The Log API has no read-only request,
// so the start-up check only connects (and verifies TLS), as the HTTP sink's does.
import { VendorHttpSink } from '../shared/vendor-http.js';
import { probeConnection } from '../http/probe.js';
import type { NewRelicConfig } from './config.js';
import { buildNewRelicBody, NEW_RELIC_MAX_PAYLOAD_BYTES } from './encode.js';

export function createNewRelicSink(config: NewRelicConfig, maxConnections: number): VendorHttpSink {
  return new VendorHttpSink({
    name: 'new_relic',
    kind: 'new_relic',
    url: config.url,
    headers: { 'content-type': 'application/json', [config.key.kind === 'license' ? 'x-license-key' : 'x-insert-key']: config.key.value },
    gzipLevel: 3,
    timeoutMs: 30_000,
    maxConnections,
    maxEncodedBytes: NEW_RELIC_MAX_PAYLOAD_BYTES,
    build: buildNewRelicBody,
    healthcheck: (_pool, signal) => probeConnection(config.url, 10_000, signal),
  });
}
