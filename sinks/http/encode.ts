// Request bodies from a batch. The core keeps a batch as NDJSON bytes (Fly's original
// lines), so the NDJSON body is the batch itself: no parsing, no re-serialisation, no copy.
import type { Batch } from '../../src/pipeline/sink.js';

const NEWLINE = 0x0a;

/** NDJSON: every line followed by "\n" (empty batch → empty body). */
export function ndjsonBody(batch: Batch): Buffer {
  return batch.ndjson;
}

/** A JSON array of the entries: `[` + lines joined by `,` + `]`, made from the NDJSON in one copy. */
export function jsonArrayBody(batch: Batch): Buffer {
  const ndjson = batch.ndjson;
  if (batch.count === 0) return Buffer.from('[]');
  // Same length plus one: "[" in front, each "\n" but the last becomes ",", the last becomes "]".
  const out = Buffer.allocUnsafe(ndjson.length + 1);
  out[0] = 0x5b;
  ndjson.copy(out, 1);
  let at = out.indexOf(NEWLINE, 1);
  while (at !== -1) {
    out[at] = at === out.length - 1 ? 0x5d : 0x2c;
    at = out.indexOf(NEWLINE, at + 1);
  }
  return out;
}
