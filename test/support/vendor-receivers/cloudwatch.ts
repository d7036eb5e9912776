// Stands in for the CloudWatch Logs API (AWS JSON 1.1 over POST /): it recomputes each
// request's SigV4 signature with aws4 from the request as received (method, path, the
// signed headers, the body's SHA-256) and refuses a mismatch as AWS does; it checks the
// X-Amz-Target, the content type, and for PutLogEvents what the service enforces: the
// group and stream exist (ResourceNotFoundException otherwise), events in chronological
// order, at most 10,000 events and 1,048,576 bytes (messages + 26 bytes each), at most 24 h
// between first and last, each event at most 256 KB. Events older than the retention (14
// days by default) or more than 2 h ahead are refused in rejectedLogEventsInfo, the rest stored.
import { createHash } from 'node:crypto';
import aws4 from 'aws4';
import { retryAfterHeader, startReceiverCore, type ReceivedRequest, type ReceiverCore } from './base.js';

export interface CloudWatchEvent {
  readonly group: string;
  readonly stream: string;
  readonly timestamp: number;
  readonly message: string;
}

export interface CloudWatchReceiver extends ReceiverCore {
  readonly groups: Map<string, Map<string, CloudWatchEvent[]>>;
  /** Every stored event, in arrival order. */
  readonly events: CloudWatchEvent[];
  entries(): Array<Record<string, unknown>>;
  /** Actions in order (PutLogEvents, CreateLogGroup, ...). */
  readonly actions: string[];
  rejected: number;
}

export interface CloudWatchReceiverOptions {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly region: string;
  /** Groups that exist before the test (default none). */
  readonly groups?: readonly string[];
  readonly retentionDays?: number;
  readonly now?: () => number;
}

const fail = (type: string, message: string, status = 400) => ({ status, body: JSON.stringify({ __type: type, message }) });

