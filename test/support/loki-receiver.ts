// A Loki push receiver for tests and benchmarks: a real node:http server on 127.0.0.1 and a
// free port that checks a push the way Loki's distributor does and records what it stored.
//
//   const loki = await startLokiReceiver({ auth: { username: 'u', password: 'p' } });
//   ... point a sink at loki.url (the base; the push path is /loki/api/v1/push) ...
//   await loki.waitForEntries(100);          // polls; never sleep-and-hope
//   loki.entries();                          // stored entries: { labels, ts, line, metadata }
//   loki.violations();                       // what a faithful client never sends (must stay [])
//   loki.failNext(400, { reject: 3 });       // refuse 3 entries of the next push, store the rest
//   loki.failNext(429, { retryAfter: 2 });   // next push: 429 + Retry-After: 2, nothing stored
//   loki.failNext(503, { times: 3 });        // next three pushes: 503
//   loki.setReady(503, 'Ingester not ready'); // GET /ready answer (default 200 "ready")
//   await loki.close();
//
// What is checked, as Loki does: `Content-Type: application/json` with `Content-Encoding`
// gzip or none (else 415) and the body schema
// `{"streams":[{"stream":{..},"values":[["<ns>","<line>",{metadata}?],..]}]}`, timestamps as
// decimal nanosecond *strings* within int64; or `application/x-protobuf`: a snappy (block)
// logproto.PushRequest (test/support/loki-protobuf.ts), whose label text must parse and whose
// timestamps must be within int64; either way label names `[a-zA-Z_][a-zA-Z0-9_]*`, 1 to 15
// labels per stream, label values ≤ 2048 bytes, lines ≤ 256 KiB (maxLineBytes), and, stricter
// than Loki, each stream's values sorted by timestamp (requireSorted). A malformed body is
// refused whole (400, nothing stored); a bad stream or entry is refused alone and the rest
// stored, answered 400 with Loki's wording ("entry with timestamp … ignored, reason: '…' for
// stream: {…}," then "user 'fake', total ignored: N out of M for stream: {…}"). Every such
// refusal is also recorded in violations(), so a test can assert the sink sent none.
//
// Auth (when `auth` is set) and tenant (when `tenant` is set) are required on pushes only,
// as behind a typical gateway: 401 otherwise. A push without streams is answered 422, as
// Loki 3.2+ does (`emptyPushStatus: 204` for older Loki). Success is 204 No Content.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { decodePushRequest, snappyUncompress } from './loki-protobuf.js';
import { waitFor } from './poll.js';
import { listenTestServer } from './test-server.js';

export const LOKI_PUSH_PATH = '/loki/api/v1/push';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NANOS = /^(0|[1-9]\d{0,18})$/;
const INT64_MAX = 2n ** 63n - 1n;
const MAX_LABEL_NAME_BYTES = 1024;
const MAX_LABEL_VALUE_BYTES = 2048;
// Loki lists at most this many refused entries in a 400 body (ingester max_returned_stream_errors).
const MAX_RETURNED_ERRORS = 10;

export interface LokiReceiverOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly port?: number;
  /** Credentials every push must carry. */
  readonly auth?: { readonly username: string; readonly password: string } | { readonly token: string };
  /** X-Scope-OrgID every push must carry (Loki with auth_enabled answers 401 "no org id"). */
  readonly tenant?: string;
  /** Loki's max_line_size. Default 256 KiB. */
  readonly maxLineBytes?: number;
  /** Loki's max_label_names_per_series. Default 15. */
  readonly maxLabels?: number;
  /** Raw bodies larger than this are answered 413 (Loki's request size limit). Default 64 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Refuse entries older than this many ms before now (Loki's reject_old_samples_max_age), as
   * Loki's distributor does: the rest of the push is stored, and the 400 names only the last
   * refused entry (`entry for stream '{…}' has timestamp too old: …, oldest acceptable
   * timestamp is: …`, times as Go's RFC3339, whole seconds), without a count. Off by default.
   */
  readonly rejectOlderThanMs?: number;
  /** Drop an exact duplicate (labels, timestamp, line) of an entry already stored, as Loki's ingester does; counted in stats().duplicateEntries. Default false (tests see every copy). */
  readonly dropDuplicates?: boolean;
  /** Refuse streams whose values are not sorted by timestamp. Default true (a check on the sink; Loki itself accepts them). */
  readonly requireSorted?: boolean;
  /** Answer to a push without streams: 422 as Loki 3.2+ (default), or 204 as older Loki. */
  readonly emptyPushStatus?: 204 | 422;
  /** Keep stored entries (default true). When false only counters are kept (benchmarks). */
  readonly keepEntries?: boolean;
}

