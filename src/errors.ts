// Every error logferry raises carries a stable `code` (for logs, metrics and tests)
// and, where it wraps another failure, a `cause`.

export class LogferryError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A missing or invalid environment variable. The message names the variable, never its value when it is a secret. */
export class ConfigError extends LogferryError {
  readonly variable: string;
  constructor(variable: string, expected: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', `${variable}: ${expected}`, options);
    this.variable = variable;
  }
}

/** Every problem one start found (at least one), so the user fixes them in one go; names the first. */
export class ConfigErrors extends ConfigError {
  readonly problems: readonly ConfigError[];
  constructor(problems: readonly ConfigError[]) {
    const first = problems[0]!;
    super(first.variable, first.message.slice(first.variable.length + 2));
    this.problems = problems;
    this.message = problems.map((p) => p.message).join('\n');
  }
}

/** A sink answered with a non-success status. */
export class SinkResponseError extends LogferryError {
  readonly status: number;
  /** Milliseconds the server asked us to wait (Retry-After), when it said so. */
  readonly retryAfterMs: number | undefined;
  /** The start of the response body, for logs; never the request. */
  readonly bodyExcerpt: string;
  /** For partial rejections (Loki 400): how many entries of the batch were refused. */
  readonly rejectedEntries: number | undefined;
  /** The answer's body (its first 64 KiB), for sinks that read details out of it. */
  readonly body: string;
  constructor(
    status: number,
    bodyExcerpt: string,
    options?: { retryAfterMs?: number | undefined; rejectedEntries?: number | undefined; cause?: unknown; message?: string; body?: string },
  ) {
    super('SINK_HTTP_STATUS', options?.message ?? `sink answered HTTP ${status}${bodyExcerpt ? `: ${bodyExcerpt}` : ''}`, options);
    this.status = status;
    this.retryAfterMs = options?.retryAfterMs;
    this.bodyExcerpt = bodyExcerpt;
    this.rejectedEntries = options?.rejectedEntries;
    this.body = options?.body ?? bodyExcerpt;
  }
}

/** The request never got an answer: refused, reset, DNS, TLS, timeout. Always worth retrying. */
export class SinkNetworkError extends LogferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SINK_NETWORK', message, options);
  }
}

/** A sink-side failure that is not HTTP (file system, encoding). `retryable` says what the core should do. */
export class SinkIoError extends LogferryError {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super('SINK_IO', message, options);
    this.retryable = retryable;
  }
}

/** What the core does with a failed attempt. `split` halves the batch and sends both halves (HTTP 413). */
export type FailureAction = 'retry' | 'permanent' | 'split';

/** The classification every HTTP-based sink starts from. */
export function classifyFailure(error: unknown): FailureAction {
  if (error instanceof SinkResponseError) {
    const s = error.status;
    if (s === 408 || s === 429 || s >= 500) return 'retry';
    if (s === 413) return 'split';
    return 'permanent';
  }
  if (error instanceof SinkNetworkError) return 'retry';
  if (error instanceof SinkIoError) return error.retryable ? 'retry' : 'permanent';
  // Unknown failures are assumed transient: retrying costs time, giving up loses data.
  return 'retry';
}

/** True for failures that mean the credentials are wrong, so /health can say so. */
export function isAuthFailure(error: unknown): boolean {
  return error instanceof SinkResponseError && (error.status === 401 || error.status === 403);
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
