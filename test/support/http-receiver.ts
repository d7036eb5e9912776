// A real HTTP log receiver for tests and benchmarks: a node:http server on 127.0.0.1 and a
// free port that decodes what a sink sends and records it.
//
//   const rx = await startHttpReceiver();
//   ... point a sink at rx.url (any path is accepted) ...
//   await rx.waitForEntries(100);           // polls; never sleep-and-hope
//   rx.entries();                           // parsed entries of every request answered 2xx
//   rx.requests;                            // every request, answered 2xx or not
//   rx.failNext(503, { retryAfter: 1 });    // next request gets 503 + Retry-After: 1
//   rx.failNext(500, { times: 3 });         // next three requests get 500
//   rx.respondWith((req) => req.entries.length > 10 ? { status: 413 } : undefined);
//   await rx.close();
//
// Decoding: `content-encoding` gzip, deflate, br or zstd is undone (anything else → 415).
// The body is then parsed per `options.parse`: 'auto' (default) reads a JSON array (body
// starts with `[`, e.g. application/json) or a single JSON object, and NDJSON otherwise;
// 'ndjson' / 'json' force one; 'none' keeps bytes only; a function parses it your way
// (e.g. a Loki push body). An unparseable body is answered 400 and recorded with
// `parseError`, so a sink that sends garbage fails loudly.
//
// Answers: a queued failNext answer first, else the respondWith handler (returning
// undefined means "default"), else 200 with an empty body. An answer may be delayed
// (`delayMs`) or never sent (`hang: true`, for timeout tests); close() ends those.
// Bodies over `maxBodyBytes` (default 64 MiB) are answered 413 without being kept.
//
// Benchmarks: `{ keepBodies: false, keepEntries: false }` keeps only counters (stats())
// and request metadata, so memory stays flat however much is shipped.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { waitFor } from './poll.js';
import { listenTestServer } from './test-server.js';

export type ParsedEntry = Record<string, unknown>;
export type BodyParser = (decoded: Buffer, headers: IncomingHttpHeaders) => unknown[];

export interface HttpReceiverOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** How to turn a decoded body into entries; see the top comment. Default 'auto'. */
  readonly parse?: 'auto' | 'ndjson' | 'json' | 'none' | BodyParser;
  /** Keep each request's raw and decoded bytes (default true). */
  readonly keepBodies?: boolean;
  /** Keep parsed entries (default true). When false, entries are still counted. */
  readonly keepEntries?: boolean;
  /** Larger bodies are answered 413. Default 64 MiB. */
  readonly maxBodyBytes?: number;
}

export interface ReceivedRequest {
  /** Position in arrival order (0-based). */
  readonly index: number;
  /** When the whole body had arrived (ms since epoch). */
  readonly at: number;
  readonly method: string;
  /** Path and query as sent. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The client's port: requests on one kept-alive connection share it. */
  readonly remotePort: number | undefined;
  /** Bytes on the wire (still compressed); empty when keepBodies is false or the body was too large. */
  readonly body: Buffer;
  /** Bytes after content-encoding was undone; empty when keepBodies is false. */
  readonly decoded: Buffer;
  readonly rawBytes: number;
  readonly decodedBytes: number;
  /** Parsed entries (empty when keepEntries is false or parsing failed). */
  readonly entries: ParsedEntry[];
  readonly entryCount: number;
  /** Why the body could not be decoded or parsed, when it could not. */
  readonly parseError: string | undefined;
  /** The status the receiver answered with (set once answered). */
  status: number | undefined;
}

export interface ScriptedAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Answer after this long. */
  readonly delayMs?: number;
  /** Never answer (until close()). */
  readonly hang?: boolean;
}

export type Responder = (req: ReceivedRequest) => ScriptedAnswer | undefined | Promise<ScriptedAnswer | undefined>;

export interface FailOptions {
  /** Sent as Retry-After (seconds, or an HTTP date string). */
  readonly retryAfter?: number | string;
  readonly body?: string;
  /** How many requests get this answer (default 1). */
  readonly times?: number;
}

export interface ReceiverStats {
  readonly requests: number;
  /** Requests answered 2xx. */
  readonly accepted: number;
  /** Entries in requests answered 2xx. */
  readonly entries: number;
  readonly rawBytes: number;
  readonly decodedBytes: number;
}

