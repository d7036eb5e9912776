// One HTTP attempt, shared by every HTTP-based sink, through undici: non-2xx answers become
// SinkResponseError (with Retry-After and a short body excerpt), transport failures and
// timeouts become SinkNetworkError. No retries here: the core retries. Each sink owns one
// HttpPool (an undici Agent: a keep-alive connection pool per origin it talks to).
//
// TLS: undici connects through node:tls with Node's default trust store, so certificates are
// always verified and NODE_EXTRA_CA_CERTS is honoured (test/integration/http-request.test.ts).
import type { IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import type { Dispatcher, Agent as UndiciAgent, errors as UndiciErrors } from 'undici';
import { SinkNetworkError, SinkResponseError } from '../../src/errors.js';

// undici's index also loads fetch, WebSocket, EventSource, its cache and mocks: ~3 MiB more
// heap and ~10 MiB more resident memory than the three modules used here (docs/ARCHITECTURE.md,
// "Where the resident memory is"). undici has no exports map, so these paths are public;
// the lockfile pins the version and the integration tests load them. The request API is
// the same function the index attaches to every dispatcher.
const requireCjs = createRequire(import.meta.url);
const Agent = requireCjs('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
const undiciErrors = requireCjs('undici/lib/core/errors.js') as typeof UndiciErrors;
const undiciRequest = requireCjs('undici/lib/api/api-request.js') as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
type Agent = UndiciAgent;

export interface HttpRequest {
  readonly url: URL | string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'HEAD' | 'DELETE';
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array | string;
  readonly signal?: AbortSignal;
  /** Whole-attempt timeout (connect, send, answer); a hung server must not hold a batch forever. */
  readonly timeoutMs?: number;
}

export interface HttpAnswer {
  readonly status: number;
  /** Lower-case names; a repeated header is an array (node's IncomingHttpHeaders shape). */
  readonly headers: IncomingHttpHeaders;
  /** The start of the answer's body (at most 64 KiB), as UTF-8. */
  readonly body: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_BODY_READ = 64 * 1024;
const EXCERPT_CHARS = 300;
// Idle connections are kept this long unless the server's Keep-Alive header says less.
const KEEP_ALIVE_MS = 30_000;

/** A keep-alive connection pool for one sink (plain and TLS, any origin). TLS certificates are always verified. */
export class HttpPool {
  readonly agent: Agent;

  constructor(maxConnections: number) {
    this.agent = new Agent({
      // Per origin: a sink talks to one or two hosts.
      connections: maxConnections,
      pipelining: 1,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      connect: { rejectUnauthorized: true },
    });
  }

  /** Closes the pooled connections (the core calls it once nothing is in flight). */
  close(): Promise<void> {
    return this.agent.close();
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

/** Why undici gave up, in words that name neither the URL nor its query. */
function transportReason(cause: unknown, timeoutMs: number, timedOut: boolean): string {
  if (timedOut || cause instanceof undiciErrors.HeadersTimeoutError || cause instanceof undiciErrors.BodyTimeoutError) return `timed out after ${timeoutMs} ms`;
  if (cause instanceof undiciErrors.ConnectTimeoutError) return `connect timed out (${cause.code})`;
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

export async function httpRequest(pool: HttpPool, req: HttpRequest): Promise<HttpAnswer> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let url: URL;
  try {
    url = typeof req.url === 'string' ? new URL(req.url) : req.url;
  } catch (cause) {
    throw new SinkNetworkError(`${req.method} ${hostOf(req.url)} failed: invalid URL`, { cause });
  }
  // One signal for the caller's abort and the whole-attempt timeout (an unref'd timer, cleared at the end).
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  timer.unref();
  const onAbort = (): void => controller.abort(req.signal?.reason);
  if (req.signal?.aborted) onAbort();
  else req.signal?.addEventListener('abort', onAbort, { once: true });

  let status: number;
  let headers: IncomingHttpHeaders;
  let text: string;
  try {
    const answer = await undiciRequest.call(pool.agent, {
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers: req.headers ?? {},
      body: req.body ?? null,
      signal: controller.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = answer.statusCode;
    headers = answer.headers as IncomingHttpHeaders;
    // Keep reading past the excerpt so the connection can be reused, but keep only the start.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer.body as AsyncIterable<Buffer>) {
      if (size < MAX_BODY_READ) {
        chunks.push(chunk);
        size += chunk.length;
      }
    }
    text = Buffer.concat(chunks).subarray(0, MAX_BODY_READ).toString('utf8');
  } catch (cause) {
    throw new SinkNetworkError(`${req.method} ${hostOf(url)} failed: ${transportReason(cause, timeoutMs, timedOut)}`, { cause });
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', onAbort);
  }
  if (status < 200 || status >= 300) {
    throw new SinkResponseError(status, excerpt(text), { retryAfterMs: parseRetryAfter(headers['retry-after']), body: text });
  }
  return { status, headers, body: text };
}

/** Host and port only: URLs may carry credentials or tokens in the query. */
export function hostOf(url: URL | string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}
