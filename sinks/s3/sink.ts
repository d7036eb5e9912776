// Archives batches as gzip (or zstd, or plain) NDJSON objects under Hive-style keys. One PUT per batch; the
// core batches per partition (app/date/hour by default), retries and counts.
import type { LogEntry } from '../../src/intake/entry.js';
import { SinkIoError, SinkNetworkError, type FailureAction } from '../../src/errors.js';
import { createHttpAgent, httpRequest, type HttpPool } from '../shared/http-request.js';
import type { Logger } from '../../src/ops/logger.js';
import { objectFileName, type PartitionTemplate } from '../shared/object-key.js';
import type { Batch, EncodedBatch, SendResult, Sink, SinkContext } from '../../src/pipeline/sink.js';
import { S3Address } from './address.js';
import type { S3Config } from './config.js';
import { firstEntry } from '../../src/pipeline/batch.js';
import { archiveContentType, archiveExtension, compressNdjson, initialRatio } from '../shared/compression.js';
import { md5Base64, sha256Hex } from './encode.js';
import { DIGEST_MISMATCH_CODES, S3DigestError, S3ResponseError, classifyS3Failure, toS3Error } from './errors.js';
import { PartitionCache } from './partition-cache.js';
import { EMPTY_PAYLOAD_SHA256, signS3Request } from './signing.js';

// Stored as the bytes of a .ndjson.gz (.ndjson.zst) file, Content-Type application/gzip
// (application/zstd), not as "NDJSON with Content-Encoding: gzip": with Content-Encoding set,
// browsers, CDNs and some S3 tools decompress on GET, so a downloaded `.gz` would no longer
// be gzip. DuckDB, Athena, Spark, ClickHouse and zcat/zstdcat all want the stored bytes to
// be compressed and tell the codec by the name's ending.

// Whole-answer timeouts: an upload of several MiB over a slow link takes a while; a
// bucket listing does not.
const PUT_TIMEOUT_MS = 120_000;
const HEALTHCHECK_TIMEOUT_MS = 15_000;
// The overwrite check before a replayed PUT: tells whether the object is there already.
const HEAD_TIMEOUT_MS = 15_000;
// Objects are few and large; more connections than requests in flight buy nothing.
const MAX_CONNECTIONS = 16;

/** Entry time for object names; the receive time when the timestamp does not parse. */
function entryTimeMs(entry: LogEntry): number {
  const ms = Date.parse(entry.timestamp);
  return Number.isNaN(ms) ? entry.receivedAtMs : ms;
}

function s3Message(error: S3ResponseError): string {
  const colon = error.bodyExcerpt.indexOf(': ');
  return error.s3Code !== '' && colon >= 0 ? `: ${error.bodyExcerpt.slice(colon + 2)}` : '';
}

export class S3Sink implements Sink {
  readonly name: string;
  readonly kind = 's3' as const;
  /** The codec shrinks Fly's JSON lines to roughly this; the core learns the real ratio from there. */
  readonly initialEncodedRatio: number;
  readonly #config: S3Config;
  readonly #address: S3Address;
  readonly #template: PartitionTemplate;
  readonly #partitions: PartitionCache;
  readonly #logger: Logger;
  readonly #agent: HttpPool;
  /** `.ndjson.gz`, `.ndjson.zst` or `.ndjson`. */
  readonly #extension: string;
  /** Headers every PUT carries besides the signature: content type, storage class, encryption. */
  readonly #putHeaders: Readonly<Record<string, string>>;
  #closed = false;
  /** Bodies the store refused once for a checksum mismatch (see S3DigestError). */
  readonly #digestRefused = new WeakSet<Uint8Array>();
  #headRefusedLogged = false;

  constructor(config: S3Config, context: SinkContext, name = 's3') {
    this.name = name;
    this.#config = config;
    this.#address = new S3Address(config);
    this.#template = config.partitionTemplate;
    this.#partitions = new PartitionCache(config.partitionTemplate);
    this.#logger = context.logger;
    this.#agent = createHttpAgent(MAX_CONNECTIONS);
    this.initialEncodedRatio = initialRatio(config.compression);
    this.#extension = archiveExtension(config.compression);
    const headers: Record<string, string> = { 'content-type': archiveContentType(config.compression) };
    if (config.storageClass !== undefined) headers['x-amz-storage-class'] = config.storageClass;
    if (config.sse !== undefined) headers['x-amz-server-side-encryption'] = config.sse;
    if (config.sseKmsKeyId !== undefined) headers['x-amz-server-side-encryption-aws-kms-key-id'] = config.sseKmsKeyId;
    this.#putHeaders = headers;
  }