export async function startCloudWatchReceiver(o: CloudWatchReceiverOptions): Promise<CloudWatchReceiver> {
  const groups = new Map<string, Map<string, CloudWatchEvent[]>>((o.groups ?? []).map((g) => [g, new Map()]));
  const events: CloudWatchEvent[] = [];
  const actions: string[] = [];
  const state = { rejected: 0 };
  const now = o.now ?? Date.now;
  const retentionMs = (o.retentionDays ?? 14) * 86_400_000;

  const verify = (req: ReceivedRequest): string | undefined => {
    const auth = String(req.headers.authorization ?? '');
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return 'MissingAuthenticationTokenException';
    if (m[1] !== o.accessKeyId) return 'UnrecognizedClientException';
    if (m[3] !== o.region || m[4] !== 'logs') return 'InvalidSignatureException';
    if (o.sessionToken !== undefined && req.headers['x-amz-security-token'] !== o.sessionToken) return 'UnrecognizedClientException';
    const bodyHash = createHash('sha256').update(req.raw).digest('hex');
    const claimed = req.headers['x-amz-content-sha256'];
    if (claimed !== undefined && claimed !== bodyHash) return 'InvalidSignatureException (body hash)';
    // Only the signed headers, X-Amz-Date among them (aws4 then signs for that time). The
    // payload hash comes from X-Amz-Content-Sha256 when sent (checked against the body above).
    const headers: Record<string, string> = {};
    for (const name of m[5]!.split(';')) headers[name] = String(req.headers[name] ?? '');
    const signed = aws4.sign(
      { host: headers.host, path: req.path + (req.query.toString() ? `?${req.query}` : ''), method: req.method, service: 'logs', region: o.region, headers, ...(claimed === undefined ? { body: req.raw } : {}) },
      { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, ...(o.sessionToken !== undefined ? { sessionToken: o.sessionToken } : {}) },
    );
    const expected = String((signed.headers as Record<string, string>).Authorization ?? (signed.headers as Record<string, string>).authorization);
    return expected === auth ? undefined : 'InvalidSignatureException';
  };

  const core = await startReceiverCore(
    (req, violation) => {
      const bad = verify(req);
      if (bad !== undefined) {
        violation(`signature check failed: ${bad} (${String(req.headers['x-amz-target'])}, ${req.raw.length} bytes, content-length ${String(req.headers['content-length'])})`);
        return bad.startsWith('InvalidSignatureException')
          ? fail('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.', 403)
          : fail(bad, 'The security token included in the request is invalid.', 400);
      }
      if (req.method !== 'POST' || req.path !== '/') violation('unexpected method or path');
      if (req.headers['content-type'] !== 'application/x-amz-json-1.1') violation(`content-type ${req.headers['content-type']}`);
      const target = String(req.headers['x-amz-target'] ?? '');
      if (!target.startsWith('Logs_20140328.')) return fail('UnknownOperationException', 'Unknown operation');
      const action = target.slice('Logs_20140328.'.length);
      actions.push(action);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(req.raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        violation('body is not JSON');
        return fail('SerializationException', 'Start of structure or map found where not expected.');
      }
      const group = String(body.logGroupName ?? '');
      switch (action) {
        case 'DescribeLogGroups':
          return { status: 200, body: JSON.stringify({ logGroups: [...groups.keys()].filter((g) => g.startsWith(String(body.logGroupNamePrefix ?? ''))).map((g) => ({ logGroupName: g })) }) };
        case 'CreateLogGroup':
          if (groups.has(group)) return fail('ResourceAlreadyExistsException', 'The specified log group already exists');
          groups.set(group, new Map());
          return { status: 200, body: '' };
        case 'CreateLogStream': {
          const g = groups.get(group);
          if (g === undefined) return fail('ResourceNotFoundException', 'The specified log group does not exist.');
          const stream = String(body.logStreamName);
          if (g.has(stream)) return fail('ResourceAlreadyExistsException', 'The specified log stream already exists');
          if (stream.length > 512 || /[:*]/.test(stream)) return fail('InvalidParameterException', 'Invalid log stream name');
          g.set(stream, []);
          return { status: 200, body: '' };
        }
        case 'PutLogEvents': {
          const g = groups.get(group);
          if (g === undefined) return fail('ResourceNotFoundException', 'The specified log group does not exist.');
          const stream = g.get(String(body.logStreamName));
          if (stream === undefined) return fail('ResourceNotFoundException', 'The specified log stream does not exist.');
          const list = body.logEvents as Array<{ timestamp: number; message: string }>;
          if (!Array.isArray(list) || list.length === 0) return fail('InvalidParameterException', '1 validation error detected: Value null at \'logEvents\' failed to satisfy constraint: Member must not be null');
          if (list.length > 10_000) {
            violation(`${list.length} events > 10,000`);
            return fail('InvalidParameterException', 'Upload too large: too many log events in the batch');
          }
          let bytes = 0;
          for (let i = 0; i < list.length; i++) {
            const e = list[i]!;
            const size = Buffer.byteLength(e.message) + 26;
            bytes += size;
            if (size > 256 * 1024) {
              violation(`event ${i} is ${size} bytes > 256 KB`);
              return fail('InvalidParameterException', 'Log event too large');
            }
            if (i > 0 && e.timestamp < list[i - 1]!.timestamp) {
              violation(`event ${i} out of order`);
              return fail('InvalidParameterException', 'Log events in a single PutLogEvents request must be in chronological order.');
            }
          }
          if (bytes > 1_048_576) {
            violation(`${bytes} bytes > 1,048,576`);
            return fail('InvalidParameterException', 'Upload too large: 1048577 bytes exceeds limit of 1048576');
          }
          if (list[list.length - 1]!.timestamp - list[0]!.timestamp > 24 * 3600_000) {
            violation('events span more than 24 h');
            return fail('InvalidParameterException', 'The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');
          }
          const t = now();
          let tooOldEnd = -1;
          let tooNewStart: number | undefined;
          for (let i = 0; i < list.length; i++) {
            const e = list[i]!;
            if (e.timestamp < t - retentionMs) {
              tooOldEnd = i;
              continue;
            }
            if (e.timestamp > t + 2 * 3600_000) {
              tooNewStart ??= i;
              continue;
            }
            const stored = { group, stream: String(body.logStreamName), timestamp: e.timestamp, message: e.message };
            stream.push(stored);
            events.push(stored);
          }
          const info: Record<string, number> = {};
          if (tooOldEnd >= 0) info.tooOldLogEventEndIndex = tooOldEnd;
          if (tooNewStart !== undefined) info.tooNewLogEventStartIndex = tooNewStart;
          state.rejected += (tooOldEnd + 1) + (tooNewStart === undefined ? 0 : list.length - tooNewStart);
          return { status: 200, body: JSON.stringify({ nextSequenceToken: '49039859', ...(Object.keys(info).length > 0 ? { rejectedLogEventsInfo: info } : {}) }) };
        }
        default:
          return fail('UnknownOperationException', `Unknown operation ${action}`);
      }
    },
    (status, retryAfter) => {
      const [type, message] =
        status === 429 ? ['ThrottlingException', 'Rate exceeded']
        : status === 413 ? ['RequestEntityTooLargeException', 'Request Entity Too Large']
        : status === 403 ? ['AccessDeniedException', 'User is not authorized to perform: logs:PutLogEvents']
        : status >= 500 ? ['ServiceUnavailableException', 'The service cannot complete the request.']
        : ['InvalidParameterException', 'Invalid parameter'];
      return { ...fail(type!, message!, status), headers: retryAfterHeader(retryAfter) };
    },
    { failOnly: (r) => String(r.headers['x-amz-target']).endsWith('.PutLogEvents') },
  );
  return {
    ...core,
    groups,
    events,
    actions,
    entries: () => events.map((e) => JSON.parse(e.message) as Record<string, unknown>),
    get rejected() {
      return state.rejected;
    },
  };
}
