// The Elasticsearch `_bulk` encoder and answer reader shared by the destinations that speak
// it (EraSearch, Sematext). Each entry becomes an `index` action with an `_id` derived from
// the entry's bytes, so a retried batch cannot store an entry twice: indexing a document
// Elasticsearch already holds under that id overwrites it with the same content (answered
// 200). (Two byte-identical entries are therefore stored once.)
import { createHash } from 'node:crypto';
import { LogferryError } from '../../src/errors.js';
import type { Batch, SendResult } from '../../src/pipeline/sink.js';
import type { HttpAnswer } from './http-request.js';
import type { BuiltBody } from './vendor-http.js';
import { bump, q, readRecords, type FlyRecord } from './fly-fields.js';

/**
 * Keeps the answer small enough to read whole (the transport keeps its first 64 KiB):
 * per item only its status and error type (~25 bytes, ~75 with an error).
 */
export const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error.type';
/** Documents per request, so that even an answer with an error per item (~75 bytes) is read whole. */
export const BULK_MAX_DOCUMENTS = 500;

/** The document's `_id`: 20 bytes of SHA-1 of the entry's line, base64url (27 characters). */
export function documentId(line: string): string {
  return createHash('sha1').update(line).digest('base64url');
}

/** NDJSON `_bulk` body: `{"index":{"_index":…,"_id":…}}` then the document, per entry. */
export function buildBulkBody(batch: Batch, index: string, document: (r: FlyRecord) => string): BuiltBody {
  const parts: string[] = [];
  const adjusted: Record<string, number> = {};
  let count = 0;
  const indexJson = q(index);
  for (const r of readRecords(batch)) {
    parts.push(`{"index":{"_index":${indexJson},"_id":"${documentId(r.line)}"}}\n${document(r)}\n`);
    if (!r.timeValid) bump(adjusted, 'timestamp_invalid');
    count++;
  }
  return { plain: Buffer.from(parts.join(''), 'utf8'), entryCount: count, adjusted };
}

/** Some items failed in a way worth retrying (429, 5xx), or the answer could not be read: retry the batch (safe: fixed ids). */
export class BulkRetryError extends LogferryError {
  constructor(message: string) {
    super('SINK_BULK_RETRY', message);
  }
}

interface BulkItem {
  readonly status?: number;
  readonly error?: { readonly type?: string; readonly reason?: string };
}

/**
 * Reads a 2xx `_bulk` answer: items refused for good (4xx other than 409 and 429) are
 * rejected, counted per entry with the first error type as the reason; 409 (a `create` of an
 * id already there) means stored. Any item refused for now (429, 5xx) makes the whole batch retried.
 */
export function readBulkAnswer(name: string, answer: HttpAnswer, sent: number): SendResult | void {
  // Elasticsearch writes "took" and "errors" first: a clean answer can be told from its start even when long.
  if (/^\s*\{\s*("took"\s*:\s*\d+\s*,\s*)?"errors"\s*:\s*false\b/.test(answer.body)) return undefined;
  let parsed: { errors?: unknown; items?: Array<Record<string, BulkItem>> };
  try {
    parsed = JSON.parse(answer.body) as typeof parsed;
  } catch {
    throw new BulkRetryError(`${name}: the _bulk answer could not be read (${answer.body.length} characters); retrying the batch`);
  }
  if (parsed.errors === false) return undefined;
  const items = parsed.items;
  if (!Array.isArray(items) || items.length !== sent) {
    throw new BulkRetryError(`${name}: the _bulk answer has ${Array.isArray(items) ? items.length : 'no'} items for ${sent} documents; retrying the batch`);
  }
  let rejected = 0;
  let retry = 0;
  let reason: string | undefined;
  let retryWhy: string | undefined;
  for (const wrapper of items) {
    const item = wrapper.index ?? wrapper.create ?? Object.values(wrapper)[0];
    const status = item?.status ?? 0;
    if ((status >= 200 && status < 300) || status === 409) continue;
    if (status === 429 || status >= 500) {
      retry++;
      retryWhy ??= `${status} ${item?.error?.type ?? ''}`.trim();
      continue;
    }
    rejected++;
    reason ??= `es_${item?.error?.type ?? `status_${status}`}`;
  }
  if (retry > 0) throw new BulkRetryError(`${name}: ${retry} of ${sent} documents refused for now (${retryWhy}); retrying the batch`);
  return rejected > 0 ? { rejectedEntries: rejected, rejectReason: reason ?? 'es_rejected' } : undefined;
}