  /** Where objects go, for tests and the start-up line. */
  get address(): S3Address {
    return this.#address;
  }

  /** Called by the core per entry: a cached folder, not a template render. */
  partitionKey(entry: LogEntry): string {
    return this.#partitions.folder(entry);
  }

  /**
   * Compresses the batch and names its object. The name depends on the batch alone (its
   * partition, its first entry's time and its key), so every attempt and every replay of
   * the batch, also by the next process after a crash, PUTs the same key: a replay replaces
   * the copy an earlier attempt may have stored, and the archive holds the batch once.
   */
  async encode(batch: Batch): Promise<EncodedBatch> {
    const body = await compressNdjson(batch, this.#config.compression);
    const sha256 = sha256Hex(body);
    const md5 = md5Base64(body);
    const first = firstEntry(batch);
    const firstMs = first === undefined ? batch.receivedAtMs : entryTimeMs(first);
    // The core batches by partitionKey; a batch without one (replayed, hand-made) is placed by its first entry.
    const folder = batch.partition !== '' || first === undefined ? batch.partition : this.#template.render(first);
    const file = objectFileName(firstMs, batch.key, this.#extension);
    const key = `${this.#config.keyPrefix}${folder === '' ? '' : `${folder}/`}${file}`;
    return { body, entryCount: batch.count, meta: { key, sha256, md5 } };
  }

  /**
   * One PUT carrying Content-MD5 (signed), so the store refuses a body that changed after
   * it was hashed. A replayed batch (read back from the spool) is looked up first with a
   * HEAD: replays are rare, and it tells /metrics whether the PUT replaced a copy an
   * earlier attempt had stored (`overwrote`).
   */
  async send(encoded: EncodedBatch, batch: Batch, signal: AbortSignal): Promise<SendResult | undefined> {
    const key = encoded.meta?.key;
    const sha256 = encoded.meta?.sha256;
    const md5 = encoded.meta?.md5;
    if (key === undefined || sha256 === undefined || md5 === undefined) throw new SinkIoError('s3: encoded batch has no object key (encoded by another sink?)', false);
    const existed = batch.replay === true && (await this.#exists(key, signal));
    const { origin, host } = this.#address.location;
    const signed = signS3Request({
      method: 'PUT',
      host,
      path: this.#address.objectPath(key),
      headers: { ...this.#putHeaders, 'content-md5': md5 },
      payloadSha256: sha256,
      region: this.#config.region,
      credentials: this.#config.credentials,
    });
    try {
      await httpRequest(this.#agent, { url: origin + signed.path, method: 'PUT', headers: signed.headers, body: encoded.body, signal, timeoutMs: PUT_TIMEOUT_MS });
    } catch (error) {
      const failure = toS3Error(error, `PUT ${key} in bucket "${this.#config.bucket}" at ${host}`);
      if (failure instanceof S3ResponseError && DIGEST_MISMATCH_CODES.has(failure.s3Code)) {
        const again = this.#digestRefused.has(encoded.body);
        this.#digestRefused.add(encoded.body);
        throw new S3DigestError(`${failure.message}: the body changed after it was hashed${again ? ' (refused twice; not sent again)' : ''}`, !again, { cause: failure });
      }
      throw failure;
    }
    this.#digestRefused.delete(encoded.body);
    return existed ? { overwrote: true } : undefined;
  }

  /**
   * Whether the object is in the bucket already (HEAD). A failure to reach the store is
   * thrown (the PUT would fail as well); an answer that does not tell (403: the key may not
   * read, or may not list, which turns S3's 404 into 403) counts as "not there".
   */
  async #exists(key: string, signal: AbortSignal): Promise<boolean> {
    const { origin, host } = this.#address.location;
    const signed = signS3Request({
      method: 'HEAD',
      host,
      path: this.#address.objectPath(key),
      headers: {},
      payloadSha256: EMPTY_PAYLOAD_SHA256,
      region: this.#config.region,
      credentials: this.#config.credentials,
    });
    try {
      await httpRequest(this.#agent, { url: origin + signed.path, method: 'HEAD', headers: signed.headers, signal, timeoutMs: HEAD_TIMEOUT_MS });
      return true;
    } catch (error) {
      const failure = toS3Error(error, `HEAD ${key} in bucket "${this.#config.bucket}" at ${host}`);
      if (!(failure instanceof S3ResponseError) || classifyS3Failure(failure) === 'retry') throw failure;
      if ((failure.status === 401 || failure.status === 403) && !this.#headRefusedLogged) {
        this.#headRefusedLogged = true;
        this.#logger.warn(
          { sink: this.name, bucket: this.#config.bucket, status: failure.status },
          'S3 refused a HEAD before a replayed upload (the key may not read objects): overwrites of replayed batches are not counted; uploads go on',
        );
      }
      return false;
    }
  }

  classify(error: unknown): FailureAction {
    return classifyS3Failure(error);
  }

  /** Lists at most one key: proves the bucket exists and the credentials are accepted, and writes nothing. */
  async healthcheck(signal: AbortSignal): Promise<void> {
    const { origin, host } = this.#address.location;
    const signed = signS3Request({
      method: 'GET',
      host,
      path: this.#address.bucketPath('list-type=2&max-keys=1'),
      headers: {},
      payloadSha256: EMPTY_PAYLOAD_SHA256,
      region: this.#config.region,
      credentials: this.#config.credentials,
    });
    try {
      await httpRequest(this.#agent, { url: origin + signed.path, method: 'GET', headers: signed.headers, signal, timeoutMs: HEALTHCHECK_TIMEOUT_MS });
    } catch (error) {
      const failure = this.#healthFailure(toS3Error(error, `list bucket "${this.#config.bucket}" at ${host}`), host);
      if (failure !== undefined) throw failure;
    }
  }

  /** One clear line per cause; undefined when the answer does not mean the sink cannot work. */
  #healthFailure(error: unknown, host: string): Error | undefined {
    const bucket = this.#config.bucket;
    if (error instanceof SinkNetworkError) {
      return new SinkNetworkError(`S3 endpoint ${host} is unreachable: ${error.message}`, { cause: error });
    }
    if (!(error instanceof S3ResponseError)) return error instanceof Error ? error : new Error(String(error));
    const code = error.s3Code;
    const says = code === '' ? `HTTP ${error.status}` : `${code}, HTTP ${error.status}`;
    let line: string | undefined;
    if (code === 'NoSuchBucket' || (code === '' && error.status === 404)) {
      line = `bucket "${bucket}" does not exist at ${host} (${says}); create it or fix AWS_BUCKET/BUCKET_NAME`;
    } else if (code === 'InvalidAccessKeyId') {
      line = `S3 at ${host} does not know the access key in AWS_ACCESS_KEY_ID (${says})`;
    } else if (code === 'SignatureDoesNotMatch') {
      line = `S3 at ${host} refused the signature: AWS_SECRET_ACCESS_KEY does not belong to AWS_ACCESS_KEY_ID (${says})`;
    } else if (code === 'ExpiredToken' || code === 'InvalidToken' || code === 'TokenRefreshRequired') {
      line = `S3 at ${host} refused AWS_SESSION_TOKEN (${says})`;
    } else if (code === 'AccessDenied') {
      // Signed correctly, but not allowed to list: a write-only key is good practice for a
      // shipper, so this is no reason to call the sink broken. Writes will tell.
      this.#logger.warn({ sink: this.name, bucket, host }, 'S3 credentials may not list the bucket (AccessDenied); cannot check it exists before the first upload');
      return undefined;
    } else if (code === 'AuthorizationHeaderMalformed' || code === 'PermanentRedirect' || error.status === 301) {
      // S3's own message names the region it expected.
      line = `bucket "${bucket}" at ${host} is not in region "${this.#config.region}" (${says}${s3Message(error)}); set AWS_REGION to the bucket's region`;
    } else if (error.status === 401 || error.status === 403) {
      line = `S3 at ${host} refused the credentials for bucket "${bucket}" (${says}${s3Message(error)})`;
    }
    if (line === undefined) return error;
    return new S3ResponseError(error.status, code, error.bodyExcerpt, line, { retryAfterMs: error.retryAfterMs, cause: error });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#agent.close();
  }
}
