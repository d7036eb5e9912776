// Request bodies from a batch. The core keeps a batch as NDJSON bytes (Fly's original
// lines), so the NDJSON body is the batch itself: no parsing, no re-serialisation, no copy.
import { jsonArrayOf } from '../../src/batch.js';
import type { Batch } from '../../src/sink.js';

/** NDJSON: every line followed by "\n" (empty batch → empty body). */
export function ndjsonBody(batch: Batch): Buffer {
  return batch.ndjson;
}

/** A JSON array of the entries: `[` + lines joined by `,` + `]`. */
export function jsonArrayBody(batch: Batch): Buffer {
  return jsonArrayOf(batch);
}
