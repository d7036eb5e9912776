// The Loki sink: encodes a batch into one push (protobuf + snappy, Loki's native format, or
// JSON + gzip) and POSTs it, once. Status handling
// follows Loki's semantics: a 400 means Loki refused some entries and may have stored the
// rest, so it is never retried whole; the count of refused entries, worked out from Loki's
// answer (and follow-up pushes where the answer is silent), rides on the error.
import { gzipSync } from 'node:zlib';
import { classifyFailure, SinkNetworkError, SinkResponseError, errorMessage } from '../../src/errors.js';
import { createHttpAgent, excerpt, httpRequest, type HttpPool } from '../shared/http-request.js';
import type { Batch, EncodedBatch, SendResult, Sink, SinkContext } from '../../src/pipeline/sink.js';
import type { FailureAction } from '../../src/errors.js';
import type { LokiConfig } from './config.js';
import { encodePush } from './encode.js';
import { SecondsCache, nanosOf } from './labels.js';
import { readEntry } from '../../src/pipeline/batch.js';
import { releaseBody } from '../../src/pipeline/body-pool.js';
import { EntryView } from '../../src/intake/entry.js';
import type { LokiEncodeOptions } from './labels.js';
import type { PushFormat } from './config.js';

const USER_AGENT = 'logferry';
// An empty push: it passes Loki's authentication and tenant checks like any push, and stores nothing.
const EMPTY_PUSH = gzipSync('{"streams":[]}');
// Connections open on demand; the cap only has to stay above any sensible max-in-flight
// (create() does not see the pipeline settings).
const MAX_CONNECTIONS = 32;
const PROTOBUF_HEADERS = { 'content-type': 'application/x-protobuf' } as const;
const JSON_HEADERS = { 'content-type': 'application/json', 'content-encoding': 'gzip' } as const;

/** Sum of Loki's "total ignored: N out of M" (one per failing stream); undefined when absent. */
export function parseIgnoredCount(body: string): number | undefined {
  let total: number | undefined;
  for (const m of body.matchAll(/total ignored: (\d+) out of \d+/g)) total = (total ?? 0) + Number(m[1]);
  return total;
}

/**
 * The threshold of Loki's distributor age check, from `… has timestamp too old: …, oldest
 * acceptable timestamp is: <RFC3339>` (validation.GreaterThanMaxSampleAgeErrorMsg), in
 * nanoseconds; undefined when the answer has none. Go prints it to the whole second, cut
 * down: the real threshold is within the second after it.
 */
export function parseTooOldThreshold(body: string): bigint | undefined {
  let threshold: bigint | undefined;
  for (const m of body.matchAll(/has timestamp too old: [^,]*, oldest acceptable timestamp is: (\S+)/g)) {
    const ms = Date.parse(m[1]!);
    if (Number.isNaN(ms)) continue;
    const ns = BigInt(ms) * 1_000_000n;
    if (threshold === undefined || ns > threshold) threshold = ns;
  }
  return threshold;
}

/** Each line's timestamp in nanoseconds, as the encoder sends it (the batch's receive time when it is no timestamp). */
function lineTimes(batch: Batch): Array<{ start: number; end: number; ns: bigint }> {
  const view = new EntryView();
  const seconds = new SecondsCache();
  const lines: Array<{ start: number; end: number; ns: bigint }> = [];
  const ndjson = batch.ndjson;
  let start = 0;
  while (start < ndjson.length) {
    let end = ndjson.indexOf(10, start);
    if (end < 0) end = ndjson.length;
    const entry = end > start ? readEntry(batch, start, end, view) : undefined;
    if (entry !== undefined) {
      const ns = nanosOf(entry.timestamp, seconds);
      lines.push({ start, end, ns: ns === undefined ? BigInt(Math.max(0, Math.trunc(batch.receivedAtMs))) * 1_000_000n : BigInt(ns) });
    }
    start = end + 1;
  }
  return lines;
}

/** A batch of some of `batch`'s lines. */
function subBatch(batch: Batch, lines: ReadonlyArray<{ start: number; end: number }>): Batch {
  const parts: Buffer[] = [];
  let bytes = 0;
  for (const l of lines) {
    parts.push(batch.ndjson.subarray(l.start, l.end + 1 > batch.ndjson.length ? l.end : l.end + 1));
    if (l.end + 1 > batch.ndjson.length) parts.push(Buffer.from('\n'));
    bytes += l.end - l.start;
  }
  return { id: batch.id, key: `${batch.key}-resend`, partition: batch.partition, ndjson: Buffer.concat(parts), count: lines.length, bytes, receivedAtMs: batch.receivedAtMs };
}

