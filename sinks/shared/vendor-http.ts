// The one vendor layer: every HTTP vendor destination sends one request per batch through
// VendorHttpSink (the shared transport sinks/shared/http-request.ts; gzip; splitting a request
// over the vendor's documented limits). A destination is written either as a description
// (VendorHttpSpec + vendorPlugin: URL, headers, body format, how an entry becomes the vendor's
// shape, partial success) or, when its body needs per-entry fields (sinks/shared/fly-fields.ts),
// as VendorSinkOptions with its own build() and readAnswer(). Batching, retries and accounting stay in the core.
import { classifyFailure, SinkResponseError, type FailureAction } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { gzip } from '../../src/codec/compress.js';
import { forEachLine } from '../../src/pipeline/batch.js';
import type { ScanResult } from '../../src/codec/json-scan.js';
import { FIELD_TIMESTAMP, scanFlyJson } from '../../src/intake/entry.js';
import type { Batch, BatchSettings, EncodedBatch, PipelineSettings, SendResult, Sink, SinkContext, SinkKind, SinkPlugin } from '../../src/pipeline/sink.js';
import type { LogEntry } from '../../src/intake/entry.js';
import { jsonArrayBody, ndjsonBody } from '../http/encode.js';
import { probeConnection } from '../http/probe.js';
import { createHttpAgent, httpRequest, type HttpAnswer, type HttpPool } from './http-request.js';
import { RequestLimitError } from './fly-fields.js';

export type VendorBodyFormat = 'json-array' | 'ndjson';

/** What a destination's answer says about the entries of one request. */
export interface PartialAnswer {
  /** Entries the vendor says it refused (the rest were stored). */
  readonly rejected: number;
  readonly reason: string;
}

export interface VendorHttpSpec {
  readonly kind: SinkKind;
  /** Where batches go; a function when the URL depends on the batch (its partition, the time). */
  readonly url: URL | ((batch: Batch) => URL);
  readonly headers: Readonly<Record<string, string>>;
  /** Body framing; `custom` builds the body from the mapped lines (e.g. `{"lines":[...]}`). */
  readonly format: VendorBodyFormat | { readonly custom: (lines: readonly string[]) => Buffer; readonly contentType: string };
  readonly gzip: boolean;
  /**
   * Turns an entry's line (one line of JSON, Fly's bytes) into the vendor's shape. Omitted:
   * the lines go as they are, with no copy (the HTTP sink's encoders).
   */
  readonly mapLine?: (line: string) => string;
  /**
   * Renames the top-level `timestamp` key (Better Stack's `dt`, Honeybadger's `ts`) in the
   * line's bytes, found by the intake's JSON scanner: no parse, no re-serialisation. Lines the
   * scanner cannot place it in go through renameField. Not with mapLine or wrap.
   */
  readonly renameTimestamp?: string;
  /** Wraps each line's bytes as they are (`{"log":` + line + `}`): a byte copy, no strings. Not with mapLine. */
  readonly wrap?: { readonly prefix: string; readonly suffix: string };
  /** Entries whose mapped line is longer than this (UTF-8 bytes) are left out, counted as dropped `entry_too_large`. */
  readonly maxEntryBytes?: number;
  /** Reads a 2xx answer for entries the vendor refused (Axiom's `failed`, OpenObserve's `status[].failed`). */
  readonly partialSuccess?: (answer: HttpAnswer, sent: number) => PartialAnswer | undefined;
  /** Refines the shared classification (e.g. a vendor's 400 that is really transient). */
  readonly classify?: (error: unknown) => FailureAction | undefined;
  /** Groups entries into batches (LogDNA: one hostname per request). */
  readonly partitionKey?: (entry: LogEntry) => string;
  /** A start-up request the vendor documents as harmless; without one, a connection probe. */
  readonly healthcheck?: (pool: HttpPool, signal: AbortSignal) => Promise<void>;
  readonly timeoutMs?: number;
  readonly gzipLevel?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_GZIP_LEVEL = 3;

/** One request's uncompressed body, as a destination's encoder builds it (pure). */
export interface BuiltBody {
  readonly plain: Buffer;
  readonly entryCount: number;
  readonly dropped?: Readonly<Record<string, number>>;
  readonly adjusted?: Readonly<Record<string, number>>;
  /** Anything the answer reader needs (e.g. which entries the body carries). */
  readonly meta?: Readonly<Record<string, string>>;
}

/** What the one vendor sink needs from a destination written as code (its own body builder and answer reader). */
export interface VendorSinkOptions {
  readonly name: string;
  readonly kind: SinkKind;
  /** Where batches go; a function when the URL depends on the batch (its partition, the time). */
  readonly url: URL | ((batch: Batch) => URL);
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
  /** Groups entries into batches (LogDNA: one hostname per request). */
  readonly partitionKey?: (entry: LogEntry) => string;
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

/**
 * The one vendor sink: one HTTP request per batch. It gzips the built body, splits a request
 * over the vendor's documented limits before sending, sends through the one transport and
 * classifies; the destination supplies the body and reads the answer.
 */
export class VendorHttpSink implements Sink {
  readonly name: string;
  readonly kind: SinkKind;
  readonly initialEncodedRatio: number;
  readonly partitionKey?: (entry: LogEntry) => string;
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
    // gzip'd JSON logs shrink to roughly a sixth until the core has measured real batches.
    this.initialEncodedRatio = options.gzipLevel !== undefined ? 0.15 : 1;
    if (options.partitionKey) this.partitionKey = options.partitionKey;
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

