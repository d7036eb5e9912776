// Posts alerts to a Slack incoming webhook: one message per batch, and never two within a
// second (the wait happens here, in Slack's own pipeline, so no other destination waits).
import { classifyFailure, type FailureAction } from '../../src/errors.js';
import type { Batch, EncodedBatch, Sink, SinkKind } from '../../src/pipeline/sink.js';
import { probeConnection } from '../http/probe.js';
import { createHttpAgent, httpRequest, type HttpPool } from '../shared/http-request.js';
import type { SlackConfig } from './config.js';
import { encodeSlackBatch } from './encode.js';

export const SLACK_MIN_INTERVAL_MS = 1000;
const HEADERS = { 'content-type': 'application/json', 'user-agent': 'logferry' };

export class SlackSink implements Sink {
  readonly name = 'slack';
  readonly kind: SinkKind = 'slack';
  // Most entries match no keyword: the body is tiny next to the batch.
  readonly initialEncodedRatio = 0.01;
  readonly #config: SlackConfig;
  readonly #pool: HttpPool;
  readonly #minIntervalMs: number;
  /** When the next post may start (ms since epoch); reserved before waiting, so concurrent sends queue up. */
  #nextAt = 0;
  #closing: Promise<void> | undefined;

  constructor(config: SlackConfig, options: { readonly minIntervalMs?: number } = {}) {
    this.#config = config;
    this.#pool = createHttpAgent(1);
    this.#minIntervalMs = options.minIntervalMs ?? SLACK_MIN_INTERVAL_MS;
  }

  encode(batch: Batch): EncodedBatch {
    return encodeSlackBatch(batch, this.#config.keywords);
  }

  async send(encoded: EncodedBatch, _batch: Batch, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (encoded.entryCount === 0) return;
    const now = Date.now();
    const at = Math.max(now, this.#nextAt);
    this.#nextAt = at + this.#minIntervalMs;
    if (at > now) await waitUntil(at - now, signal);
    try {
      await httpRequest(this.#pool, { url: this.#config.webhookUrl, method: 'POST', headers: HEADERS, body: encoded.body, signal, timeoutMs: 30_000 });
    } finally {
      // Also half the interval after the answer: a post slow on the way must not reach Slack right behind the next one.
      this.#nextAt = Math.max(this.#nextAt, Date.now() + this.#minIntervalMs / 2);
    }
  }

  classify(error: unknown): FailureAction {
    return classifyFailure(error);
  }

  /** Connects (and verifies TLS) without posting anything: a test message would reach the channel. */
  healthcheck(signal: AbortSignal): Promise<void> {
    return probeConnection(this.#config.webhookUrl, 10_000, signal);
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }
}

function waitUntil(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
