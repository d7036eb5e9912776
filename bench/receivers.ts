// Null receivers for the benchmark: they decode and count what the agent delivers without
// keeping it, so their memory stays flat however much is shipped. In latency mode they
// also read each entry's timestamp (the publisher stamps it with the publish time) and
// record publish → arrival latency.
//   HTTP:  gunzip, count NDJSON lines.
//   Loki:  gunzip, JSON.parse the push, count values (the timestamp is each value's first item);
//          or, for a protobuf push, snappy-uncompress it and walk its entries' timestamps in place.
//   S3:    a proxy in front of s3rver that forwards everything and, for each stored object
//          (PUT answered 2xx), decompresses the body (gzip or zstd) and counts its lines.
import { Agent as HttpAgent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { gunzip as gunzipCallback, zstdDecompress as zstdDecompressCallback } from 'node:zlib';

const gunzip = promisify(gunzipCallback);
const zstdDecompress = promisify(zstdDecompressCallback);
const NEWLINE = 0x0a;
const TIMESTAMP_KEY = Buffer.from('"timestamp":"', 'latin1');
// A line the publisher stamped ends `"timestamp":"2026-11-26T20:34:37.000412877Z"}`.
const STAMP_TAIL = 32;

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Fractional ms since the epoch of an RFC3339 UTC timestamp with up to 9 fractional digits. */
export function timestampMs(ts: string): number {
  const dot = ts.indexOf('.', 19);
  if (dot !== 19) return Date.parse(ts);
  const whole = Date.parse(`${ts.slice(0, 19)}Z`);
  const digits = ts.slice(20, ts.length - 1);
  return whole + Number(`0.${digits}`) * 1000;
}

/** Latency histogram with 1 ms buckets up to 10 minutes: exact enough, constant memory. */
export class LatencyHistogram {
  readonly #buckets = new Uint32Array(600_001);
  count = 0;
  max = 0;
  min = Number.POSITIVE_INFINITY;

  add(ms: number): void {
    const b = ms <= 0 ? 0 : Math.min(this.#buckets.length - 1, Math.round(ms));
    this.#buckets[b]!++;
    this.count++;
    if (ms > this.max) this.max = ms;
    if (ms < this.min) this.min = ms;
  }

  /** The p-th percentile (0..100) in ms, or NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= rank) return i;
    }
    return this.#buckets.length - 1;
  }
}

/** What a receiver has counted since the last reset. */
export class Delivery {
  entries = 0;
  bodies = 0;
  compressedBytes = 0;
  decodedBytes = 0;
  /** Arrival time of the latest counted body (ms since epoch, fractional). */
  lastAt = 0;
  /** Bodies that could not be decoded (answered 400; the agent will say what it did with them). */
  errors = 0;
  latency: LatencyHistogram | undefined;
  /** Entries whose timestamp could not be read (latency mode only). */
  unstamped = 0;

  reset(trackLatency: boolean): void {
    this.entries = 0;
    this.bodies = 0;
    this.compressedBytes = 0;
    this.decodedBytes = 0;
    this.lastAt = 0;
    this.errors = 0;
    this.unstamped = 0;
    this.latency = trackLatency ? new LatencyHistogram() : undefined;
  }
}

export interface Receiver {
  /** Where the agent points: base URL (HTTP sink: full URL; Loki: base; S3: endpoint). */
  readonly url: string;
  readonly delivery: Delivery;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** A zstd frame starts with the magic number 0xFD2FB528 (little endian). */
function isZstd(b: Buffer): boolean {
  return b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528;
}

/** A stored object's NDJSON, whatever S3_COMPRESSION made it: gzip, zstd or plain. */
function decodeObject(raw: Buffer): Promise<Buffer> {
  if (isGzip(raw)) return gunzip(raw);
  if (isZstd(raw)) return zstdDecompress(raw);
  return Promise.resolve(raw);
}

/** Counts NDJSON lines; with a histogram, records each line's publish → `arrivedAt` latency. */
function countLines(body: Buffer, delivery: Delivery, arrivedAt: number): void {
  const latency = delivery.latency;
  let start = 0;
  let lines = 0;
  while (start < body.length) {
    let end = body.indexOf(NEWLINE, start);
    if (end < 0) end = body.length;
    if (end > start) {
      lines++;
      if (latency !== undefined) {
        const ts = lineTimestamp(body, start, end);
        if (ts === undefined) delivery.unstamped++;
        else latency.add(arrivedAt - timestampMs(ts));
      }
    }
    start = end + 1;
  }
  delivery.entries += lines;
}

function lineTimestamp(body: Buffer, start: number, end: number): string | undefined {
  const keyAt = end - STAMP_TAIL - TIMESTAMP_KEY.length;
  if (keyAt >= start && body.compare(TIMESTAMP_KEY, 0, TIMESTAMP_KEY.length, keyAt, end - STAMP_TAIL) === 0) {
    return body.toString('latin1', end - STAMP_TAIL, end - 2);
  }
  // Not in the publisher's layout (the agent rewrote the line): read it properly.
  try {
    const v = JSON.parse(body.toString('utf8', start, end)) as { timestamp?: unknown };
    return typeof v.timestamp === 'string' ? v.timestamp : undefined;
  } catch {
    return undefined;
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function answer(res: ServerResponse, status: number, body = ''): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The HTTP sink's destination: any path, NDJSON, gzip or plain. */
export async function startNullHttpReceiver(): Promise<Receiver> {
  const delivery = new Delivery();
  delivery.reset(false);
  const server = createServer((req, res) => {
    readBody(req)
      .then(async (raw) => {
        const arrivedAt = nowMs();
        const body = req.headers['content-encoding'] === 'gzip' ? await gunzip(raw) : raw;
        countLines(body, delivery, arrivedAt);
        delivery.bodies++;
        delivery.compressedBytes += raw.length;
        delivery.decodedBytes += body.length;
        delivery.lastAt = arrivedAt;
        answer(res, 200);
      })
      .catch((error: unknown) => {
        delivery.errors++;
        answer(res, 400, String(error));
      });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/ingest`, delivery, close: () => closeServer(server) };
}

const snappy = createRequire(import.meta.url)('snappy') as { uncompressSync(input: Buffer, options?: { asBuffer?: boolean; copyOutputData?: boolean }): Buffer | string };

// A varint read by pushEntries: its value, and the index after it.
let varintValue = 0;
function readVarint(b: Buffer, pos: number): number {
  let v = 0;
  let scale = 1;
  for (;;) {
    const c = b[pos++]!;
    v += (c & 0x7f) * scale;
    if (c < 0x80) break;
    scale *= 128;
  }
  varintValue = v;
  return pos;
}

/**
 * Counts the entries of an uncompressed logproto.PushRequest, recording each one's publish →
 * `arrivedAt` latency from its Timestamp; reads the fields in place, decodes nothing else.
 */
function countProtobufEntries(b: Buffer, delivery: Delivery, arrivedAt: number): number {
  const latency = delivery.latency;
  let n = 0;
  let pos = 0;
  while (pos < b.length) {
    const tag = b[pos++]!;
    pos = readVarint(b, pos);
    const streamEnd = pos + varintValue;
    if (tag !== 0x0a) {
      pos = streamEnd;
      continue;
    }
    while (pos < streamEnd) {
      const field = b[pos++]!;
      pos = readVarint(b, pos);
      const end = pos + varintValue;
      if (field === 0x12) {
        n++;
        if (latency !== undefined) latency.add(arrivedAt - entryMs(b, pos, end));
      }
      pos = end;
    }
  }
  return n;
}

/** An EntryAdapter's Timestamp as ms since the epoch (its first field). */
function entryMs(b: Buffer, pos: number, end: number): number {
  let secs = 0;
  let nanos = 0;
  while (pos < end) {
    const field = b[pos++]!;
    pos = readVarint(b, pos);
    if (field !== 0x0a) {
      pos += varintValue;
      continue;
    }
    const tsEnd = pos + varintValue;
    while (pos < tsEnd) {
      const t = b[pos++]!;
      pos = readVarint(b, pos);
      if (t === 0x08) secs = varintValue;
      else if (t === 0x10) nanos = varintValue;
    }
    break;
  }
  return secs * 1000 + nanos / 1e6;
}

interface LokiPushBody {
  streams?: Array<{ values?: Array<[string, string, unknown?]> }>;
}

/** A Loki push endpoint that counts values: `/ready` and `POST /loki/api/v1/push`. */
export async function startNullLokiReceiver(): Promise<Receiver> {
  const delivery = new Delivery();
  delivery.reset(false);
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/ready') return answer(res, 200, 'ready');
    if (req.method !== 'POST' || path !== '/loki/api/v1/push') {
      req.resume();
      return answer(res, 404, '404 page not found');
    }
    readBody(req)
      .then(async (raw) => {
        const arrivedAt = nowMs();
        let body: Buffer;
        let n = 0;
        if (req.headers['content-type'] === 'application/x-protobuf') {
          const out = snappy.uncompressSync(raw, { asBuffer: true, copyOutputData: true });
          body = typeof out === 'string' ? Buffer.from(out) : out;
          n = countProtobufEntries(body, delivery, arrivedAt);
        } else {
          body = req.headers['content-encoding'] === 'gzip' ? await gunzip(raw) : raw;
          const push = JSON.parse(body.toString('utf8')) as LokiPushBody;
          const latency = delivery.latency;
          for (const stream of push.streams ?? []) {
            const values = stream.values ?? [];
            n += values.length;
            if (latency !== undefined) {
              for (const v of values) {
                const ns = v[0];
                latency.add(arrivedAt - (Number(ns.slice(0, -6)) + Number(ns.slice(-6)) / 1e6));
              }
            }
          }
        }
        delivery.entries += n;
        delivery.bodies++;
        delivery.compressedBytes += raw.length;
        delivery.decodedBytes += body.length;
        delivery.lastAt = arrivedAt;
        res.writeHead(204);
        res.end();
      })
      .catch((error: unknown) => {
        delivery.errors++;
        answer(res, 400, String(error));
      });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, delivery, close: () => closeServer(server) };
}

/** Forwards to `upstream` (s3rver) and counts the lines of every object stored. */
export async function startCountingS3Proxy(upstream: string): Promise<Receiver> {
  const target = new URL(upstream);
  const delivery = new Delivery();
  delivery.reset(false);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const server = createServer((req, res) => {
    readBody(req)
      .then(
        (raw) =>
          new Promise<void>((resolve, reject) => {
            const arrivedAt = nowMs();
            const forward = request(
              { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
              (up) => {
                const status = up.statusCode ?? 502;
                // Only `PUT /<bucket>/<key>` stores an object.
                const isObjectPut = req.method === 'PUT' && /^\/[^/?]+\/[^?]+/.test(req.url ?? '');
                const counted =
                  isObjectPut && status >= 200 && status < 300
                    ? decodeObject(raw).then((body) => {
                        countLines(body, delivery, arrivedAt);
                        delivery.bodies++;
                        delivery.compressedBytes += raw.length;
                        delivery.decodedBytes += body.length;
                        delivery.lastAt = arrivedAt;
                      })
                    : Promise.resolve();
                counted
                  .then(() => {
                    res.writeHead(status, up.headers);
                    up.pipe(res);
                    up.on('end', resolve);
                  })
                  .catch(reject);
              },
            );
            forward.on('error', reject);
            forward.end(raw);
          }),
      )
      .catch((error: unknown) => {
        delivery.errors++;
        if (!res.headersSent) answer(res, 502, String(error));
        else res.destroy();
      });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    delivery,
    async close() {
      await closeServer(server);
      agent.destroy();
    },
  };
}
