// EraSearch documents, as fly-log-shipper builds them: when the message is a JSON object
// (the app logs JSON), its fields are merged into the entry and `message` is removed (its
// fields win over the entry's); any other entry goes as it came.
import type { Batch } from '../../src/pipeline/sink.js';
import { buildBulkBody } from '../shared/es-bulk.js';
import type { FlyRecord } from '../shared/fly-fields.js';
import type { BuiltBody } from '../shared/vendor-http.js';

export function eraSearchDocument(r: FlyRecord): string {
  const m = r.message;
  if (m.charCodeAt(0) !== 0x7b /* { */) return r.line;
  let fields: unknown;
  try {
    fields = JSON.parse(m);
  } catch {
    return r.line;
  }
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) return r.line;
  const { message: _dropped, ...rest } = r.body;
  return JSON.stringify({ ...rest, ...(fields as Record<string, unknown>) });
}

export function buildEraSearchBody(batch: Batch, index: string): BuiltBody {
  return buildBulkBody(batch, index, eraSearchDocument);
}