  async send(encoded: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<SendResult | void> {
    signal.throwIfAborted();
    // Every entry was left out (too large): nothing to send, and an empty request could be refused.
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
    const url = typeof this.#o.url === 'function' ? this.#o.url(batch) : this.#o.url;
    let answer: HttpAnswer;
    try {
      answer = await httpRequest(this.#pool, { url, method: 'POST', headers: this.#headers, body: encoded.body, signal, timeoutMs: this.#o.timeoutMs });
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

/** The vendor sink for a destination written as a description (VendorHttpSpec). */
export function describedSink(spec: VendorHttpSpec, options: { readonly maxConnections?: number; readonly name?: string } = {}): VendorHttpSink {
  const contentType = typeof spec.format === 'object' ? spec.format.contentType : spec.format === 'ndjson' ? 'application/x-ndjson' : 'application/json';
  const staticUrl = typeof spec.url === 'function' ? undefined : spec.url;
  return new VendorHttpSink({
    name: options.name ?? spec.kind,
    kind: spec.kind,
    url: spec.url,
    headers: { 'content-type': contentType, ...spec.headers },
    gzipLevel: spec.gzip ? (spec.gzipLevel ?? DEFAULT_GZIP_LEVEL) : undefined,
    timeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxConnections: options.maxConnections ?? 4,
    ...(spec.partitionKey ? { partitionKey: spec.partitionKey } : {}),
    ...(spec.classify ? { classify: spec.classify } : {}),
    build: (batch) => buildDescribed(spec, batch),
    readAnswer: (answer, encoded) => {
      const partial = spec.partialSuccess?.(answer, encoded.entryCount);
      if (partial !== undefined && partial.rejected > 0) return { rejectedEntries: Math.min(partial.rejected, encoded.entryCount), rejectReason: partial.reason };
    },
    // A URL that depends on the batch has no one URL to probe before the first batch.
    healthcheck: (pool, signal) => (spec.healthcheck ? spec.healthcheck(pool, signal) : staticUrl === undefined ? Promise.resolve() : probeConnection(staticUrl, 10_000, signal)),
  });
}

/** A description's request body: the lines framed as it says (renamed, wrapped or mapped), too-large lines left out. */
function buildDescribed(spec: VendorHttpSpec, batch: Batch): BuiltBody {
  let plain: Buffer;
  let entryCount = batch.count;
  let dropped: Record<string, number> | undefined;
  const needsLines =
    spec.mapLine !== undefined || typeof spec.format === 'object' || (spec.wrap === undefined && spec.renameTimestamp === undefined && spec.maxEntryBytes !== undefined && hasLineOver(batch, spec.maxEntryBytes));
  if (!needsLines) {
    const framed =
      spec.renameTimestamp !== undefined ? renameTimestampKey(batch, spec.renameTimestamp, spec.maxEntryBytes)
      : spec.wrap === undefined ? batch
      : wrapLines(batch, spec.wrap, spec.maxEntryBytes);
    if (framed.count < batch.count) dropped = { entry_too_large: batch.count - framed.count };
    entryCount = framed.count;
    plain = spec.format === 'ndjson' ? ndjsonBody(framed) : jsonArrayBody(framed);
  } else {
    const lines: string[] = [];
    let tooLarge = 0;
    const ndjson = batch.ndjson;
    forEachLine(batch, (start, end) => {
      if (end === start) return;
      const raw = ndjson.toString('utf8', start, end);
      const line = spec.mapLine ? spec.mapLine(raw) : raw;
      if (spec.maxEntryBytes !== undefined && Buffer.byteLength(line) > spec.maxEntryBytes) {
        tooLarge++;
        return;
      }
      lines.push(line);
    });
    if (tooLarge > 0) dropped = { entry_too_large: tooLarge };
    entryCount = lines.length;
    if (typeof spec.format === 'object') plain = spec.format.custom(lines);
    else {
      // The mapped lines as a batch of their own, so the one NDJSON / JSON-array encoder frames them.
      const mapped = Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8');
      const asBatch: Batch = { ...batch, ndjson: mapped, count: lines.length, bytes: mapped.length - lines.length };
      plain = spec.format === 'ndjson' ? ndjsonBody(asBatch) : jsonArrayBody(asBatch);
    }
  }
  return { plain, entryCount, ...(dropped ? { dropped } : {}) };
}

const TIMESTAMP_KEY = Buffer.from('"timestamp"', 'utf8');
const scanSpans = new Int32Array(8);
const scanResult: ScanResult = { valid: false, multiline: false, ambiguous: false, escaped: 0 };

/**
 * The batch with each line's top-level "timestamp" key renamed to `to`, in one new buffer.
 * The scanner gives the value's span; the key sits just before it (quote, optional spaces,
 * colon). A line where that is not so, or that already has the new key, is renamed the slow
 * way. Lines over `max` bytes after renaming are left out.
 */
function renameTimestampKey(batch: Batch, to: string, max: number | undefined): Batch {
  const newKey = Buffer.from(JSON.stringify(to), 'utf8');
  const slow = renameField('timestamp', to);
  const ndjson = batch.ndjson;
  // Room for a longer new key too (the vendors that use this have shorter ones).
  const grow = Math.max(0, newKey.length - TIMESTAMP_KEY.length);
  const out = Buffer.allocUnsafe(ndjson.length + batch.count * grow);
  let at = 0;
  let count = 0;
  let outgrown = false;
  forEachLine(batch, (start, end) => {
    if (end === start || outgrown) return;
    const keyAt = timestampKeyAt(ndjson, start, end);
    const lineStart = at;
    if (keyAt >= 0 && ndjson.subarray(start, end).indexOf(newKey) === -1) {
      at += ndjson.copy(out, at, start, keyAt);
      at += newKey.copy(out, at);
      at += ndjson.copy(out, at, keyAt + TIMESTAMP_KEY.length, end);
    } else {
      const renamed = Buffer.from(slow(ndjson.toString('utf8', start, end)), 'utf8');
      // Re-serialised, a line can come out longer than it came in (escapes written differently).
      if (at + renamed.length + 1 > out.length) {
        outgrown = true;
        return;
      }
      at += renamed.copy(out, at);
    }
    if (max !== undefined && at - lineStart > max) {
      at = lineStart;
      return;
    }
    out[at++] = 0x0a;
    count++;
  });
  // Rare: redo the batch the slow way, line by line.
  if (outgrown) return slowRenamed(batch, slow, max);
  return { ...batch, ndjson: out.subarray(0, at), count, bytes: at - count };
}

function slowRenamed(batch: Batch, map: (line: string) => string, max: number | undefined): Batch {
  const lines: string[] = [];
  forEachLine(batch, (start, end) => {
    if (end === start) return;
    const line = map(batch.ndjson.toString('utf8', start, end));
    if (max === undefined || Buffer.byteLength(line) <= max) lines.push(line);
  });
  const ndjson = Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8');
  return { ...batch, ndjson, count: lines.length, bytes: ndjson.length - lines.length };
}

/** Offset of the top-level `"timestamp"` key in `b[start, end)`, or -1 when the scanner cannot place it. */
function timestampKeyAt(b: Buffer, start: number, end: number): number {
  scanFlyJson(b, scanSpans, scanResult, start, end);
  const valueStart = scanSpans[2 * FIELD_TIMESTAMP]!;
  if (!scanResult.valid || scanResult.ambiguous || valueStart < 0) return -1;
  // valueStart is just after the value's opening quote: step back over it, spaces, ':' and spaces.
  let i = valueStart - 2;
  while (i > start && (b[i] === 0x20 || b[i] === 0x09)) i--;
  if (b[i] !== 0x3a) return -1;
  i--;
  while (i > start && (b[i] === 0x20 || b[i] === 0x09)) i--;
  const keyAt = i - TIMESTAMP_KEY.length + 1;
  if (keyAt <= start) return -1;
  return b.subarray(keyAt, i + 1).equals(TIMESTAMP_KEY) ? keyAt : -1;
}

/** The batch with every line wrapped, copied once into a new NDJSON buffer; wrapped lines over `max` bytes left out. */
function wrapLines(batch: Batch, wrap: { readonly prefix: string; readonly suffix: string }, max: number | undefined): Batch {
  const prefix = Buffer.from(wrap.prefix, 'utf8');
  const suffix = Buffer.from(wrap.suffix, 'utf8');
  const extra = prefix.length + suffix.length;
  const ndjson = batch.ndjson;
  const out = Buffer.allocUnsafe(ndjson.length + batch.count * extra);
  let at = 0;
  let count = 0;
  forEachLine(batch, (start, end) => {
    if (end === start || (max !== undefined && end - start + extra > max)) return;
    at += prefix.copy(out, at);
    at += ndjson.copy(out, at, start, end);
    at += suffix.copy(out, at);
    out[at++] = 0x0a;
    count++;
  });
  return { ...batch, ndjson: out.subarray(0, at), count, bytes: at - count };
}

function hasLineOver(batch: Batch, max: number): boolean {
  // Cheap test first: no line can be longer than the whole batch.
  if (batch.bytes <= max) return false;
  let over = false;
  forEachLine(batch, (start, end) => {
    if (end - start > max) over = true;
  });
  return over;
}

/** A healthcheck request (GET/POST) that must not answer 401/403 or 5xx. */
export async function requestHealthcheck(pool: HttpPool, signal: AbortSignal, request: { url: URL; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }): Promise<void> {
  try {
    await httpRequest(pool, { ...request, signal, timeoutMs: 10_000 });
  } catch (error) {
    // Only credentials and server trouble say the sink cannot work; another 4xx to an empty probe is expected.
    if (error instanceof SinkResponseError && error.status < 500 && error.status !== 401 && error.status !== 403) return;
    throw error;
  }
}

/** Parses a line as a JSON object (entries from the intake always are one). */
export function parseLine(line: string): Record<string, unknown> {
  const value: unknown = JSON.parse(line);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { message: value };
}

/** `.to = del(.from)` as fly-log-shipper's remap does it: the field moves, keeping its value. */
export function renameField(from: string, to: string): (line: string) => string {
  return (line) => {
    const o = parseLine(line);
    if (!Object.hasOwn(o, from)) return line;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (k === from) out[to] = v;
      else if (k !== to) out[k] = v;
    }
    return JSON.stringify(out);
  };
}

// ---- Plugin helpers shared by the vendor destinations (config readers: ./vendor-config.ts) ----

export const VENDOR_DEFAULTS: PipelineSettings = {
  batch: { maxEntries: 10_000, maxBytes: 1024 * 1024, maxAgeMs: 1000 },
  maxInFlight: 4,
  // Several sinks' buffers, the runtime and the heap must fit a 256 MB VM; the spool takes longer outages.
  bufferMaxBytes: 16 * 1024 * 1024,
};

/** Pipeline defaults with a vendor's batch limits. */
export function vendorDefaults(batch: Partial<BatchSettings>, rest: Partial<Omit<PipelineSettings, 'batch'>> = {}): PipelineSettings {
  return { ...VENDOR_DEFAULTS, ...rest, batch: { ...VENDOR_DEFAULTS.batch, ...batch } };
}

/** A SinkPlugin for a vendor destination: its config reader, a description, and the spec built from the config. */
export function vendorPlugin<Config>(definition: {
  readonly kind: SinkKind;
  readonly envPrefix: string;
  readonly defaults: PipelineSettings;
  readonly readConfig: (env: EnvReader) => Config | undefined;
  readonly describe: (config: Config) => string;
  readonly spec: (config: Config) => VendorHttpSpec;
}): SinkPlugin<Config> {
  return {
    kind: definition.kind,
    envPrefix: definition.envPrefix,
    defaults: definition.defaults,
    readConfig: definition.readConfig,
    describe: definition.describe,
    create: (config: Config, context: SinkContext) =>
      describedSink(definition.spec(config), { maxConnections: context.settings?.maxInFlight ?? definition.defaults.maxInFlight }),
  };
}
