// Receivers standing in for the HTTP/JSON vendors of branch f-dest-http (AppSignal, Axiom,
// Baselime, Better Stack, Highlight, Honeybadger, HyperDX, LogDNA/Mezmo, Logflare, OpenObserve,
// SigNoz, Uptrace, Slack webhooks). One receiver built on test/support/http-receiver.ts, with a
// profile per vendor of what its documented API checks: path and query, auth header, content
// type, compression, body schema, limits. A request that fails a check is answered the way the
// vendor answers it (401/403, 400/406/415, 413) and recorded in `problems`, so a test that
// expects none fails loudly. Scripted answers (failNext) use the vendor's wording; `refuse`
// makes the receiver refuse chosen entries inside an accepted request, answered in the
// vendor's own partial-success shape where it has one (Axiom, OpenObserve).
//
//   const rx = await startVendorReceiver(PROFILES.axiom({ token: 't', dataset: 'd' }));
//   env AXIOM_URL = rx.url; ... rx.stored() → the entries as Fly sent them, as stored.
import { gunzipSync } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest, type ScriptedAnswer } from '../http-receiver.js';
import { waitFor } from '../poll.js';

export type Rec = Record<string, unknown>;

export interface VendorProfile {
  readonly vendor: string;
  /** Path (and query) checks: returns a problem, or undefined when the request is addressed right. */
  readonly checkTarget: (path: string, query: URLSearchParams) => string | undefined;
  /** True when the request carries the right credentials. */
  readonly authorized: (headers: IncomingHttpHeaders, query: URLSearchParams) => boolean;
  readonly unauthorized: ScriptedAnswer;
  /** Content types the vendor takes (prefix match). */
  readonly contentTypes: readonly string[];
  /** The body must be gzip'd (true), must not be (false). */
  readonly gzip: boolean;
  /** Largest body on the wire (bytes), when the vendor documents one. */
  readonly maxBodyBytes?: number;
  readonly tooLarge?: ScriptedAnswer;
  /** The vendor's records from a decoded body; throws with the vendor's wording when it cannot read it. */
  readonly parse: (decoded: Buffer, query: URLSearchParams) => Rec[];
  /** A schema problem with one record, or undefined. */
  readonly validate: (record: Rec) => string | undefined;
  readonly badRequest: (problem: string) => ScriptedAnswer;
  /** The entry as Fly sent it, from the vendor's record. */
  readonly toOriginal: (record: Rec) => Rec;
  /** The vendor's answer when `stored` records were kept and `failed` refused. */
  readonly success: (stored: number, failed: readonly string[]) => ScriptedAnswer;
  /** True when the vendor can say in a 2xx which records it refused. */
  readonly partialInAnswer: boolean;
  /** A start-up request the vendor answers without storing anything (healthcheck). */
  readonly isHealthcheck?: (method: string, path: string, decoded: Buffer) => boolean;
  /** Scripted failures in the vendor's wording. */
  readonly failureBody?: (status: number) => string;
  /** A check on the request as a whole after auth (Slack's rate limit); an answer refuses it. */
  readonly gate?: (req: ReceivedRequest) => ScriptedAnswer | undefined;
}

export interface VendorReceiver {
  readonly profile: VendorProfile;
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  readonly http: HttpReceiver;
  /** Entries stored (as Fly sent them), in arrival order. */
  stored(): Rec[];
  /** Records as the vendor received them (its shape), stored ones only. */
  storedRecords(): Rec[];
  /** Entries refused inside accepted requests (partial success). */
  refusedCount(): number;
  /** Check failures seen (auth, schema, limits, addressing), one line each. */
  readonly problems: string[];
  healthchecks(): number;
  /** The next request(s) get this status in the vendor's wording (429 with Retry-After: 1 unless given). */
  failNext(status: number, options?: { retryAfter?: number | string; times?: number }): void;
  /** Answer every request with this status (an outage) until called with undefined. */
  outage(status: number | undefined): void;
  /** Refuse records for which this returns a reason (inside a 2xx where the vendor can say so, else 400 for the whole request). */
  refuse(predicate: ((record: Rec) => string | undefined) | undefined): void;
  waitForStored(count: number, timeoutMs?: number): Promise<Rec[]>;
  close(): Promise<void>;
}