export interface LokiStoredEntry {
  readonly labels: Readonly<Record<string, string>>;
  /** Nanoseconds since the epoch, as sent. */
  readonly ts: string;
  readonly line: string;
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Index of the push that stored it. */
  readonly push: number;
}

export interface LokiPush {
  readonly index: number;
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBytes: number;
  decodedBytes: number;
  /** Streams and entries in the body (0 when it could not be read). */
  streams: number;
  entries: number;
  /** Entries stored from this push. */
  stored: number;
  /** Entries refused from this push (validation or scripted). */
  refused: number;
  status: number | undefined;
  /** The answer's body. */
  answer: string;
}

export interface LokiFailOptions {
  /** Sent as Retry-After (seconds, or an HTTP date). */
  readonly retryAfter?: number | string;
  /** The answer body; a Loki-like one by default. */
  readonly body?: string;
  /** How many pushes get this answer (default 1). */
  readonly times?: number;
  /** For 400: refuse only this many entries (the first ones, in body order) and store the rest. Default: all. */
  readonly reject?: number;
  /** For 400: the reason quoted per refused entry. */
  readonly reason?: string;
  /** For 400: leave out the "total ignored: N out of M" lines, as some Loki errors do. */
  readonly omitTotals?: boolean;
}

export interface LokiReceiverStats {
  readonly pushes: number;
  /** Pushes answered 2xx. */
  readonly accepted: number;
  readonly storedEntries: number;
  readonly refusedEntries: number;
  /** Exact duplicates dropped (dropDuplicates). */
  readonly duplicateEntries: number;
  readonly rawBytes: number;
  readonly decodedBytes: number;
}

export interface LokiReceiver {
  /** `http://127.0.0.1:<port>`: the base URL, as LOKI_URL takes it. */
  readonly url: string;
  readonly pushUrl: string;
  readonly port: number;
  /** Every push in arrival order, whatever it was answered. */
  readonly pushes: readonly LokiPush[];
  /** Every request (any path) in arrival order: method, path and headers. */
  readonly requests: ReadonlyArray<{ readonly method: string; readonly path: string; readonly headers: IncomingHttpHeaders }>;
  /** Stored entries in arrival order (stream by stream within a push, as sent). */
  entries(): LokiStoredEntry[];
  /** Distinct label sets stored, as `{a="1", b="2"}` strings (names sorted), with entry counts. */
  streams(): Map<string, number>;
  /** Everything refused for not being what Loki accepts (not scripted failures). A faithful client gets []. */
  violations(): string[];
  stats(): LokiReceiverStats;
  failNext(status: number, options?: LokiFailOptions): void;
  /** Answer for GET /ready (default 200 "ready"). */
  setReady(status: number, body?: string): void;
  /** Answer for GET / (default 404, as Loki; Grafana Cloud answers 200 here and 404 on /ready). */
  setRoot(status: number, body?: string): void;
  /** Polls until this many entries were stored. */
  waitForEntries(count: number, timeoutMs?: number): Promise<LokiStoredEntry[]>;
  /** Polls until this many pushes were answered. */
  waitForPushes(count: number, timeoutMs?: number): Promise<readonly LokiPush[]>;
  /** Forgets pushes, entries, violations, counters and queued answers. */
  reset(): void;
  /** Stops listening and ends open connections. Idempotent. */
  close(): Promise<void>;
}

interface ParsedEntry {
  ts: string;
  line: string;
  metadata: Record<string, string> | undefined;
}