export interface HttpReceiver {
  /** `http://127.0.0.1:<port>` (no trailing slash; append any path). */
  readonly url: string;
  readonly port: number;
  /** Every request in arrival order, whatever it was answered. */
  readonly requests: readonly ReceivedRequest[];
  /** Entries of every request answered 2xx, flattened, in arrival order. */
  entries(): ParsedEntry[];
  /** Requests answered 2xx. */
  accepted(): ReceivedRequest[];
  stats(): ReceiverStats;
  /** Handler consulted for each request when no failNext answer is queued; undefined to reset. */
  respondWith(fn: Responder | undefined): void;
  /** Answer the next request(s) with this status. Queued answers are used in order. */
  failNext(status: number, options?: FailOptions): void;
  /** Polls until this many entries were accepted (2xx). Resolves with them. */
  waitForEntries(count: number, timeoutMs?: number): Promise<ParsedEntry[]>;
  /** Polls until this many requests arrived and were answered. */
  waitForRequests(count: number, timeoutMs?: number): Promise<readonly ReceivedRequest[]>;
  /** Forgets recorded requests, counters, queued answers and the handler. */
  reset(): void;
  /** Stops listening and ends open connections (and hanging answers). Idempotent. */
  close(): Promise<void>;
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotli = promisify(zlib.brotliDecompress);
const zstd = promisify(zlib.zstdDecompress);
const decoders: Readonly<Record<string, (b: Buffer) => Promise<Buffer>>> = {
  gzip: (b) => gunzip(b),
  'x-gzip': (b) => gunzip(b),
  deflate: (b) => inflate(b),
  br: (b) => brotli(b),
  zstd: (b) => zstd(b),
};

const EMPTY: Buffer = Buffer.alloc(0);

function parseNdjson(text: string): unknown[] {
  const out: unknown[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).trim();
    if (line !== '') out.push(JSON.parse(line));
    start = end + 1;
  }
  return out;
}

function parseJson(text: string): unknown[] {
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v : [v];
}

function parseAuto(decoded: Buffer): unknown[] {
  const text = decoded.toString('utf8');
  const first = /\S/.exec(text)?.[0];
  if (first === undefined) return [];
  if (first === '[') return parseJson(text);
  // A single pretty-printed object is JSON; one object per line is NDJSON.
  try {
    return parseNdjson(text);
  } catch (ndjsonError) {
    if (first === '{') return parseJson(text);
    throw ndjsonError;
  }
}

