// What every vendor receiver shares: a real node:http server on port 0 that reads (and
// gunzips) each request, lets the vendor's handler check and answer it, records what it
// saw, and answers scripted failures (failNext) in the vendor's own wording. Handlers
// report protocol breaches in `violations` (a test asserts it stays empty) and answer them
// the way the vendor would.
import { gunzipSync } from 'node:zlib';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { listenTestServer, type TestServer } from '../test-server.js';

export interface ReceivedRequest {
  readonly index: number;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The body as sent (compressed when it was). */
  readonly raw: Buffer;
  /** The body after Content-Encoding was undone (undefined when it could not be). */
  readonly body: Buffer | undefined;
  status?: number;
}

export interface Answer {
  readonly status: number;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A scripted failure: the vendor's answer for a status (body, headers). */
export type FailureAnswer = (status: number, retryAfterSeconds: number | undefined) => Answer;

export interface ReceiverCore {
  readonly url: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  readonly violations: string[];
  /** Answer the next matching request with `status` (429 with Retry-After: 1 unless told otherwise). */
  failNext(status: number, options?: { retryAfter?: number; times?: number }): void;
  close(): Promise<void>;
}

export async function startReceiverCore(
  handle: (req: ReceivedRequest, violation: (what: string) => void) => Answer | Promise<Answer>,
  failure: FailureAnswer,
  options: { readonly failOnly?: (req: ReceivedRequest) => boolean } = {},
): Promise<ReceiverCore> {
  const requests: ReceivedRequest[] = [];
  const violations: string[] = [];
  const scripted: Array<{ status: number; retryAfter: number | undefined }> = [];

  const server: TestServer = await listenTestServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    let body: Buffer | undefined = raw;
    if (req.headers['content-encoding'] === 'gzip') {
      try {
        body = gunzipSync(raw);
      } catch {
        body = undefined;
      }
    }
    const url = new URL(req.url ?? '/', 'http://receiver');
    const r: ReceivedRequest = { index: requests.length, method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, raw, body };
    requests.push(r);
    let answer: Answer;
    if (scripted.length > 0 && (options.failOnly?.(r) ?? true)) {
      const s = scripted.shift()!;
      answer = failure(s.status, s.retryAfter);
    } else {
      answer = await handle(r, (what) => violations.push(`request ${r.index} ${r.method} ${r.path}: ${what}`));
    }
    r.status = answer.status;
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body ?? '');
  });

  return {
    url: server.url,
    port: server.port,
    requests,
    violations,
    failNext(status, o = {}) {
      for (let i = 0; i < (o.times ?? 1); i++) scripted.push({ status, retryAfter: o.retryAfter ?? (status === 429 ? 1 : undefined) });
    },
    close: () => server.close(),
  };
}

/** Retry-After header for a scripted answer. */
export function retryAfterHeader(seconds: number | undefined): Record<string, string> {
  return seconds === undefined ? {} : { 'retry-after': String(seconds) };
}

/** Parses a JSON body, reporting a violation (and returning undefined) when it is not JSON. */
export function parseJson(req: ReceivedRequest, violation: (what: string) => void): unknown {
  if (req.body === undefined) {
    violation('body is not valid gzip');
    return undefined;
  }
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch {
    violation('body is not valid JSON');
    return undefined;
  }
}

/** Removes `keys` from a copy of `o`. */
export function without(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const copy = { ...o };
  for (const k of keys) delete copy[k];
  return copy;
}
