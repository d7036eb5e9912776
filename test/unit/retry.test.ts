import { describe, expect, it } from 'vitest';
import { SinkIoError, SinkNetworkError, SinkResponseError, classifyFailure } from '../../src/errors.js';
import { parseRetryAfter } from '../../sinks/shared/http-request.js';
import { retryUntilDone } from '../../src/pipeline/retry.js';

describe('classifyFailure', () => {
  it('retries 408, 429, 5xx and network errors', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) expect(classifyFailure(new SinkResponseError(s, ''))).toBe('retry');
    expect(classifyFailure(new SinkNetworkError('reset'))).toBe('retry');
    expect(classifyFailure(new SinkIoError('disk full', true))).toBe('retry');
  });
  it('gives up on other 4xx and splits on 413', () => {
    for (const s of [400, 401, 403, 404, 422]) expect(classifyFailure(new SinkResponseError(s, ''))).toBe('permanent');
    expect(classifyFailure(new SinkResponseError(413, ''))).toBe('split');
    expect(classifyFailure(new SinkIoError('read-only', false))).toBe('permanent');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0')).toBe(0);
    const now = Date.parse('2026-11-26T12:00:00Z');
    expect(parseRetryAfter('Thu, 26 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('retryUntilDone', () => {
  const policy = { initialBackoffMs: 1, maxBackoffMs: 5 };

  it('retries transient failures with growing delays, then returns the result', async () => {
    const delays: number[] = [];
    let n = 0;
    const result = await retryUntilDone(
      async () => {
        if (++n < 4) throw new SinkNetworkError('refused');
        return 'ok';
      },
      { policy, classify: classifyFailure, signal: new AbortController().signal, onRetry: (_e, _a, d) => delays.push(d) },
    );
    expect(result).toBe('ok');
    expect(delays).toHaveLength(3);
  });

  it('stops at once on a permanent failure', async () => {
    let n = 0;
    await expect(
      retryUntilDone(
        async () => {
          n++;
          throw new SinkResponseError(400, 'bad');
        },
        { policy, classify: classifyFailure, signal: new AbortController().signal },
      ),
    ).rejects.toMatchObject({ status: 400 });
    expect(n).toBe(1);
  });

  it('waits at least Retry-After before the next attempt', async () => {
    const times: number[] = [];
    await retryUntilDone(
      async () => {
        times.push(performance.now());
        if (times.length === 1) throw new SinkResponseError(429, 'slow down', { retryAfterMs: 300 });
      },
      { policy, classify: classifyFailure, signal: new AbortController().signal },
    );
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(295);
  });

  it('stops retrying when its signal aborts', async () => {
    const controller = new AbortController();
    let n = 0;
    const done = retryUntilDone(
      async () => {
        if (++n === 3) controller.abort(new Error('dropped'));
        throw new SinkNetworkError('refused');
      },
      { policy, classify: classifyFailure, signal: controller.signal },
    );
    await expect(done).rejects.toThrow('dropped');
  });
});
