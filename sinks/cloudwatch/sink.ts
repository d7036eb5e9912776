// CloudWatch Logs: one PutLogEvents request per batch (AWS JSON 1.1, SigV4 for service
// `logs` through the S3 sink's signer), one stream per app/host. A missing group or stream
// (ResourceNotFoundException) is created, as fly-log-shipper's create_missing_group /
// create_missing_stream do, and the same events are put once more within the attempt.
// Events the service refuses as too old, expired or too new are reported in
// rejectedLogEventsInfo by index and counted as rejected; the rest were stored.
import { createHash } from 'node:crypto';
import { classifyFailure, SinkResponseError, type FailureAction } from '../../src/errors.js';
import type { Batch, EncodedBatch, SendResult, Sink } from '../../src/pipeline/sink.js';
import { signS3Request } from '../s3/signing.js';
import { createHttpAgent, httpRequest, type HttpAnswer, type HttpPool } from '../shared/http-request.js';
import { RequestLimitError } from '../shared/fly-fields.js';
import type { CloudWatchConfig } from './config.js';
import { buildPutLogEventsBody, CW_MAX_EVENTS, CW_MAX_REQUEST_BYTES, CW_MAX_SPAN_MS, streamName } from './encode.js';

const TARGET_PREFIX = 'Logs_20140328.';
const TIMEOUT_MS = 30_000;
// 400 answers that mean "later", not "never".
const RETRYABLE_TYPES = new Set(['ThrottlingException', 'LimitExceededException', 'ServiceUnavailableException', 'OperationAbortedException']);

/** The exception name of an AWS JSON error answer (`__type`, maybe prefixed with a namespace and '#'). */
export function awsErrorType(error: unknown): string | undefined {
  if (!(error instanceof SinkResponseError)) return undefined;
  try {
    const t = (JSON.parse(error.body) as { __type?: unknown }).__type;
    return typeof t === 'string' ? t.slice(t.lastIndexOf('#') + 1) : undefined;
  } catch {
    return undefined;
  }
}

interface RejectedInfo {
  readonly tooNewLogEventStartIndex?: number;
  readonly tooOldLogEventEndIndex?: number;
  readonly expiredLogEventEndIndex?: number;
}

/** Entries refused in a PutLogEvents answer: the old/expired ones from the start, the too-new ones at the end. */
export function rejectedFromAnswer(body: string, sent: number): SendResult | void {
  let info: RejectedInfo | undefined;
  try {
    info = (JSON.parse(body) as { rejectedLogEventsInfo?: RejectedInfo }).rejectedLogEventsInfo;
  } catch {
    return undefined;
  }
  if (info === undefined) return undefined;
  const oldEnd = Math.max(info.tooOldLogEventEndIndex ?? -1, info.expiredLogEventEndIndex ?? -1);
  const newStart = info.tooNewLogEventStartIndex ?? sent;
  const old = Math.min(oldEnd + 1, sent);
  const tooNew = Math.max(0, sent - Math.max(newStart, old));
  const rejected = old + tooNew;
  if (rejected === 0) return undefined;
  const reason = old > 0 ? ((info.expiredLogEventEndIndex ?? -1) >= (info.tooOldLogEventEndIndex ?? -1) ? 'cloudwatch_expired' : 'cloudwatch_too_old') : 'cloudwatch_too_new';
  return { rejectedEntries: rejected, rejectReason: reason };
}

export class CloudWatchSink implements Sink {
  readonly name = 'cloudwatch';
  readonly kind = 'cloudwatch' as const;
  readonly #c: CloudWatchConfig;
  readonly #pool: HttpPool;
  #closing: Promise<void> | undefined;

  constructor(config: CloudWatchConfig, maxConnections: number) {
    this.#c = config;
    this.#pool = createHttpAgent(maxConnections);
  }

  partitionKey = streamName;

