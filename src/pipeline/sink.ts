// The contract between the core and a sink plugin. A sink only encodes and sends:
// batching, buffering, retrying, spooling and accounting belong to the core, so every
// sink behaves the same. Plugins live in sinks/<kind>/ and are listed in sinks/index.ts.
import type { FailureAction } from '../errors.js';
import type { LogEntry } from '../intake/entry.js';
import type { EnvReader } from '../config/env.js';
import type { Logger } from '../ops/logger.js';

export type SinkKind =
  | 'http' | 'file' | 's3' | 'loki'
  // Destinations from fly-log-shipper (sinks/<kind>/).
  | 'appsignal' | 'axiom' | 'baselime' | 'betterstack' | 'highlight' | 'honeybadger' | 'hyperdx' | 'logdna' | 'logflare' | 'openobserve' | 'signoz' | 'uptrace' | 'slack'
  | 'datadog' | 'honeycomb' | 'new_relic' | 'humio' | 'erasearch' | 'sematext' | 'cloudwatch' | 'papertrail';

/** When the core seals a batch. `maxBytes` is measured on the encoded (compressed, if the sink compresses) body. */
export interface BatchSettings {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  /** Cap on the batch's line bytes before encoding, for sinks with a raw-size limit (Loki's ingestion burst). */
  readonly maxLineBytes?: number;
}

/** Core settings every sink gets, read from `<PREFIX>_*` variables with the plugin's defaults. */
export interface PipelineSettings {
  readonly batch: BatchSettings;
  /** Requests in flight at once for this sink. */
  readonly maxInFlight: number;
  /** Entries held in memory (open, queued and in-flight batches), in bytes of their lines. */
  readonly bufferMaxBytes: number;
}

export interface Batch {
  /** Monotonic per sink; names the batch in logs. */
  readonly id: number;
  /**
   * Durable name stem, unique across agents and restarts (`<agent instance id>-<id>`; a
   * split half adds `-h1`/`-h2`): fixed when the batch is made and kept in its spool record,
   * so every attempt and every replay of the batch (also after a crash) writes the same
   * object key or file name in the archive sinks, and an overwrite replaces only itself.
   */
  readonly key: string;
  /** Read back from the spool: an earlier attempt may already have stored it (archive sinks check for an overwrite). */
  readonly replay?: boolean;
  /** The partition key the sink asked for (empty string when it does not partition). */
  readonly partition: string;
  /**
   * The entries as NDJSON: each entry's line (one line of JSON, Fly's original bytes when
   * it was good) followed by "\n". NDJSON sinks send it as is; src/batch.ts reads entries
   * back for sinks that need their fields.
   */
  readonly ndjson: Buffer;
  /** Number of entries (lines). */
  readonly count: number;
  /** Sum of the entries' line bytes (the NDJSON without its newlines). */
  readonly bytes: number;
  /** When the first entry was received (ms since epoch): the fallback for an entry time that cannot be read. */
  readonly receivedAtMs: number;
}

export interface EncodedBatch {
  readonly body: Uint8Array;
  /** How many entries the body carries (encode may leave out entries it cannot send; see `dropped`). */
  readonly entryCount: number;
  /** Entries encode had to leave out, by reason; the core counts them as dropped. */
  readonly dropped?: Readonly<Record<string, number>>;
  /** Entries encode changed to make them acceptable (truncated, label sanitised), by reason; counted, not dropped. */
  readonly adjusted?: Readonly<Record<string, number>>;
  /** Anything send needs that encode worked out (object key, content headers). */
  readonly meta?: Readonly<Record<string, string>>;
}

/** What a successful send can report: a partial rejection the sink learnt of from a 2xx answer. */
export interface SendResult {
  readonly rejectedEntries?: number;
  readonly rejectReason?: string;
  /** The batch replaced an object (or file) of the same name already there: an earlier attempt had stored it. */
  readonly overwrote?: boolean;
}

export interface Sink {
  /** Instance name, used as the `sink` label in metrics and logs. */
  readonly name: string;
  readonly kind: SinkKind;
  /** Expected encoded/raw size ratio before the core has measured one (e.g. 0.15 for gzip). Default 1. */
  readonly initialEncodedRatio?: number;
  /**
   * Its encoder reads the Fly fields of every line (Loki: labels, level, message): the intake
   * then scans them all in its one scan, and batches keep the spans (fieldSpansOf in
   * pipeline/batch.ts), so the encoder reads them instead of scanning each line again.
   */
  readonly readsFlyFields?: boolean;
  /** Groups entries into batches (e.g. per app and hour for object storage). Omit to batch everything together. */
  partitionKey?(entry: LogEntry): string;
  /** Pure: turns a batch into one request body. May be async to compress off the main thread. */
  encode(batch: Batch): EncodedBatch | Promise<EncodedBatch>;
  /**
   * One attempt, no retries; abortable. Throws SinkResponseError / SinkNetworkError / SinkIoError.
   * Once it resolves the batch belongs to the core again (its buffer is reused): keep nothing of it.
   */
  send(encoded: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<SendResult | void>;
  /** What to do with a failed attempt: retry it, give up (count as rejected), or split the batch in halves. */
  classify(error: unknown): FailureAction;
  /** Checked once at start (and reported in /health); throws with a clear message when the sink cannot work. */
  healthcheck?(signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

export interface SinkContext {
  readonly logger: Logger;
  /** The core settings this sink runs with (e.g. to size a connection pool to maxInFlight). */
  readonly settings?: PipelineSettings;
  /** Unique per running agent (machine id + a random part chosen at start); object names use it so instances never collide. */
  readonly agentInstanceId: string;
}

/** One sink kind: how it reads its config from the environment and builds a sink. */
export interface SinkPlugin<Config = unknown> {
  readonly kind: SinkKind;
  /** Prefix of the core settings variables: `<PREFIX>_BATCH_MAX_ENTRIES`, `_BATCH_MAX_BYTES`, `_BATCH_MAX_AGE`, `_MAX_IN_FLIGHT`, `_BUFFER_MAX_BYTES`. */
  readonly envPrefix: string;
  readonly defaults: PipelineSettings;
  /** Undefined when the sink is not configured. Throws ConfigError on invalid values. */
  readConfig(env: EnvReader): Config | undefined;
  /** One line for the start-up log: where it ships, never a secret. */
  describe(config: Config): string;
  create(config: Config, context: SinkContext): Sink;
}
