// Stands in for an Elasticsearch-compatible `_bulk` endpoint (EraSearch, Sematext's Logs
// receiver): POST /_bulk with Content-Type application/x-ndjson, action/document line pairs
// ending in a newline, every action `create` or `index` into the expected index, documents
// JSON objects; an optional Authorization value. Answers as Elasticsearch does: 200 with
// per-item statuses (`errors`, `items`), honouring `filter_path`; `create` of an `_id`
// already stored is 409 version_conflict_engine_exception, `index` of one replaces it (200). On demand it refuses documents
// (400 mapper_parsing_exception) or throttles items (429 es_rejected_execution_exception).
import { retryAfterHeader, startReceiverCore, type ReceiverCore } from './base.js';

export interface EsBulkReceiver extends ReceiverCore {
  /** Stored documents in arrival order. */
  readonly docs: Array<Record<string, unknown>>;
  /** Stored ids → position in docs. */
  readonly ids: Map<string, number>;
  /** The next `n` items (in any request) get 429. */
  throttleItems(n: number): void;
}

interface Item {
  status: number;
  error?: { type: string; reason: string };
  _id?: string;
}

function esError(status: number, type: string, reason: string): string {
  return JSON.stringify({ error: { root_cause: [{ type, reason }], type, reason }, status });
}

const FAILURES: Record<number, [string, string]> = {
  400: ['illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]'],
  401: ['security_exception', 'missing authentication credentials for REST request [/_bulk]'],
  403: ['security_exception', 'action [indices:data/write/bulk] is unauthorized'],
  413: ['content_too_long_exception', 'Request content too long'],
  429: ['es_rejected_execution_exception', 'rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1, max_coordinating_and_primary_bytes=0]'],
  503: ['cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];'],
};

export async function startEsBulkReceiver(options: {
  index: string;
  authorization?: string;
  refuse?: (doc: Record<string, unknown>) => boolean;
}): Promise<EsBulkReceiver> {
  const docs: Array<Record<string, unknown>> = [];
  const ids = new Map<string, number>();
  let throttle = 0;
  const core = await startReceiverCore(
    (req, violation) => {
      if (options.authorization !== undefined && req.headers.authorization !== options.authorization) return { status: 401, body: esError(401, ...FAILURES[401]!) };
      if (req.method !== 'POST' || req.path !== '/_bulk') {
        violation('unexpected method or path');
        return { status: 404, body: esError(404, 'not_found', 'no handler') };
      }
      const ct = String(req.headers['content-type']);
      if (!ct.startsWith('application/x-ndjson') && !ct.startsWith('application/json')) {
        violation(`content-type ${ct}`);
        return { status: 406, body: esError(406, 'media_type_header_exception', `Content-Type header [${ct}] is not supported`) };
      }
      const text = req.body?.toString('utf8') ?? '';
      if (!text.endsWith('\n')) {
        violation('body does not end with a newline');
        return { status: 400, body: esError(400, ...FAILURES[400]!) };
      }
      const lines = text.slice(0, -1).split('\n');
      if (lines.length % 2 !== 0) {
        violation('odd number of lines');
        return { status: 400, body: esError(400, 'illegal_argument_exception', 'Malformed action/metadata line') };
      }
      const items: Array<Record<string, Item>> = [];
      for (let i = 0; i < lines.length; i += 2) {
        let action: Record<string, { _index?: string; _id?: string }>;
        let doc: Record<string, unknown>;
        try {
          action = JSON.parse(lines[i]!) as typeof action;
          doc = JSON.parse(lines[i + 1]!) as Record<string, unknown>;
        } catch {
          violation(`pair ${i / 2} is not JSON`);
          return { status: 400, body: esError(400, 'x_content_parse_exception', 'Failed to parse') };
        }
        const op = Object.keys(action)[0]!;
        const meta = action[op]!;
        if (op !== 'create' && op !== 'index') violation(`action ${op}`);
        if (meta._index !== options.index) violation(`index ${String(meta._index)}`);
        if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) violation(`document ${i / 2} is not an object`);
        const id = meta._id;
        let item: Item;
        if (throttle > 0) {
          throttle--;
          item = { status: 429, error: { type: FAILURES[429]![0], reason: FAILURES[429]![1] } };
        } else if (op === 'create' && id !== undefined && ids.has(id)) {
          item = { _id: id, status: 409, error: { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [1])` } };
        } else if (op === 'index' && id !== undefined && ids.has(id)) {
          // Indexing an id already there replaces the document: one copy, answered 200.
          docs[ids.get(id)!] = doc;
          item = { _id: id, status: 200 };
        } else if (options.refuse?.(doc)) {
          item = { _id: id, status: 400, error: { type: 'mapper_parsing_exception', reason: "failed to parse field [message] of type [long] in document with id '" + String(id) + "'. Preview of field's value: 'x'" } };
        } else {
          if (id !== undefined) ids.set(id, docs.length);
          docs.push(doc);
          item = { _id: id, status: 201 };
        }
        items.push({ [op]: item });
      }
      const errors = items.some((w) => Object.values(w)[0]!.status >= 300);
      // filter_path keeps only the named fields, as Elasticsearch does.
      const filtered = req.query.get('filter_path') !== null;
      const body = filtered
        ? { errors, items: items.map((w) => Object.fromEntries(Object.entries(w).map(([op, it]) => [op, it.error ? { status: it.status, error: it.error } : { status: it.status }]))) }
        : { took: 3, errors, items: items.map((w) => Object.fromEntries(Object.entries(w).map(([op, it]) => [op, { _index: options.index, _id: it._id, _version: 1, result: it.status === 201 ? 'created' : it.status === 200 ? 'updated' : undefined, ...it }]))) };
      return { status: 200, body: JSON.stringify(body) };
    },
    (status, retryAfter) => ({ status, body: status === 413 ? '' : esError(status, ...(FAILURES[status] ?? ['exception', 'error'])), headers: retryAfterHeader(retryAfter) }),
  );
  return {
    ...core,
    docs,
    ids,
    throttleItems(n) {
      throttle += n;
    },
  };
}