  encode(batch: Batch): EncodedBatch {
    const built = buildPutLogEventsBody(batch, this.#c.group);
    return {
      body: built.plain,
      entryCount: built.entryCount,
      ...(Object.keys(built.dropped ?? {}).length > 0 ? { dropped: built.dropped } : {}),
      ...(Object.keys(built.adjusted ?? {}).length > 0 ? { adjusted: built.adjusted } : {}),
      ...(built.meta !== undefined ? { meta: built.meta } : {}),
    };
  }

  async send(encoded: EncodedBatch, _batch: Batch, signal: AbortSignal): Promise<SendResult | void> {
    signal.throwIfAborted();
    if (encoded.entryCount === 0) return;
    const meta = encoded.meta ?? {};
    if (encoded.entryCount > CW_MAX_EVENTS) throw new RequestLimitError(`cloudwatch: ${encoded.entryCount} events > ${CW_MAX_EVENTS}; splitting`);
    if (Number(meta.serviceBytes) > CW_MAX_REQUEST_BYTES) throw new RequestLimitError(`cloudwatch: ${meta.serviceBytes} bytes (messages + 26 each) > ${CW_MAX_REQUEST_BYTES}; splitting`);
    if (Number(meta.spanMs) > CW_MAX_SPAN_MS) throw new RequestLimitError('cloudwatch: the events span more than 24 hours; splitting');
    let answer: HttpAnswer;
    try {
      answer = await this.#call('PutLogEvents', encoded.body, signal);
    } catch (error) {
      if (awsErrorType(error) !== 'ResourceNotFoundException') throw error;
      await this.#createMissing(meta.stream ?? '', signal);
      answer = await this.#call('PutLogEvents', encoded.body, signal);
    }
    return rejectedFromAnswer(answer.body, encoded.entryCount);
  }

  /** Creates the group (when missing) and the stream; "already exists" is fine (another agent may have made it). */
  async #createMissing(stream: string, signal: AbortSignal): Promise<void> {
    const ignoreExisting = (error: unknown): void => {
      if (awsErrorType(error) !== 'ResourceAlreadyExistsException') throw error;
    };
    try {
      await this.#call('CreateLogStream', JSON.stringify({ logGroupName: this.#c.group, logStreamName: stream }), signal);
      return;
    } catch (error) {
      if (awsErrorType(error) !== 'ResourceNotFoundException') return ignoreExisting(error);
    }
    await this.#call('CreateLogGroup', JSON.stringify({ logGroupName: this.#c.group }), signal).catch(ignoreExisting);
    await this.#call('CreateLogStream', JSON.stringify({ logGroupName: this.#c.group, logStreamName: stream }), signal).catch(ignoreExisting);
  }

  #call(action: string, body: Uint8Array | string, signal: AbortSignal): Promise<HttpAnswer> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const url = this.#c.endpoint;
    const signed = signS3Request({
      method: 'POST',
      service: 'logs',
      host: url.host,
      path: url.pathname === '' ? '/' : url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${TARGET_PREFIX}${action}` },
      payloadSha256: createHash('sha256').update(bytes).digest('hex'),
      region: this.#c.region,
      credentials: this.#c.credentials,
    });
    const target = new URL(signed.path, url);
    return httpRequest(this.#pool, { url: target, method: 'POST', headers: { ...signed.headers, 'user-agent': 'logferry' }, body: bytes, signal, timeoutMs: TIMEOUT_MS });
  }

  classify(error: unknown): FailureAction {
    if (error instanceof RequestLimitError) return 'split';
    const type = awsErrorType(error);
    if (type !== undefined && RETRYABLE_TYPES.has(type)) return 'retry';
    // Still missing after creating it (eventual consistency right after creation).
    if (type === 'ResourceNotFoundException') return 'retry';
    return classifyFailure(error);
  }

  /** DescribeLogGroups for the group's name: proves the endpoint, the credentials and the signature. */
  async healthcheck(signal: AbortSignal): Promise<void> {
    await this.#call('DescribeLogGroups', JSON.stringify({ logGroupNamePrefix: this.#c.group, limit: 1 }), signal);
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }
}
