// S3 for tests: s3rver (a real S3 HTTP API on the file system) on a free loopback port with
// its buckets, a reader that lists and fetches objects back with node:http and path-style
// URLs (deliberately not the sink's HTTP + aws4 code), and a recording proxy to put in
// front of it that captures request headers (s3rver drops SSE headers), answers scripted
// S3 errors, can go down (connections reset) and come back on the same port, can hold
// requests or the store's answers (to place a kill -9 of the agent), and checks bodies
// against Content-MD5 and x-amz-content-sha256 as S3 does (s3rver 3.7 checks neither).
//
//   const s3 = await startS3rver({ buckets: ['logs'] });
//   const proxy = await startS3Proxy(s3.endpoint);
//   ... point the sink at proxy.endpoint with S3RVER_CREDENTIALS ...
//   await readObjects(s3.endpoint, 'logs');      // [{ key, headers, lines }] sorted by key
//   proxy.requests; proxy.failNext(503); await proxy.down(); await proxy.up();
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { holdPort } from './ports.js';

/** The only key pair s3rver knows; any other access key id gets 403 InvalidAccessKeyId. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

// s3rver is CommonJS without type declarations.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

export interface S3rverHandle {
  /** `http://127.0.0.1:<port>`; an IP, so s3rver (and the sink) use path-style addressing. */
  readonly endpoint: string;
  readonly directory: string;
  close(): Promise<void>;
}

export async function startS3rver(options: { buckets?: readonly string[] } = {}): Promise<S3rverHandle> {
  const directory = await mkdtemp(join(tmpdir(), 'logferry-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  const address = await server.run();
  let closed = false;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    directory,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------
// The reader: plain node:http, path-style, unsigned (s3rver accepts anonymous requests).

interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function get(url: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function segmentEncode(key: string): string {
  return key.split('/').map((s) => encodeURIComponent(s)).join('/');
}

function xmlUnescape(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] ?? '');
}

/** Every key in the bucket (ListObjectsV2, following continuation tokens), sorted. */
export async function listKeys(endpoint: string, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const query = new URLSearchParams({ 'list-type': '2', 'max-keys': '1000' });
    if (prefix !== '') query.set('prefix', prefix);
    if (token !== undefined) query.set('continuation-token', token);
    const answer = await get(`${endpoint}/${encodeURIComponent(bucket)}?${query.toString()}`);
    const xml = answer.body.toString('utf8');
    if (answer.status !== 200) throw new Error(`listing bucket ${bucket} answered HTTP ${answer.status}: ${xml.slice(0, 300)}`);
    for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(xmlUnescape(m[1]!));
    const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1];
    if (!/<IsTruncated>true<\/IsTruncated>/.test(xml) || next === undefined) return keys.sort();
    token = xmlUnescape(next);
  }
  throw new Error('listing did not end');
}

export async function getObject(endpoint: string, bucket: string, key: string): Promise<RawAnswer> {
  const answer = await get(`${endpoint}/${encodeURIComponent(bucket)}/${segmentEncode(key)}`);
  if (answer.status !== 200) throw new Error(`GET ${key} answered HTTP ${answer.status}: ${answer.body.toString('utf8').slice(0, 300)}`);
  return answer;
}

export interface StoredObject {
  readonly key: string;
  readonly headers: IncomingHttpHeaders;
  /** The stored (compressed) size. */
  readonly size: number;
  /** Lines of the decompressed object, without their `\n`. */
  readonly lines: string[];
}

/** The NDJSON text of a stored object, by its key's ending: `.gz` gzip, `.zst` zstd, else plain. */
export function objectText(key: string, body: Buffer): string {
  const bytes = key.endsWith('.gz') ? gunzipSync(body) : key.endsWith('.zst') ? zstdDecompressSync(body) : body;
  return bytes.toString('utf8');
}

