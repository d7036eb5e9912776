// The one place that retries. Exponential backoff with jitter (p-retry), forever while
// the failure is classified 'retry' and the batch is still wanted (its signal not
// aborted); Retry-After from the server is honoured as a floor for the next wait.
import pRetry from 'p-retry';
import type { FailureAction } from '../errors.js';
import { SinkResponseError } from '../errors.js';

export interface RetryPolicy {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface RetryOptions {
  readonly policy: RetryPolicy;
  readonly classify: (error: unknown) => FailureAction;
  readonly signal: AbortSignal;
  /** Called before each wait, with the wait about to happen. */
  readonly onRetry?: (error: unknown, attemptNumber: number, delayMs: number) => void;
}

// A server asking for hours is almost certainly misconfigured; cap what we obey.
const MAX_RETRY_AFTER_MS = 15 * 60_000;

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `attempt` until it succeeds, fails with a non-retry classification, or `signal` aborts. */
export function retryUntilDone<T>(attempt: (attemptNumber: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, classify, signal, onRetry } = options;
  return pRetry(attempt, {
    retries: Number.POSITIVE_INFINITY,
    factor: 2,
    minTimeout: policy.initialBackoffMs,
    maxTimeout: policy.maxBackoffMs,
    randomize: true,
    unref: true,
    signal,
    shouldRetry: ({ error }) => classify(error) === 'retry',
    onFailedAttempt: async ({ error, attemptNumber, retryDelay }) => {
      if (classify(error) !== 'retry') return;
      const retryAfter = error instanceof SinkResponseError ? error.retryAfterMs : undefined;
      const extra = retryAfter === undefined ? 0 : Math.max(0, Math.min(retryAfter, MAX_RETRY_AFTER_MS) - retryDelay);
      onRetry?.(error, attemptNumber, retryDelay + extra);
      // p-retry waits `retryDelay` after this returns; together that is at least Retry-After.
      if (extra > 0) await abortableDelay(extra, signal);
    },
  });
}
