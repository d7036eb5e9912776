// S3 answers errors as XML (`<Error><Code>NoSuchBucket</Code><Message>…</Message>…`). The
// code decides retry or not beyond the HTTP status, and names the problem in logs.
import { SinkResponseError, classifyFailure, type FailureAction } from '../../src/errors.js';

/** A non-2xx S3 answer with S3's error code. Still a SinkResponseError, so the core counts it as `http_<status>`. */
export class S3ResponseError extends SinkResponseError {
  /** S3's `<Code>`, or empty when the answer had no XML body (HEAD, proxies). */
  readonly s3Code: string;
  constructor(status: number, s3Code: string, bodyExcerpt: string, message: string, options?: { retryAfterMs?: number | undefined; cause?: unknown }) {
    super(status, bodyExcerpt, { ...options, message });
    this.s3Code = s3Code;
  }
}

// Codes S3 sends with a 4xx that still mean "try again": a slow or cut upload, a clock
// that was briefly off, a conflicting operation in progress. A digest mismatch is not
// among them: under TLS it means our hashing is wrong, and retrying cannot fix that.
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'IncompleteBody',
  'OperationAborted',
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
]);

function tag(xml: string, name: string): string {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m?.[1]?.trim() ?? '';
}

/** S3's error code and message from an answer body (or its excerpt). */
export function parseS3Error(body: string): { code: string; message: string } {
  return { code: tag(body, 'Code'), message: tag(body, 'Message') };
}

/** Rewrites a SinkResponseError from httpRequest into an S3ResponseError naming S3's code; others pass through. */
export function toS3Error(error: unknown, what: string): unknown {
  if (!(error instanceof SinkResponseError) || error instanceof S3ResponseError) return error;
  const { code, message } = parseS3Error(error.bodyExcerpt);
  const detail = code === '' ? (error.bodyExcerpt === '' ? '' : `: ${error.bodyExcerpt}`) : `: ${code}${message === '' ? '' : ` (${message})`}`;
  return new S3ResponseError(error.status, code, code === '' ? error.bodyExcerpt : `${code}: ${message}`, `S3 ${what} answered HTTP ${error.status}${detail}`, {
    retryAfterMs: error.retryAfterMs,
    cause: error,
  });
}

export function classifyS3Failure(error: unknown): FailureAction {
  if (error instanceof S3ResponseError && RETRYABLE_CODES.has(error.s3Code)) return 'retry';
  return classifyFailure(error);
}
