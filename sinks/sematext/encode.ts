// Sematext documents: the entry as it came with `@timestamp` (Fly's RFC3339 timestamp, the
// field Sematext Logs orders by) in front; the token is the index.
import type { Batch } from '../../src/pipeline/sink.js';
import { buildBulkBody } from '../shared/es-bulk.js';
import { q, spliceObject } from '../shared/fly-fields.js';
import type { BuiltBody } from '../shared/vendor-http.js';

export function buildSematextBody(batch: Batch, token: string): BuiltBody {
  return buildBulkBody(batch, token, (r) => spliceObject(`"@timestamp":${q(r.timestamp)}`, r.line));
}
