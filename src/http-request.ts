// One HTTP attempt with undici, shared by every HTTP-based sink: non-2xx answers become
// SinkResponseError (with Retry-After and a short body excerpt), transport failures become
// SinkNetworkError. No retries here: the core retries.
import { Agent, request, type Dispatcher } from 'undici';
import { SinkNetworkError, SinkResponseError } from './errors.js';

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
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

const MAX_BODY_READ = 64 * 1024;
const EXCERPT_CHARS = 300;

/** A connection pool for one sink. TLS certificates are always verified. */
export function createHttpAgent(maxConnections: number): Agent {
  return new Agent({ connections: maxConnections, keepAliveTimeout: 30_000, pipelining: 1 });
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

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < MAX_BODY_READ) {
      chunks.push(chunk);
      size += chunk.length;
    }
    // Keep consuming so the connection can be reused, but keep only the start.
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_READ).toString('utf8');
}

export async function httpRequest(dispatcher: Dispatcher, req: HttpRequest): Promise<HttpAnswer> {
  const timeoutMs = req.timeoutMs ?? 30_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  let res: Dispatcher.ResponseData;
  let text: string;
  try {
    res = await request(req.url, {
      dispatcher,
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    text = await readLimited(res.body);
  } catch (cause) {
    const why = timeout.aborted ? `timed out after ${timeoutMs} ms` : cause instanceof Error ? cause.message : String(cause);
    const code = (cause as { code?: string } | undefined)?.code;
    throw new SinkNetworkError(`${req.method} ${hostOf(req.url)} failed: ${why}${code ? ` (${code})` : ''}`, { cause });
  }
  if (res.statusCode < 200 || res.statusCode >= 300) {
    throw new SinkResponseError(res.statusCode, excerpt(text), { retryAfterMs: parseRetryAfter(res.headers['retry-after']), body: text });
  }
  return { status: res.statusCode, headers: res.headers, body: text };
}

/** Host and port only: URLs may carry credentials or tokens in the query. */
export function hostOf(url: URL | string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}