/** Lists, fetches and decompresses every object (by its key's ending), sorted by key. Fails on a body that is not NDJSON ending in `\n`. */
export async function readObjects(endpoint: string, bucket: string, prefix = ''): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for (const key of await listKeys(endpoint, bucket, prefix)) {
    const answer = await getObject(endpoint, bucket, key);
    const text = objectText(key, answer.body);
    if (text !== '' && !text.endsWith('\n')) throw new Error(`object ${key} does not end with a newline`);
    const lines = text === '' ? [] : text.slice(0, -1).split('\n');
    out.push({ key, headers: answer.headers, size: answer.body.length, lines });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The recording proxy.

export interface RecordedRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** What the proxy answered (its own status for scripted failures, else the upstream's). */
  status?: number;
  /** The whole body arrived at the proxy. */
  received?: boolean;
  /** The upstream store answered (for a PUT with 200: the object is stored). */
  upstreamStatus?: number;
  /** Held (see S3Proxy.hold) and not released yet. */
  held?: 'request' | 'answer';
  /** The client went away before it got an answer. */
  abandoned?: boolean;
}

/** What the proxy holds back: nothing, whole requests before the store sees them, or the store's answers. */
export type HoldMode = 'none' | 'requests' | 'answers';

export interface S3Error {
  readonly status: number;
  /** S3's `<Code>`; default by status (503 → ServiceUnavailable, 403 → AccessDenied, …). */
  readonly code?: string;
  readonly message?: string;
  /** Seconds for a Retry-After header. */
  readonly retryAfter?: number;
}

export interface S3Proxy {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Answer the next request with this S3 error instead of forwarding it. */
  failNext(status: number, error?: Omit<S3Error, 'status'>): void;
  /** Answer every request with this error (undefined: forward again). */
  failAll(error: S3Error | undefined): void;
  /**
   * From now on hold PUTs (`requests`: the body is read, the store never sees it) or the
   * store's answers to them (`answers`: the object is stored, the client waits); `none`
   * releases everything held and stops holding. Requests whose client went away meanwhile are dropped.
   */
  hold(mode: HoldMode): void;
  /** Delay the store's answers to PUTs by this long (the object is stored meanwhile); 0 stops delaying. */
  slowAnswers(ms: number): void;
  /** Stop serving and cut open connections: the store is unreachable (connections are reset; the port stays held, see holdPort). */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_CODES: Readonly<Record<number, string>> = {
  400: 'InvalidArgument',
  403: 'AccessDenied',
  404: 'NoSuchKey',
  413: 'EntityTooLarge',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** S3's XML error body. */
export function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`;
}

function answerError(res: ServerResponse, error: S3Error): void {
  const code = error.code ?? DEFAULT_CODES[error.status] ?? 'InternalError';
  const body = s3ErrorXml(code, error.message ?? `scripted ${code}`);
  const headers: Record<string, string | number> = { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) };
  if (error.retryAfter !== undefined) headers['retry-after'] = error.retryAfter;
  res.writeHead(error.status, headers);
  res.end(body);
}

/**
 * What S3 answers for a body that does not match its checksums (undefined when it does):
 * Content-MD5 (base64 MD5, optional) gives 400 BadDigest; a hex x-amz-content-sha256 (the
 * signed payload hash) that differs gives 400 XAmzContentSHA256Mismatch.
 */
export function checksumRefusal(headers: IncomingHttpHeaders, body: Buffer): S3Error | undefined {
  const md5 = headers['content-md5'];
  if (typeof md5 === 'string' && createHash('md5').update(body).digest('base64') !== md5) {
    return { status: 400, code: 'BadDigest', message: 'The Content-MD5 you specified did not match what we received.' };
  }
  const sha = headers['x-amz-content-sha256'];
  if (typeof sha === 'string' && /^[0-9a-f]{64}$/.test(sha) && createHash('sha256').update(body).digest('hex') !== sha) {
    return { status: 400, code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." };
  }
  return undefined;
}

export async function startS3Proxy(target: string | undefined): Promise<S3Proxy> {
  const upstream = target === undefined ? undefined : new URL(target);
  const requests: RecordedRequest[] = [];
  const scripted: S3Error[] = [];
  let always: S3Error | undefined;
  const sockets = new Set<Socket>();
  let holding: HoldMode = 'none';
  let answerDelayMs = 0;
  const held: Array<() => void> = [];

  const forwardUpstream = (req: IncomingMessage, body: Buffer, record: RecordedRequest, res: ServerResponse): void => {
    const forward = request(
      { host: upstream!.hostname, port: upstream!.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          record.upstreamStatus = up.statusCode;
          const answer = (): void => {
            record.held = undefined;
            if (record.abandoned) return;
            record.status = up.statusCode;
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(Buffer.concat(chunks));
          };
          if (holding === 'answers' && req.method === 'PUT') {
            record.held = 'answer';
            held.push(answer);
          } else if (answerDelayMs > 0 && req.method === 'PUT') {
            setTimeout(answer, answerDelayMs);
          } else {
            answer();
          }
        });
      },
    );
    forward.on('error', (err) => {
      record.status = 502;
      if (!res.headersSent) answerError(res, { status: 502, code: 'BadGateway', message: err.message });
      else res.destroy();
    });
    forward.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const record: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers };
    requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.abandoned = true;
    });
    // Read the whole body first, as a real server does before answering a PUT.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      record.received = true;
      const body = Buffer.concat(chunks);
      const failure = scripted.shift() ?? always ?? (req.method === 'PUT' ? checksumRefusal(req.headers, body) : undefined);
      if (failure !== undefined || upstream === undefined) {
        const error = failure ?? { status: 502, code: 'BadGateway', message: 'proxy has no upstream' };
        record.status = error.status;
        answerError(res, error);
        return;
      }
      const go = (): void => {
        record.held = undefined;
        // The client is gone: a real store would not have the whole request either.
        if (!record.abandoned) forwardUpstream(req, body, record, res);
      };
      if (holding === 'requests' && req.method === 'PUT') {
        record.held = 'request';
        held.push(go);
      } else {
        go();
      }
    });
  };

  let server: Server = createServer(handle);
  const track = (s: Server): void => {
    s.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  };
  track(server);
  const listen = (s: Server, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve((s.address() as AddressInfo).port);
      });
    });
  const port = await listen(server, 0);
  let listening = true;
  let releasePort: (() => Promise<void>) | undefined;

  const stop = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    failNext(status, error = {}) {
      scripted.push({ status, ...error });
    },
    failAll(error) {
      always = error;
    },
    slowAnswers(ms) {
      answerDelayMs = ms;
    },
    hold(mode) {
      holding = mode;
      if (mode === 'none') for (const release of held.splice(0)) release();
    },
    async down() {
      if (!listening) return;
      await stop();
      releasePort = await holdPort(port);
    },
    async up() {
      if (listening) return;
      await releasePort?.();
      releasePort = undefined;
      server = createServer(handle);
      track(server);
      await listen(server, port);
      listening = true;
    },
    async close() {
      await stop();
      await releasePort?.();
      releasePort = undefined;
    },
  };
}