export async function startVendorReceiver(profile: VendorProfile): Promise<VendorReceiver> {
  const http = await startHttpReceiver({ parse: 'none' });
  const records: Rec[] = [];
  const problems: string[] = [];
  let refused = 0;
  let healthchecks = 0;
  let refuse: ((record: Rec) => string | undefined) | undefined;
  let outage: number | undefined;

  const problem = (req: ReceivedRequest, what: string, answer: ScriptedAnswer): ScriptedAnswer => {
    problems.push(`${req.method} ${req.path.split('?')[0]}: ${what}`);
    return answer;
  };

  http.respondWith((req) => {
    if (outage !== undefined) return { status: outage, body: profile.failureBody?.(outage) ?? defaultFailureBody(outage) };
    const target = new URL(req.path, 'http://receiver');
    const query = target.searchParams;
    if (profile.isHealthcheck?.(req.method, target.pathname, req.decoded)) {
      healthchecks++;
      return profile.authorized(req.headers, query) ? { status: 200, body: '{}' } : profile.unauthorized;
    }
    if (req.method !== 'POST') return problem(req, `method ${req.method}`, { status: 405, body: 'Method Not Allowed' });
    const misaddressed = profile.checkTarget(target.pathname, query);
    if (misaddressed) return problem(req, misaddressed, { status: 404, body: 'Not Found' });
    if (!profile.authorized(req.headers, query)) return problem(req, 'credentials missing or wrong', profile.unauthorized);
    const gated = profile.gate?.(req);
    if (gated) return problem(req, `refused: ${String(gated.body)}`, gated);
    const contentType = String(req.headers['content-type'] ?? '');
    if (!profile.contentTypes.some((t) => contentType.startsWith(t))) return problem(req, `content-type ${contentType}`, { status: 415, body: 'Unsupported Media Type' });
    const gzipped = req.headers['content-encoding'] === 'gzip';
    if (gzipped !== profile.gzip) return problem(req, `content-encoding ${String(req.headers['content-encoding'] ?? 'none')}`, profile.badRequest('unexpected content-encoding'));
    if (profile.maxBodyBytes !== undefined && req.rawBytes > profile.maxBodyBytes) return problem(req, `body of ${req.rawBytes} bytes over ${profile.maxBodyBytes}`, profile.tooLarge ?? { status: 413, body: 'payload reached size limit' });
    let batch: Rec[];
    try {
      batch = profile.parse(gzipped ? gunzipSync(req.body) : req.body, query);
    } catch (error) {
      return problem(req, `unreadable body: ${error instanceof Error ? error.message : String(error)}`, profile.badRequest('unreadable body'));
    }
    for (const record of batch) {
      const wrong = profile.validate(record);
      if (wrong) return problem(req, `record schema: ${wrong}`, profile.badRequest(wrong));
    }
    const failures: string[] = [];
    const kept: Rec[] = [];
    for (const record of batch) {
      const reason = refuse?.(record);
      if (reason === undefined) kept.push(record);
      else failures.push(reason);
    }
    if (failures.length > 0 && !profile.partialInAnswer) return profile.badRequest(failures[0]!);
    records.push(...kept);
    refused += failures.length;
    return profile.success(kept.length, failures);
  });

  return {
    profile,
    url: http.url,
    http,
    stored: () => records.map(profile.toOriginal),
    storedRecords: () => [...records],
    refusedCount: () => refused,
    problems,
    healthchecks: () => healthchecks,
    failNext(status, options = {}) {
      const retryAfter = options.retryAfter ?? (status === 429 || status === 503 ? 1 : undefined);
      http.failNext(status, { ...(retryAfter !== undefined ? { retryAfter } : {}), times: options.times ?? 1, body: profile.failureBody?.(status) ?? defaultFailureBody(status) });
    },
    outage(status) {
      outage = status;
    },
    refuse(predicate) {
      refuse = predicate;
    },
    async waitForStored(count, timeoutMs = 30_000) {
      await waitFor(() => records.length >= count, { what: `${count} entries stored by the ${profile.vendor} receiver`, timeoutMs, context: () => `stored ${records.length}; problems: ${problems.slice(0, 3).join(' | ')}` });
      return records.map(profile.toOriginal);
    },
    close: () => http.close(),
  };
}