interface ParsedStream {
  labels: Record<string, string>;
  entries: ParsedEntry[];
}

interface Scripted {
  readonly status: number;
  readonly options: LokiFailOptions;
}

class BadRequest extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const gunzip = promisify(zlib.gunzip);

/** Loki's rendering of a label set: names sorted, values quoted. */
export function labelString(labels: Readonly<Record<string, string>>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ')}}`;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** The body schema; anything off is a whole-request 400, as Loki's JSON decoder fails the request. */
function parsePush(text: string): ParsedStream[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new BadRequest(400, `error parsing push request: ${(error as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || !Array.isArray((doc as { streams?: unknown }).streams)) {
    throw new BadRequest(400, 'push request must be an object with a "streams" array');
  }
  const streams: ParsedStream[] = [];
  for (const [si, s] of ((doc as { streams: unknown[] }).streams).entries()) {
    if (s === null || typeof s !== 'object') throw new BadRequest(400, `streams[${si}] is not an object`);
    const { stream, values } = s as { stream?: unknown; values?: unknown };
    if (!isStringRecord(stream)) throw new BadRequest(400, `streams[${si}].stream must be an object of string label values`);
    if (!Array.isArray(values)) throw new BadRequest(400, `streams[${si}].values must be an array`);
    const entries: ParsedEntry[] = [];
    for (const [vi, v] of values.entries()) {
      const where = `streams[${si}].values[${vi}]`;
      if (!Array.isArray(v) || v.length < 2 || v.length > 3) throw new BadRequest(400, `${where} must be [ts, line] or [ts, line, metadata]`);
      const [ts, line, metadata] = v as [unknown, unknown, unknown];
      if (typeof ts !== 'string') throw new BadRequest(400, `${where}: timestamp must be a string of nanoseconds, got ${typeof ts}`);
      if (!NANOS.test(ts) || BigInt(ts) > INT64_MAX) throw new BadRequest(400, `${where}: timestamp "${ts.slice(0, 40)}" is not integer nanoseconds`);
      if (typeof line !== 'string') throw new BadRequest(400, `${where}: line must be a string`);
      if (metadata !== undefined && !isStringRecord(metadata)) throw new BadRequest(400, `${where}: structured metadata must be an object of strings`);
      entries.push({ ts, line, metadata });
    }
    streams.push({ labels: stream, entries });
  }
  return streams;
}

/** A snappy protobuf push in the JSON schema's terms; anything unreadable is a whole-request 400, as in Loki. */
function parseProtobufPush(body: Buffer): { streams: ParsedStream[]; decodedBytes: number } {
  let raw: Buffer;
  try {
    raw = snappyUncompress(body);
  } catch (error) {
    throw new BadRequest(400, `snappy: ${(error as Error).message}`);
  }
  try {
    const streams = decodePushRequest(raw).map((s) => ({
      labels: Object.fromEntries(s.labels),
      entries: s.entries.map((e) => {
        if (e.seconds < 0n || BigInt(e.ts) > INT64_MAX) throw new Error(`timestamp ${e.ts} is not within int64 nanoseconds`);
        return { ts: e.ts, line: e.line, metadata: e.metadata === undefined ? undefined : Object.fromEntries(e.metadata) };
      }),
    }));
    return { streams, decodedBytes: raw.length };
  } catch (error) {
    throw new BadRequest(400, `error parsing protobuf push request: ${(error as Error).message}`);
  }
}

function compareNanos(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Nanoseconds as Go's time.RFC3339 in UTC: whole seconds, `Z`. */
function goTime(ns: bigint): string {
  const ms = Number((ns < 0n ? ns - 999_999n : ns) / 1_000_000n);
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

function nanosToIso(ts: string): string {
  const ms = Number(BigInt(ts) / 1_000_000n);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : ts;
}

export async function startLokiReceiver(options: LokiReceiverOptions = {}): Promise<LokiReceiver> {
  const maxLineBytes = options.maxLineBytes ?? 256 * 1024;
  const maxLabels = options.maxLabels ?? 15;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const requireSorted = options.requireSorted ?? true;
  const keepEntries = options.keepEntries ?? true;
  const expectedAuth =
    options.auth === undefined
      ? undefined
      : 'token' in options.auth
        ? `Bearer ${options.auth.token}`
        : `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;

  const pushes: LokiPush[] = [];
  const requests: Array<{ method: string; path: string; headers: IncomingHttpHeaders }> = [];
  let stored: LokiStoredEntry[] = [];
  const streamCounts = new Map<string, number>();
  let violations: string[] = [];
  const queued: Scripted[] = [];
  let stats = { pushes: 0, accepted: 0, storedEntries: 0, refusedEntries: 0, duplicateEntries: 0, rawBytes: 0, decodedBytes: 0 };
  const storedKeys = new Set<string>();
  let ready = { status: 200, body: 'ready\n' };
  let root = { status: 404, body: '404 page not found\n' };
  let closed = false;

  /** Why Loki would refuse this stream's labels, or undefined. */
  function labelProblem(labels: Record<string, string>): string | undefined {
    const names = Object.keys(labels);
    if (names.length === 0) return 'error at least one label pair is required per stream';
    if (names.length > maxLabels) return `stream has ${names.length} label names; limit ${maxLabels}`;
    for (const n of names) {
      if (!LABEL_NAME.test(n)) return `invalid label name "${n}"`;
      if (Buffer.byteLength(n) > MAX_LABEL_NAME_BYTES) return `label name too long: "${n.slice(0, 40)}…"`;
      const v = labels[n]!;
      // Stricter than Loki (which drops the label): an empty value is a sink bug.
      if (v === '') return `empty value for label "${n}"`;
      if (Buffer.byteLength(v) > MAX_LABEL_VALUE_BYTES) return `label value too long for "${n}"`;
      if (!v.isWellFormed()) return `label value of "${n}" is not valid UTF-8`;
    }
    return undefined;
  }

  /** Why Loki would refuse this entry, or undefined. */
  function entryProblem(e: ParsedEntry): string | undefined {
    const size = Buffer.byteLength(e.line);
    if (size > maxLineBytes) return `Max entry size '${maxLineBytes}' bytes exceeded (${size} bytes)`;
    if (e.metadata !== undefined) {
      for (const n of Object.keys(e.metadata)) if (!LABEL_NAME.test(n)) return `invalid structured metadata name "${n}"`;
    }
    return undefined;
  }

  /** Stores what passes, refuses the rest; returns Loki's 400 body when anything was refused. */
  function ingest(streams: ParsedStream[], push: LokiPush, scripted: Scripted | undefined): string | undefined {
    let toRefuse = scripted ? (scripted.options.reject ?? Number.POSITIVE_INFINITY) : 0;
    const lines: string[] = [];
    let listed = 0;
    // The distributor's age check (validator.go): one threshold per push; the answer quotes the last refusal only.
    const oldest = options.rejectOlderThanMs === undefined ? undefined : BigInt(Date.now() - options.rejectOlderThanMs) * 1_000_000n;
    let tooOld: string | undefined;
    for (const s of streams) {
      const name = labelString(s.labels);
      const streamProblem = labelProblem(s.labels);
      if (streamProblem !== undefined) violations.push(`${streamProblem} for stream: ${name}`);
      let sortProblem: string | undefined;
      if (streamProblem === undefined && requireSorted) {
        for (let i = 1; i < s.entries.length; i++) {
          if (compareNanos(s.entries[i - 1]!.ts, s.entries[i]!.ts) > 0) {
            sortProblem = `values not sorted by timestamp at index ${i}`;
            violations.push(`${sortProblem} for stream: ${name}`);
            break;
          }
        }
      }
      let ignored = 0;
      for (const e of s.entries) {
        if (streamProblem === undefined && sortProblem === undefined && oldest !== undefined && BigInt(e.ts) < oldest) {
          tooOld = `entry for stream '${name}' has timestamp too old: ${goTime(BigInt(e.ts))}, oldest acceptable timestamp is: ${goTime(oldest)}`;
          push.refused++;
          stats.refusedEntries++;
          continue;
        }
        let reason = streamProblem ?? sortProblem;
        if (reason === undefined) {
          reason = entryProblem(e);
          if (reason !== undefined) violations.push(`${reason} for stream: ${name}`);
        }
        if (reason === undefined && toRefuse > 0) {
          toRefuse--;
          reason = scripted!.options.reason ?? 'entry too far behind';
        }
        if (reason !== undefined) {
          ignored++;
          if (listed++ < MAX_RETURNED_ERRORS) lines.push(`entry with timestamp ${nanosToIso(e.ts)} ignored, reason: '${reason}' for stream: ${name},`);
          continue;
        }
        if (options.dropDuplicates) {
          const key = `${name}\u0000${e.ts}\u0000${e.line}`;
          if (storedKeys.has(key)) {
            stats.duplicateEntries++;
            continue;
          }
          storedKeys.add(key);
        }
        push.stored++;
        stats.storedEntries++;
        streamCounts.set(name, (streamCounts.get(name) ?? 0) + 1);
        if (keepEntries) stored.push({ labels: s.labels, ts: e.ts, line: e.line, metadata: e.metadata, push: push.index });
      }
      if (ignored > 0) {
        push.refused += ignored;
        stats.refusedEntries += ignored;
        if (!scripted?.options.omitTotals) lines.push(`user 'fake', total ignored: ${ignored} out of ${s.entries.length} for stream: ${name}`);
      }
    }
    // Ingester refusals win (the distributor returns the ingesters' error); else the distributor's own.
    return lines.length > 0 ? lines.join('\n') : tooOld;
  }

  function defaultBody(status: number, push: LokiPush): string {
    if (status === 429) {
      return `ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '${push.entries}' lines totaling '${push.decodedBytes}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased`;
    }
    if (status === 413) return 'request body too large';
    if (status === 401) return 'no org id';
    if (status === 403) return 'forbidden';
    if (status >= 500) return 'rpc error: code = Unavailable desc = at least 2 live replicas required, could only find 1';
    return `scripted failure ${status}`;
  }

  async function handlePush(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let rawBytes = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      rawBytes += chunk.length;
      if (rawBytes <= maxBodyBytes) chunks.push(chunk);
    }
    const push: LokiPush = {
      index: pushes.length,
      at: Date.now(),
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      rawBytes,
      decodedBytes: 0,
      streams: 0,
      entries: 0,
      stored: 0,
      refused: 0,
      status: undefined,
      answer: '',
    };
    pushes.push(push);
    stats.pushes++;
    stats.rawBytes += rawBytes;

    const answer = (status: number, body: string, headers: Record<string, string> = {}): void => {
      push.status = status;
      push.answer = body;
      if (status >= 200 && status < 300) stats.accepted++;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(status === 204 ? undefined : body);
    };

    if (expectedAuth !== undefined && req.headers.authorization !== expectedAuth) {
      answer(401, req.headers.authorization === undefined ? 'authentication required' : 'invalid authentication credentials');
      return;
    }
    if (options.tenant !== undefined && req.headers['x-scope-orgid'] !== options.tenant) {
      answer(401, 'no org id');
      return;
    }
    if (rawBytes > maxBodyBytes) {
      answer(413, `request body too large: ${rawBytes} bytes, limit ${maxBodyBytes}`);
      return;
    }

    const scripted = queued.shift();
    let streams: ParsedStream[];
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
      if (type === 'application/x-protobuf') {
        // Loki reads a protobuf push as snappy itself; a Content-Encoding on top is not what clients send.
        if (encoding !== '' && encoding !== 'identity') throw new BadRequest(415, `Content-Encoding "${encoding}" on a protobuf push`);
        const parsed = parseProtobufPush(Buffer.concat(chunks));
        push.decodedBytes = parsed.decodedBytes;
        stats.decodedBytes += parsed.decodedBytes;
        streams = parsed.streams;
      } else if (type !== 'application/json') {
        throw new BadRequest(400, `Content-Type "${type}" is neither application/json nor application/x-protobuf`);
      } else {
        let decoded: Buffer;
        if (encoding === 'gzip') {
          try {
            decoded = await gunzip(Buffer.concat(chunks));
          } catch (error) {
            throw new BadRequest(400, `gzip: ${(error as Error).message}`);
          }
        } else if (encoding === '' || encoding === 'identity') {
          decoded = Buffer.concat(chunks);
        } else {
          throw new BadRequest(415, `Content-Encoding "${encoding}" not supported`);
        }
        push.decodedBytes = decoded.length;
        stats.decodedBytes += decoded.length;
        streams = parsePush(decoded.toString('utf8'));
      }
    } catch (error) {
      const e = error instanceof BadRequest ? error : new BadRequest(400, String(error));
      violations.push(e.message);
      answer(e.status, e.message);
      return;
    }
    push.streams = streams.length;
    push.entries = streams.reduce((n, s) => n + s.entries.length, 0);

    if (scripted !== undefined && scripted.status !== 400) {
      const headers: Record<string, string> = {};
      if (scripted.options.retryAfter !== undefined) headers['retry-after'] = String(scripted.options.retryAfter);
      answer(scripted.status, scripted.options.body ?? defaultBody(scripted.status, push), headers);
      return;
    }
    if (streams.length === 0) {
      const status = options.emptyPushStatus ?? 422;
      answer(status, status === 422 ? 'push request contains no streams' : '');
      return;
    }
    const refusal = ingest(streams, push, scripted);
    if (refusal !== undefined) answer(400, scripted?.options.body ?? refusal);
    else answer(204, '');
  }

  function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    if (path === LOKI_PUSH_PATH && req.method === 'POST') return handlePush(req, res);
    req.resume();
    const reply = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (path === '/ready' && req.method === 'GET') reply(ready.status, ready.body);
    else if (path === '/' && req.method === 'GET') reply(root.status, root.body);
    else if (path === LOKI_PUSH_PATH) reply(405, 'method not allowed\n');
    else reply(404, '404 page not found\n');
    return Promise.resolve();
  }

  const listening = await listenTestServer(handle, options);
  const { port, url } = listening;

  return {
    url,
    pushUrl: `${url}${LOKI_PUSH_PATH}`,
    port,
    pushes,
    requests,
    entries: () => stored.slice(),
    streams: () => new Map(streamCounts),
    violations: () => violations.slice(),
    stats: () => ({ ...stats }),
    failNext(status, opts = {}) {
      for (let i = 0; i < (opts.times ?? 1); i++) queued.push({ status, options: opts });
    },
    setReady(status, body) {
      ready = { status, body: body ?? (status === 200 ? 'ready\n' : 'Ingester not ready\n') };
    },
    setRoot(status, body) {
      root = { status, body: body ?? (status === 200 ? 'OK' : '404 page not found\n') };
    },
    async waitForEntries(count, timeoutMs = 20_000) {
      await waitFor(() => stats.storedEntries >= count, {
        what: `${count} entries stored by the Loki receiver`,
        timeoutMs,
        context: () =>
          `stored ${stats.storedEntries}, refused ${stats.refusedEntries} in ${stats.accepted} of ${stats.pushes} pushes accepted; violations: ${violations.slice(0, 3).join(' | ') || 'none'}`,
      });
      return stored.slice();
    },
    async waitForPushes(count, timeoutMs = 20_000) {
      await waitFor(() => pushes.filter((p) => p.status !== undefined).length >= count, {
        what: `${count} pushes answered by the Loki receiver`,
        timeoutMs,
      });
      return pushes;
    },
    reset() {
      pushes.length = 0;
      requests.length = 0;
      stored = [];
      streamCounts.clear();
      violations = [];
      queued.length = 0;
      stats = { pushes: 0, accepted: 0, storedEntries: 0, refusedEntries: 0, duplicateEntries: 0, rawBytes: 0, decodedBytes: 0 };
      storedKeys.clear();
    },
    async close() {
      if (closed) return;
      closed = true;
      await listening.close();
    },
  };
}