export async function startHttpReceiver(options: HttpReceiverOptions = {}): Promise<HttpReceiver> {
  const parse = options.parse ?? 'auto';
  const keepBodies = options.keepBodies ?? true;
  const keepEntries = options.keepEntries ?? true;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;

  const requests: ReceivedRequest[] = [];
  const queued: ScriptedAnswer[] = [];
  let responder: Responder | undefined;
  let stats = { requests: 0, accepted: 0, entries: 0, rawBytes: 0, decodedBytes: 0 };
  // Answers held back (delayMs / hang); close() releases them.
  const pending = new Set<{ timer?: NodeJS.Timeout; release?: () => void; res: ServerResponse }>();
  let closed = false;

  function decodeParse(raw: Buffer, headers: IncomingHttpHeaders): Promise<{ decoded: Buffer; entries: unknown[] }> {
    const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const decode = encoding === 'identity' || encoding === '' ? undefined : decoders[encoding];
    if (decode === undefined && encoding !== 'identity' && encoding !== '') {
      return Promise.reject(Object.assign(new Error(`unsupported content-encoding ${encoding}`), { status: 415 }));
    }
    return (decode ? decode(raw) : Promise.resolve(raw)).then((decoded) => {
      let entries: unknown[];
      if (parse === 'none') entries = [];
      else if (parse === 'ndjson') entries = parseNdjson(decoded.toString('utf8'));
      else if (parse === 'json') entries = parseJson(decoded.toString('utf8'));
      else if (parse === 'auto') entries = parseAuto(decoded);
      else entries = parse(decoded, headers);
      return { decoded, entries };
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let rawBytes = 0;
    let tooLarge = false;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      rawBytes += chunk.length;
      if (rawBytes > maxBodyBytes) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    }
    const raw = tooLarge ? EMPTY : Buffer.concat(chunks);
    let decoded: Buffer = EMPTY;
    let entries: unknown[] = [];
    let parseError: string | undefined;
    let forcedStatus: number | undefined;
    if (tooLarge) {
      parseError = `body of ${rawBytes} bytes exceeds maxBodyBytes ${maxBodyBytes}`;
      forcedStatus = 413;
    } else {
      try {
        ({ decoded, entries } = await decodeParse(raw, req.headers));
      } catch (error) {
        parseError = error instanceof Error ? error.message : String(error);
        forcedStatus = (error as { status?: number }).status ?? 400;
      }
    }
    const record: ReceivedRequest = {
      index: requests.length,
      at: Date.now(),
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      remotePort: req.socket.remotePort,
      body: keepBodies ? raw : EMPTY,
      decoded: keepBodies ? decoded : EMPTY,
      rawBytes,
      decodedBytes: decoded.length,
      entries: keepEntries ? (entries as ParsedEntry[]) : [],
      entryCount: entries.length,
      parseError,
      status: undefined,
    };
    requests.push(record);
    stats.requests++;
    stats.rawBytes += rawBytes;
    stats.decodedBytes += decoded.length;

    let answer: ScriptedAnswer | undefined = queued.shift();
    if (answer === undefined && forcedStatus !== undefined) answer = { status: forcedStatus, body: parseError };
    if (answer === undefined && responder !== undefined) answer = await responder(record);
    answer ??= { status: 200 };

    if (answer.hang) {
      pending.add({ res });
      return;
    }
    if (answer.delayMs !== undefined && answer.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const slot: { timer?: NodeJS.Timeout; release?: () => void; res: ServerResponse } = { res, release: resolve };
        slot.timer = setTimeout(() => {
          pending.delete(slot);
          resolve();
        }, answer.delayMs);
        slot.timer.unref();
        pending.add(slot);
      });
      if (closed) return;
    }
    record.status = answer.status;
    if (answer.status >= 200 && answer.status < 300) {
      stats.accepted++;
      stats.entries += entries.length;
    }
    res.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8', ...answer.headers });
    res.end(answer.body ?? '');
  }

  const listening = await listenTestServer(handle, options);
  const { port, url } = listening;

  const accepted = (): ReceivedRequest[] => requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300);
  const entries = (): ParsedEntry[] => accepted().flatMap((r) => r.entries);

  return {
    url,
    port,
    requests,
    entries,
    accepted,
    stats: () => ({ ...stats }),
    respondWith(fn) {
      responder = fn;
    },
    failNext(status, opts = {}) {
      const headers: Record<string, string> = {};
      if (opts.retryAfter !== undefined) headers['retry-after'] = String(opts.retryAfter);
      const answer: ScriptedAnswer = { status, headers, body: opts.body ?? `scripted failure ${status}` };
      for (let i = 0; i < (opts.times ?? 1); i++) queued.push(answer);
    },
    async waitForEntries(count, timeoutMs = 20_000) {
      await waitFor(() => stats.entries >= count, {
        what: `${count} entries accepted by the HTTP receiver`,
        timeoutMs,
        context: () => `accepted ${stats.entries} entries in ${stats.accepted} of ${stats.requests} requests`,
      });
      return entries();
    },
    async waitForRequests(count, timeoutMs = 20_000) {
      await waitFor(() => requests.filter((r) => r.status !== undefined).length >= count, {
        what: `${count} requests answered by the HTTP receiver`,
        timeoutMs,
        context: () => `answered ${requests.filter((r) => r.status !== undefined).length} of ${requests.length} requests`,
      });
      return requests;
    },
    reset() {
      requests.length = 0;
      queued.length = 0;
      responder = undefined;
      stats = { requests: 0, accepted: 0, entries: 0, rawBytes: 0, decodedBytes: 0 };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const slot of pending) {
        if (slot.timer) clearTimeout(slot.timer);
        slot.res.destroy();
        slot.release?.();
      }
      pending.clear();
      await listening.close();
    },
  };
}