export class LokiSink implements Sink {
  readonly name: string;
  readonly kind = 'loki' as const;
  /**
   * A first guess of push size over line bytes (Fly logs compress well: ~0.2-0.3 with gzip JSON,
   * ~0.5 with snappy protobuf, measured on the benchmark's mix); the core learns the real ratio.
   */
  readonly initialEncodedRatio: number;
  readonly readsFlyFields: boolean;
  readonly #config: LokiConfig;
  readonly #agent: HttpPool;
  readonly #headers: Record<string, string>;
  readonly #encodeOptions: LokiEncodeOptions;
  readonly #where: string;
  readonly #pushFormat: PushFormat;
  #closing: Promise<void> | undefined;

  constructor(config: LokiConfig, context: SinkContext, options: { name?: string; maxConnections?: number } = {}) {
    this.name = options.name ?? 'loki';
    this.#config = config;
    this.#agent = createHttpAgent(options.maxConnections ?? context.settings?.maxInFlight ?? MAX_CONNECTIONS);
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (config.auth?.kind === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${config.auth.username}:${config.auth.password}`).toString('base64')}`;
    } else if (config.auth?.kind === 'bearer') {
      headers.authorization = `Bearer ${config.auth.token}`;
    }
    if (config.tenant !== undefined) headers['x-scope-orgid'] = config.tenant;
    this.#headers = headers;
    this.#encodeOptions = {
      labels: config.labels,
      staticLabels: config.staticLabels,
      structuredMetadata: config.structuredMetadata,
      lineFormat: config.lineFormat,
      maxLineBytes: config.maxLineBytes,
    };
    this.#where = `${config.pushUrl.host}${config.pushUrl.pathname}`;
    this.#pushFormat = config.pushFormat;
    this.initialEncodedRatio = config.pushFormat === 'json' ? 0.2 : 0.5;
    // logfmt lines are rebuilt from each parsed entry: no spans to reuse.
    this.readsFlyFields = config.lineFormat !== 'logfmt';
  }

  get pushFormat(): PushFormat {
    return this.#pushFormat;
  }

  encode(batch: Batch): Promise<EncodedBatch> {
    // Loki labels each entry by its fields: read from the intake's spans, or scanned here for
    // batches without them (read back from the spool, split).
    return encodePush(batch, this.#encodeOptions, this.#pushFormat);
  }

  async send(encoded: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<SendResult | void> {
    try {
      await this.#push(encoded.body, this.#formatHeaders, encoded.entryCount, signal);
    } catch (error) {
      if (!(error instanceof SinkResponseError && error.status === 400 && error.rejectedEntries !== undefined)) throw error;
      // Loki stored part of the batch: count exactly what it refused (all of it when the answer says nothing usable).
      const refused = await this.#refusedIn(error, batch, signal, false);
      throw this.#partial(error, refused, encoded.entryCount);
    }
  }

  get #formatHeaders(): Readonly<Record<string, string>> {
    return this.#pushFormat === 'protobuf' ? PROTOBUF_HEADERS : JSON_HEADERS;
  }

  #partial(error: SinkResponseError, refused: number, entryCount: number): SinkResponseError {
    return new SinkResponseError(400, error.bodyExcerpt, {
      rejectedEntries: refused,
      message: `Loki rejected ${refused} of ${entryCount} entries (HTTP 400): ${error.bodyExcerpt}`,
      body: error.body,
    });
  }

  /**
   * How many entries of `batch` Loki refused, given its 400. The ingesters' `total ignored: N
   * out of M` counts are exact. The distributor's age check names a threshold (to the second):
   * entries older than it were refused; the others passed that check, but the answer says
   * nothing more (it quotes only the last refusal), so they are pushed once more to find out:
   * Loki drops an exact duplicate of an entry it holds, stores one it does not, and refuses
   * again what it refuses. A 2xx settles it exactly. Any other 400 counts the whole batch.
   * Transient failures of the follow-up push are thrown: the core retries the whole batch,
   * which is safe for the same reason.
   */
  async #refusedIn(error: SinkResponseError, batch: Batch, signal: AbortSignal, followUp: boolean): Promise<number> {
    const ignored = parseIgnoredCount(error.body);
    if (ignored !== undefined) return Math.min(ignored, batch.count);
    const threshold = parseTooOldThreshold(error.body);
    if (threshold === undefined) return batch.count;
    const lines = lineTimes(batch);
    const rest = lines.filter((l) => l.ns >= threshold);
    const old = lines.length - rest.length;
    // A follow-up refused for age again: what passed its (later) threshold is stored; within the
    // second the threshold is printed to, Loki's answer cannot tell, and those count as stored.
    if (rest.length === 0 || followUp) return old;
    const again = subBatch(batch, rest);
    const encoded = await this.encode(again);
    try {
      await this.#push(encoded.body, this.#formatHeaders, encoded.entryCount, signal);
      releaseBody(encoded.body);
      return old;
    } catch (answer) {
      if (!(answer instanceof SinkResponseError && answer.status === 400 && answer.rejectedEntries !== undefined)) throw answer;
      return old + (await this.#refusedIn(answer, again, signal, true));
    }
  }

  classify(error: unknown): FailureAction {
    // 400 → permanent (partial rejection, counted), 413 → split, 429/5xx → retry with
    // Retry-After, 401/403 → permanent (the core reports auth failures loudly).
    return classifyFailure(error);
  }

  /** `/ready` (the root when a gateway such as Grafana Cloud hides it), then an empty push to check credentials and path. */
  async healthcheck(signal: AbortSignal): Promise<void> {
    const base = this.#config.baseUrl;
    try {
      await this.#get(new URL('ready', base), signal);
    } catch (error) {
      if (!(error instanceof SinkResponseError && error.status === 404)) throw this.#healthError(error, 'readiness check (/ready)');
      try {
        await this.#get(base, signal);
      } catch (rootError) {
        throw this.#healthError(rootError, 'readiness check (/ready and /)');
      }
    }
    try {
      await this.#push(EMPTY_PUSH, JSON_HEADERS, 0, signal);
    } catch (error) {
      // Loki 3.2+ answers an empty push 422 (older ones 204): either way the request got past
      // authentication to the push handler, which is what this checks.
      if (error instanceof SinkResponseError && (error.status === 422 || error.status === 400)) return;
      throw this.#healthError(error, 'test push');
    }
  }

  /** Idempotent: the core closes on shutdown and owners may close again. */
  close(): Promise<void> {
    this.#closing ??= this.#agent.close();
    return this.#closing;
  }

  #get(url: URL, signal: AbortSignal): Promise<unknown> {
    return httpRequest(this.#agent, { url, method: 'GET', headers: this.#headers, signal, timeoutMs: this.#config.timeoutMs });
  }

  #healthError(error: unknown, what: string): Error {
    const host = this.#config.baseUrl.host;
    if (error instanceof SinkResponseError) {
      const detail = error.bodyExcerpt ? `: ${excerpt(error.bodyExcerpt, 160)}` : '';
      let message: string;
      if (error.status === 401 || error.status === 403) {
        message = `Loki at ${host} refused the credentials (HTTP ${error.status}${detail}); check LOKI_USERNAME/LOKI_PASSWORD, LOKI_TOKEN or LOKI_TENANT`;
      } else if (error.status === 404) {
        message = `Loki ${what} at ${host} found nothing (HTTP 404${detail}); check that LOKI_URL points at Loki`;
      } else if (error.status === 503) {
        message = `Loki at ${host} is not ready yet (HTTP 503${detail})`;
      } else {
        message = `Loki ${what} at ${host} failed (HTTP ${error.status}${detail})`;
      }
      return new SinkResponseError(error.status, error.bodyExcerpt, { message, retryAfterMs: error.retryAfterMs, cause: error });
    }
    if (error instanceof SinkNetworkError) return new SinkNetworkError(`Loki at ${host} is unreachable: ${error.message}`, { cause: error });
    return error instanceof Error ? error : new Error(errorMessage(error));
  }

  /** One POST of a push body with its format's headers. Throws SinkResponseError (with rejectedEntries on 400) or SinkNetworkError. */
  async #push(body: Uint8Array, format: Readonly<Record<string, string>>, entryCount: number, signal: AbortSignal): Promise<void> {
    try {
      await httpRequest(this.#agent, {
        url: this.#config.pushUrl,
        method: 'POST',
        headers: { ...this.#headers, ...format },
        body,
        signal,
        timeoutMs: this.#config.timeoutMs,
      });
    } catch (error) {
      throw this.#explain(error, entryCount);
    }
  }

  /** Loki's answers in its own terms: a 400 carries how many entries it refused; auth and path errors say what to check. */
  #explain(error: unknown, entryCount: number): unknown {
    if (!(error instanceof SinkResponseError)) return error;
    const { status, bodyExcerpt: shown } = error;
    if (status === 400) {
      // Loki stored what it could; send() works out how many it refused (the whole batch until then).
      return new SinkResponseError(status, shown, { rejectedEntries: entryCount, message: `Loki rejected entries of a push of ${entryCount} (HTTP 400): ${shown}`, body: error.body });
    }
    if (status === 401 || status === 403) {
      return new SinkResponseError(status, shown, {
        message: `Loki at ${this.#where} refused the credentials (HTTP ${status}${shown ? `: ${shown}` : ''}); check LOKI_USERNAME/LOKI_PASSWORD, LOKI_TOKEN or LOKI_TENANT`,
        body: error.body,
      });
    }
    if (status === 404) {
      return new SinkResponseError(status, shown, { message: `Loki push endpoint ${this.#where} not found (HTTP 404${shown ? `: ${shown}` : ''}); check LOKI_URL`, body: error.body });
    }
    return error;
  }
}
