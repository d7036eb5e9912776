// S3 answers errors as XML (`<Error><Code>NoSuchBucket</Code><Message>…</Message>…`). The
// code decides retry or not beyond the HTTP status, and names the problem in logs.
import { LogferryError, SinkResponseError, classifyFailure, type FailureAction } from '../../src/errors.js';

/** A non-2xx S3 answer with S3's error code. Still a SinkResponseError, so the core counts it as `http_<status>`. */
export class S3ResponseError extends SinkResponseError {
  /** S3's `<Code>`, or empty when the answer had no XML body (HEAD, proxies). */
  readonly s3Code: string;
  constructor(status: number, s3Code: string, bodyExcerpt: string, message: string, options?: { retryAfterMs?: number | undefined; cause?: unknown }) {
    super(status, bodyExcerpt, { ...options, message });
    this.s3Code = s3Code;
  }
}

/**
 * The store refused a body whose checksum (Content-MD5, x-amz-content-sha256) did not match
 * it: the bytes changed between hashing and arriving. Over TLS the wire cannot do that
 * unnoticed, so the body in our memory changed (a bug or failing RAM); over plain HTTP a
 * link can. So the first refusal of a body is retried (a second send of the same bytes gets
 * through a flaky link; a batch from memory goes to the spool and is encoded afresh from
 * there), a second one is permanent: resending bytes the store twice found corrupt cannot
 * help, and the batch is counted rejected as `s3_bad_digest` rather than stored corrupt.
 */
export class S3DigestError extends LogferryError {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super('S3_BAD_DIGEST', message, options);
    this.retryable = retryable;
  }
}

/** S3 codes for a body that does not match its checksum. */
export const DIGEST_MISMATCH_CODES: ReadonlySet<string> = new Set(['BadDigest', 'XAmzContentSHA256Mismatch']);

// Codes S3 sends with a 4xx that still mean "try again": a slow or cut upload, a clock
// that was briefly off, a conflicting operation in progress. A digest mismatch is handled
// apart (S3DigestError).
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
  if (error instanceof S3DigestError) return error.retryable ? 'retry' : 'permanent';
  if (error instanceof S3ResponseError && RETRYABLE_CODES.has(error.s3Code)) return 'retry';
  return classifyFailure(error);
}
