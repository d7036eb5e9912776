// One HTTP request per batch to a vendor's ingest API: what Datadog, Honeycomb, New Relic,
// Humio and the Elasticsearch `_bulk` destinations share. Each destination supplies the body
// (built from the batch's records), its headers and how to read a 2xx answer (partial
// success); this class compresses, enforces the request's uncompressed size limit, sends
// through the one HTTP transport and classifies. (Branch g-dest-vendors; the lead may merge
// it with sinks/shared/vendor-http.ts.)
import { classifyFailure, type FailureAction } from '../../src/errors.js';
import { gzip } from '../../src/codec/compress.js';
import type { Batch, EncodedBatch, SendResult, Sink, SinkKind } from '../../src/pipeline/sink.js';
import { createHttpAgent, httpRequest, type HttpAnswer, type HttpPool } from './http-request.js';
import { RequestLimitError } from './fly-fields.js';

export interface BuiltBody {
  readonly plain: Buffer;
  readonly entryCount: number;
  readonly dropped?: Readonly<Record<string, number>>;
  readonly adjusted?: Readonly<Record<string, number>>;
  /** Anything the answer reader needs (e.g. which entries the body carries). */
  readonly meta?: Readonly<Record<string, string>>;
}

export interface VendorSinkOptions {
  readonly name: string;
  readonly kind: SinkKind;
  readonly url: URL;
  /** Sent with every request (auth, content type); never logged. */
  readonly headers: Readonly<Record<string, string>>;
  /** gzip level, or undefined to send uncompressed. */
  readonly gzipLevel: number | undefined;
  readonly timeoutMs: number;
  readonly maxConnections: number;
  /** The vendor's limit on the uncompressed request body; a larger one is split before sending. */
  readonly maxRequestBytes?: number;
  /** The vendor's limit on the request body as sent (compressed). */
  readonly maxEncodedBytes?: number;
  /** The vendor's limit on entries per request (the batch setting can be raised past it). */
  readonly maxRequestEntries?: number;
  /** Pure: the uncompressed body of one request. */
  build(batch: Batch): BuiltBody;
  /** Reads a 2xx answer: entries the vendor refused inside it. May throw to make the core retry. */
  readAnswer?(answer: HttpAnswer, encoded: EncodedBatch): SendResult | void;
  /** Reads a failed attempt's answer (e.g. how many entries a 400 refused); returns the error to throw. */
  mapError?(error: unknown, encoded: EncodedBatch): unknown;
  /** The vendor's start-up check (validate the key, etc.). */
  healthcheck?(pool: HttpPool, signal: AbortSignal): Promise<void>;
  /** Destination-specific classification before the shared one (undefined: use the shared one). */
  classify?(error: unknown): FailureAction | undefined;
}

export class VendorHttpSink implements Sink {
  readonly name: string;
  readonly kind: SinkKind;
  readonly initialEncodedRatio: number;
  readonly #o: VendorSinkOptions;
  readonly #pool: HttpPool;
  readonly #headers: Record<string, string>;
  #closing: Promise<void> | undefined;

  constructor(options: VendorSinkOptions) {
    this.#o = options;
    this.name = options.name;
    this.kind = options.kind;
    this.#pool = createHttpAgent(options.maxConnections);
    this.#headers = { 'user-agent': 'logferry', ...options.headers };
    if (options.gzipLevel !== undefined) this.#headers['content-encoding'] = 'gzip';
    // Records repeat their field names; gzip'd they shrink to roughly a seventh.
    this.initialEncodedRatio = options.gzipLevel !== undefined ? 0.15 : 1;
  }

  get pool(): HttpPool {
    return this.#pool;
  }

  async encode(batch: Batch): Promise<EncodedBatch> {
    const built = this.#o.build(batch);
    const meta: Record<string, string> = { ...built.meta, plainBytes: String(built.plain.length) };
    const body = this.#o.gzipLevel !== undefined ? await gzip(built.plain, this.#o.gzipLevel) : built.plain;
    return {
      body,
      entryCount: built.entryCount,
      ...(built.dropped !== undefined && Object.keys(built.dropped).length > 0 ? { dropped: built.dropped } : {}),
      ...(built.adjusted !== undefined && Object.keys(built.adjusted).length > 0 ? { adjusted: built.adjusted } : {}),
      meta,
    };
  }

  async send(encoded: EncodedBatch, _batch: Batch, signal: AbortSignal): Promise<SendResult | void> {
    signal.throwIfAborted();
    if (encoded.entryCount === 0) return;
    const plainBytes = Number(encoded.meta?.plainBytes ?? encoded.body.length);
    const max = this.#o.maxRequestBytes;
    if (max !== undefined && plainBytes > max) {
      throw new RequestLimitError(`${this.name}: a request of ${plainBytes} bytes (uncompressed) is over the ${max}-byte limit; splitting`);
    }
    const maxEncoded = this.#o.maxEncodedBytes;
    if (maxEncoded !== undefined && encoded.body.length > maxEncoded) {
      throw new RequestLimitError(`${this.name}: a request of ${encoded.body.length} bytes is over the ${maxEncoded}-byte limit; splitting`);
    }
    const maxEntries = this.#o.maxRequestEntries;
    if (maxEntries !== undefined && encoded.entryCount > maxEntries) {
      throw new RequestLimitError(`${this.name}: a request of ${encoded.entryCount} entries is over the limit of ${maxEntries}; splitting`);
    }
    let answer: HttpAnswer;
    try {
      answer = await httpRequest(this.#pool, {
        url: this.#o.url,
        method: 'POST',
        headers: this.#headers,
        body: encoded.body,
        signal,
        timeoutMs: this.#o.timeoutMs,
      });
    } catch (error) {
      throw this.#o.mapError ? this.#o.mapError(error, encoded) : error;
    }
    return this.#o.readAnswer?.(answer, encoded);
  }

  classify(error: unknown): FailureAction {
    if (error instanceof RequestLimitError) return 'split';
    return this.#o.classify?.(error) ?? classifyFailure(error);
  }

  healthcheck(signal: AbortSignal): Promise<void> {
    return this.#o.healthcheck ? this.#o.healthcheck(this.#pool, signal) : Promise.resolve();
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }
}
