// AWS Signature Version 4 for S3 requests, by the maintained `aws4` library (no crypto of
// our own). The payload hash is computed by the caller (off the main thread, once per
// batch) and passed in, so the library never hashes the body again.
import aws4 from 'aws4';

/** Secret fields are non-enumerable: JSON.stringify and util.inspect of a config never show them. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export function makeCredentials(accessKeyId: string, secretAccessKey: string, sessionToken?: string): S3Credentials {
  const creds = { accessKeyId } as { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  Object.defineProperty(creds, 'secretAccessKey', { value: secretAccessKey, enumerable: false });
  if (sessionToken !== undefined) Object.defineProperty(creds, 'sessionToken', { value: sessionToken, enumerable: false });
  return Object.freeze(creds);
}

/** SHA-256 of an empty payload (GET/HEAD), as SigV4 wants it in x-amz-content-sha256. */
export const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface SignInput {
  readonly method: 'GET' | 'PUT' | 'HEAD' | 'POST';
  /** The AWS service signed for; default 's3' (CloudWatch Logs signs for 'logs'). */
  readonly service?: string;
  /** `host[:port]` exactly as the Host header will carry it. */
  readonly host: string;
  /** Path and query, already percent-encoded as sent (each key segment RFC 3986-encoded). */
  readonly path: string;
  /** Extra headers to send and sign (lower-case names): content type, storage class, SSE. */
  readonly headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body. */
  readonly payloadSha256: string;
  readonly region: string;
  readonly credentials: S3Credentials;
  /** Signing time; defaults to now (tests pin it to reproduce AWS's published examples). */
  readonly now?: Date;
}

export interface SignedRequest {
  /** Path and query to send: the library may normalise the query's encoding, and what is signed must be what is sent. */
  readonly path: string;
  readonly headers: Record<string, string>;
}

/** `20130524T000000Z` */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '');
}

export function signS3Request(input: SignInput): SignedRequest {
  const headers: Record<string, string> = {
    ...input.headers,
    host: input.host,
    'x-amz-content-sha256': input.payloadSha256,
    'x-amz-date': amzDate(input.now ?? new Date()),
  };
  const signed = aws4.sign(
    { host: input.host, path: input.path, method: input.method, service: input.service ?? 's3', region: input.region, headers },
    {
      accessKeyId: input.credentials.accessKeyId,
      secretAccessKey: input.credentials.secretAccessKey,
      // aws4 adds X-Amz-Security-Token itself when a session token is given.
      ...(input.credentials.sessionToken !== undefined ? { sessionToken: input.credentials.sessionToken } : {}),
    },
  );
  return { path: signed.path ?? input.path, headers: signed.headers as Record<string, string> };
}