function defaultFailureBody(status: number): string {
  if (status === 429) return 'Too Many Requests';
  if (status === 413) return 'Payload Too Large';
  if (status === 401) return 'Unauthorized';
  if (status === 403) return 'Forbidden';
  if (status >= 500) return 'Internal Server Error';
  return 'Bad Request';
}

// ---- Body readers and small checks ----

function jsonArray(decoded: Buffer): Rec[] {
  const value: unknown = JSON.parse(decoded.toString('utf8'));
  if (!Array.isArray(value)) throw new Error('expected a JSON array');
  return value as Rec[];
}

function ndjson(decoded: Buffer): Rec[] {
  const text = decoded.toString('utf8');
  if (text !== '' && !text.endsWith('\n')) throw new Error('NDJSON must end with a newline');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Rec);
}

const isObject = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);
const objectRecord = (r: Rec): string | undefined => (isObject(r) ? undefined : 'not a JSON object');
const bearer = (token: string) => (h: IncomingHttpHeaders): boolean => h.authorization === `Bearer ${token}`;
const basic = (user: string, password: string) => (h: IncomingHttpHeaders): boolean => h.authorization === `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const exactPath = (expected: string) => (path: string): string | undefined => (path === expected ? undefined : `path ${path}, expected ${expected}`);
const identity = (r: Rec): Rec => r;

function renamed(record: Rec, from: string, to: string): Rec {
  const out: Rec = {};
  for (const [k, v] of Object.entries(record)) out[k === from ? to : k] = v;
  return out;
}

const JSON_TYPES = ['application/json'];
const NDJSON_TYPES = ['application/x-ndjson', 'application/json'];
const plain = (status: number, body = ''): ScriptedAnswer => ({ status, body });
const json = (status: number, body: unknown): ScriptedAnswer => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

// ---- The vendors ----

type ProfileDefaults = 'validate' | 'toOriginal' | 'partialInAnswer';

/** A profile with the common defaults: any JSON object is a record, stored as sent, no partial success in a 2xx. */
function profile(p: Omit<VendorProfile, ProfileDefaults> & Partial<Pick<VendorProfile, ProfileDefaults>>): VendorProfile {
  return { validate: objectRecord, toOriginal: identity, partialInAnswer: false, ...p };
}

export const PROFILES = {
  /** AppSignal's Vector endpoint: POST /vector/events, bearer push key, gzip'd JSON array of {"log": …}; GET /vector/healthcheck. */
  appsignal: ({ key }: { key: string }): VendorProfile => profile({
    vendor: 'appsignal',
    checkTarget: exactPath('/vector/events'),
    authorized: bearer(key),
    unauthorized: plain(401, 'Unauthorized'),
    contentTypes: JSON_TYPES,
    gzip: true,
    parse: jsonArray,
    validate: (r) => (isObject(r) && isObject(r.log) && Object.keys(r).length === 1 ? undefined : 'expected {"log": {…}}'),
    badRequest: (p) => plain(400, p),
    toOriginal: (r) => r.log as Rec,
    success: () => plain(200, ''),
    isHealthcheck: (method, path) => method === 'GET' && path === '/vector/healthcheck',
  }),

  /** Axiom ingest: POST /v1/datasets/<dataset>/ingest, bearer, NDJSON (gzip), 200 with ingested/failed counts. */
  axiom: ({ token, dataset }: { token: string; dataset: string }): VendorProfile => profile({
    vendor: 'axiom',
    checkTarget: exactPath(`/v1/datasets/${dataset}/ingest`),
    authorized: bearer(token),
    unauthorized: json(403, { code: 403, message: 'Forbidden' }),
    contentTypes: ['application/x-ndjson'],
    gzip: true,
    parse: ndjson,
    validate: (r) => (isObject(r) && (typeof r._time === 'string' || typeof r.timestamp === 'string') ? undefined : 'no _time or timestamp'),
    badRequest: (p) => json(400, { code: 400, message: p }),
    success: (stored, failed) =>
      json(200, { ingested: stored, failed: failed.length, failures: failed.map((error) => ({ timestamp: new Date().toISOString(), error })), processedBytes: 0, blocksCreated: 0, walLength: stored }),
    partialInAnswer: true,
    failureBody: (status) => (status === 429 ? JSON.stringify({ message: 'rate limit exceeded' }) : JSON.stringify({ code: status, message: defaultFailureBody(status) })),
  }),

  /** Baselime: POST /v1/<dataset>, bearer, JSON array. */
  baselime: ({ key, dataset }: { key: string; dataset: string }): VendorProfile => profile({
    vendor: 'baselime',
    checkTarget: exactPath(`/v1/${dataset}`),
    authorized: bearer(key),
    unauthorized: json(401, { message: 'Unauthorized' }),
    contentTypes: JSON_TYPES,
    gzip: false,
    parse: jsonArray,
    badRequest: (p) => json(400, { message: p }),
    success: () => json(202, { message: 'Request Accepted' }),
  }),

  /** Better Stack: POST /, bearer source token, JSON array with `dt`; 10 MiB per request; 202. */
  betterstack: ({ token }: { token: string }): VendorProfile => profile({
    vendor: 'betterstack',
    checkTarget: exactPath('/'),
    authorized: bearer(token),
    unauthorized: plain(403, 'Unauthorized'),
    contentTypes: ['application/json', 'application/x-ndjson', 'application/msgpack'],
    gzip: false,
    maxBodyBytes: 10 * 1024 * 1024,
    tooLarge: plain(413, 'payload reached size limit'),
    parse: jsonArray,
    validate: (r) => (!isObject(r) ? 'not a JSON object' : 'timestamp' in r ? '`timestamp` sent; Better Stack reads `dt`' : typeof r.dt === 'string' ? undefined : 'no dt'),
    badRequest: () => plain(406, "Couldn't parse JSON content."),
    toOriginal: (r) => renamed(r, 'dt', 'timestamp'),
    success: () => plain(202, ''),
  }),

  /** Highlight: POST /v1/logs/json, x-highlight-project, gzip'd NDJSON. */
  highlight: ({ project }: { project: string }): VendorProfile => profile({
    vendor: 'highlight',
    checkTarget: exactPath('/v1/logs/json'),
    authorized: (h) => h['x-highlight-project'] === project,
    unauthorized: plain(401, 'unauthorized'),
    contentTypes: NDJSON_TYPES,
    gzip: true,
    parse: ndjson,
    badRequest: (p) => plain(400, p),
    success: () => plain(200, ''),
  }),

  /** Honeybadger Insights: POST /v1/events, X-API-Key, NDJSON with `ts`; at most 102,400 bytes; 201. */
  honeybadger: ({ key }: { key: string }): VendorProfile => profile({
    vendor: 'honeybadger',
    checkTarget: exactPath('/v1/events'),
    authorized: (h) => h['x-api-key'] === key,
    unauthorized: json(403, { error: 'Either the API key is incorrect or the account has been deactivated' }),
    contentTypes: NDJSON_TYPES,
    gzip: false,
    maxBodyBytes: 102_400,
    tooLarge: json(413, { error: 'The payload size was too large. The maximum acceptable size is 102,400 bytes' }),
    parse: ndjson,
    validate: (r) => (!isObject(r) ? 'not a JSON object' : 'timestamp' in r ? '`timestamp` sent; Honeybadger reads `ts`' : typeof r.ts === 'string' ? undefined : 'no ts'),
    badRequest: () => json(422, { error: "The payload couldn't be processed." }),
    toOriginal: (r) => renamed(r, 'ts', 'timestamp'),
    success: () => json(201, {}),
  }),

  /** HyperDX: POST /?hdx_platform=flyio, bearer, JSON array. */
  hyperdx: ({ key }: { key: string }): VendorProfile => profile({
    vendor: 'hyperdx',
    checkTarget: (path, q) => (path !== '/' ? `path ${path}` : q.get('hdx_platform') !== 'flyio' ? 'hdx_platform is not flyio' : undefined),
    authorized: bearer(key),
    unauthorized: plain(401, 'Unauthorized'),
    contentTypes: JSON_TYPES,
    gzip: false,
    parse: jsonArray,
    badRequest: (p) => plain(400, p),
    success: () => plain(200, 'OK'),
  }),

  /** Mezmo (LogDNA): POST /logs/ingest?hostname=…&now=…, basic auth key:, {"lines":[{line, timestamp, app, env, meta}]}. */
  logdna: ({ key }: { key: string }): VendorProfile => profile({
    vendor: 'logdna',
    checkTarget: (path, q) =>
      path !== '/logs/ingest' ? `path ${path}` : !q.get('hostname') ? 'no hostname' : !/^\d+$/.test(q.get('now') ?? '') ? 'now is not ms' : undefined,
    authorized: basic(key, ''),
    unauthorized: json(401, { error: 'Unauthorized', code: 'Unauthorized', status: 'error' }),
    contentTypes: JSON_TYPES,
    gzip: false,
    parse: (decoded, q) => {
      const body = JSON.parse(decoded.toString('utf8')) as { lines?: unknown };
      if (!isObject(body) || !Array.isArray(body.lines)) throw new Error('expected {"lines":[…]}');
      // The query's hostname is the instance of every line (the sink batches per instance).
      return (body.lines as Rec[]).map((l) => ({ ...l, __hostname: q.get('hostname') }));
    },
    validate: (r) => {
      if (typeof r.line !== 'string') return 'line is not a string';
      if (r.timestamp !== undefined && typeof r.timestamp !== 'number') return 'timestamp is not ms';
      const instance = ((r.meta as Rec | undefined)?.fly as { app?: { instance?: unknown } } | undefined)?.app?.instance;
      if (instance !== undefined && instance !== r.__hostname) return `hostname ${String(r.__hostname)} is not the line's instance ${String(instance)}`;
      return isObject(r.meta) && typeof r.app === 'string' && typeof r.env === 'string' ? undefined : 'missing app, env or meta';
    },
    badRequest: (p) => json(400, { error: p, status: 'error' }),
    toOriginal: (r) => ({ ...(r.meta as Rec), message: r.line }),
    success: () => json(200, { status: 'ok', batchID: 'b-1' }),
    isHealthcheck: (method, path, decoded) => method === 'POST' && path === '/logs/ingest' && decoded.length === 0,
  }),

  /** Logflare: POST /logs/vector?source=<token>, X-API-Key, JSON array with `level`. */
  logflare: ({ key, source }: { key: string; source: string }): VendorProfile => profile({
    vendor: 'logflare',
    checkTarget: (path, q) => (path !== '/logs/vector' ? `path ${path}` : q.get('source') !== source ? 'wrong source' : undefined),
    authorized: (h) => h['x-api-key'] === key,
    unauthorized: json(401, { error: 'Unauthorized' }),
    contentTypes: JSON_TYPES,
    gzip: false,
    parse: jsonArray,
    validate: (r) => (isObject(r) && 'level' in r ? undefined : 'no level'),
    badRequest: (p) => json(406, { message: p }),
    toOriginal: (r) => {
      const { level: _level, ...rest } = r;
      return rest;
    },
    success: () => json(200, { message: 'Logged!' }),
  }),

  /** OpenObserve: POST /api/<org>/<stream>/_json, basic auth, gzip'd JSON array; 200 with per-stream successful/failed. */
  openobserve: ({ user, password, path }: { user: string; password: string; path: string }): VendorProfile => profile({
    vendor: 'openobserve',
    checkTarget: exactPath(path),
    authorized: basic(user, password),
    unauthorized: json(401, { code: 401, message: 'Unauthorized Access' }),
    contentTypes: JSON_TYPES,
    gzip: true,
    parse: jsonArray,
    badRequest: (p) => json(400, { code: 400, message: p }),
    success: (stored, failed) => json(200, { code: 200, status: [{ name: path.split('/')[3] ?? 'default', successful: stored, failed: failed.length, ...(failed.length > 0 ? { error: failed[0] } : {}) }] }),
    partialInAnswer: true,
  }),

  /** SigNoz: POST /logs/vector, signoz-access-token, JSON array. */
  signoz: ({ key }: { key: string }): VendorProfile => profile({
    vendor: 'signoz',
    checkTarget: exactPath('/logs/vector'),
    authorized: (h) => h['signoz-access-token'] === key,
    unauthorized: plain(401, 'invalid access token'),
    contentTypes: JSON_TYPES,
    gzip: false,
    parse: jsonArray,
    badRequest: (p) => plain(400, p),
    success: () => plain(200, ''),
  }),

  /** Uptrace: POST /api/v1/vector-logs, uptrace-dsn, gzip'd NDJSON. */
  uptrace: ({ dsn }: { dsn: string }): VendorProfile => profile({
    vendor: 'uptrace',
    checkTarget: exactPath('/api/v1/vector-logs'),
    authorized: (h) => h['uptrace-dsn'] === dsn,
    unauthorized: json(401, { message: 'uptrace: project not found or DSN is invalid' }),
    contentTypes: NDJSON_TYPES,
    gzip: true,
    parse: ndjson,
    badRequest: (p) => json(400, { message: p }),
    success: () => plain(200, ''),
  }),

  /**
   * A Slack incoming webhook: POST /services/…, application/json {text?, blocks}: at most 50
   * blocks, section texts of at most 3,000 characters; 200 "ok". More than one message a second
   * is answered 429 with Retry-After (Slack's limit for webhooks). Records are the alerts, read
   * back from fly-log-shipper's two blocks per alert.
   */
  slack: ({ path }: { path: string }): VendorProfile => {
    let last = 0;
    return {
      vendor: 'slack',
      checkTarget: exactPath(path),
      authorized: () => true,
      unauthorized: plain(403, 'invalid_token'),
      contentTypes: JSON_TYPES,
      gzip: false,
      parse: parseSlack,
      validate: () => undefined,
      badRequest: (p) => plain(400, p.startsWith('invalid_') ? p : 'invalid_payload'),
      toOriginal: identity,
      success: () => plain(200, 'ok'),
      partialInAnswer: false,
      failureBody: (status) => (status === 404 ? 'channel_not_found' : status === 429 ? 'rate_limited' : status >= 500 ? 'rollup_error' : 'invalid_payload'),
      gate: (req) => {
        // Slack allows one message a second per webhook "with short bursts"; a sender that paces
        // itself a second apart arrives with some jitter, one that does not arrives back to back.
        const tooSoon = last !== 0 && req.at - last < SLACK_MIN_GAP_MS;
        last = req.at;
        return tooSoon ? { status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' } : undefined;
      },
    };
  },
} as const;

