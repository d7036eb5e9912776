// One HTTP attempt, shared by every HTTP-based sink: non-2xx answers become
// SinkResponseError (with Retry-After and a short body excerpt), transport failures become
// SinkNetworkError. No retries here: the core retries. Built on node:http/https rather
// than undici: the agent sends a handful of requests a second, and undici's ~5 MB of heap
// made every full GC (which batch buffers trigger often at full speed) a third dearer.
import { Agent as HttpAgent, request as httpRequestRaw, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequestRaw } from 'node:https';
import { SinkNetworkError, SinkResponseError } from '../../src/errors.js';

export interface HttpRequest {
  readonly url: URL | string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'HEAD' | 'DELETE';
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array | string;
  readonly signal?: AbortSignal;
  /** Whole-answer timeout; a hung server must not hold a batch forever. */
  readonly timeoutMs?: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const MAX_BODY_READ = 64 * 1024;
const EXCERPT_CHARS = 300;

/** A keep-alive connection pool for one sink (plain and TLS). TLS certificates are always verified. */
export class HttpPool {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;

  constructor(maxConnections: number) {
    const options = { keepAlive: true, maxSockets: maxConnections, maxFreeSockets: maxConnections, scheduling: 'lifo' as const };
    this.http = new HttpAgent(options);
    this.https = new HttpsAgent(options);
  }

  /** Closes the pooled connections (the core calls it once nothing is in flight). */
  close(): Promise<void> {
    this.http.destroy();
    this.https.destroy();
    return Promise.resolve();
  }
}

export function createHttpAgent(maxConnections: number): HttpPool {
  return new HttpPool(maxConnections);
}

export function excerpt(text: string, max = EXCERPT_CHARS): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.max(0, Math.round(Number(v) * 1000));
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export function httpRequest(pool: HttpPool, req: HttpRequest): Promise<HttpAnswer> {
  const timeoutMs = req.timeoutMs ?? 30_000;
  return new Promise<HttpAnswer>((resolve, reject) => {
    let url: URL;
    try {
      url = typeof req.url === 'string' ? new URL(req.url) : req.url;
    } catch (cause) {
      reject(new SinkNetworkError(`${req.method} ${hostOf(req.url)} failed: invalid URL`, { cause }));
      return;
    }
    const tls = url.protocol === 'https:';
    const body = req.body;
    const headers: Record<string, string | number> = { ...req.headers };
    if (body !== undefined) headers['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    let timedOut = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (cause: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const why = timedOut ? `timed out after ${timeoutMs} ms` : cause instanceof Error ? cause.message : String(cause);
      const code = (cause as { code?: string } | undefined)?.code;
      reject(new SinkNetworkError(`${req.method} ${hostOf(url)} failed: ${why}${code && !timedOut ? ` (${code})` : ''}`, { cause }));
    };
    const options: RequestOptions = { method: req.method, headers, agent: tls ? pool.https : pool.http, ...(req.signal ? { signal: req.signal } : {}) };
    const request = (tls ? httpsRequestRaw : httpRequestRaw)(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        // Keep consuming so the connection can be reused, but keep only the start.
        if (size < MAX_BODY_READ) {
          chunks.push(chunk);
          size += chunk.length;
        }
      });
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('connection closed before the answer ended')));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).subarray(0, MAX_BODY_READ).toString('utf8');
        const status = res.statusCode ?? 0;
        const settle =
          status < 200 || status >= 300
            ? () => reject(new SinkResponseError(status, excerpt(text), { retryAfterMs: parseRetryAfter(res.headers['retry-after']), body: text }))
            : () => resolve({ status, headers: res.headers, body: text });
        // A server may answer before it has read the whole body. The caller reuses the body's
        // memory once this settles, so wait until the request is done with it too. ('close'
        // can come before or after the answer's 'end'; ClientRequest has no `closed` to ask.)
        if (requestClosed) settle();
        else afterClose = settle;
      });
    });
    timer = setTimeout(() => {
      timedOut = true;
      request.destroy(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    let requestClosed = false;
    let afterClose: (() => void) | undefined;
    request.once('close', () => {
      requestClosed = true;
      afterClose?.();
    });
    request.on('error', fail);
    request.end(body);
  });
}

/** Host and port only: URLs may carry credentials or tokens in the query. */
export function hostOf(url: URL | string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}