/** Arrivals closer than this are refused 429: well under the sender's one second, well over transit jitter. */
export const SLACK_MIN_GAP_MS = 500;

const SLACK_HEAD = /^New alert from \*(.*)\*$/s;
const SLACK_BODY = /^\*AppId:\* (.*)\n\*Message:\*\n```([\s\S]*)```$/;

function parseSlack(decoded: Buffer): Rec[] {
  const body = JSON.parse(decoded.toString('utf8')) as { blocks?: unknown };
  if (!isObject(body) || !Array.isArray(body.blocks) || body.blocks.length === 0) throw new Error('invalid_blocks: no blocks');
  const blocks = body.blocks as Array<{ type?: string; text?: { type?: string; text?: string } }>;
  if (blocks.length > 50) throw new Error('invalid_blocks: more than 50 blocks');
  const alerts: Rec[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!;
    if (block.type === 'context') continue;
    if (block.type !== 'section' || block.text?.type !== 'mrkdwn' || typeof block.text.text !== 'string') throw new Error(`invalid_blocks: block ${i}`);
    if (block.text.text.length > 3000) throw new Error(`invalid_blocks: block ${i} text over 3000 characters`);
    const head = SLACK_HEAD.exec(block.text.text);
    const next = blocks[i + 1]?.text?.text;
    const detail = typeof next === 'string' ? SLACK_BODY.exec(next) : null;
    if (!head || !detail) throw new Error(`invalid_blocks: block ${i} is not fly-log-shipper's alert`);
    if (next!.length > 3000) throw new Error(`invalid_blocks: block ${i + 1} text over 3000 characters`);
    alerts.push({ app: head[1], instance: detail[1], message: detail[2] });
    i++;
  }
  return alerts;
}
