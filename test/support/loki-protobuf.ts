// Reads Loki's native push for tests: snappy (block format) through the `snappy` package, the
// logproto.PushRequest inside through protobufjs against Loki's push.proto (loki-push.proto
// beside this file), and the Prometheus label text a stream carries.
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export interface DecodedEntry {
  /** Nanoseconds since the epoch as a decimal string (seconds * 1e9 + nanos), as the JSON push writes them. */
  readonly ts: string;
  readonly seconds: bigint;
  readonly nanos: number;
  readonly line: string;
  /** Structured metadata pairs in order; undefined when the entry has none. */
  readonly metadata: ReadonlyArray<readonly [string, string]> | undefined;
}

export interface DecodedStream {
  /** The label text as sent, e.g. `{fly_app_name="web", level="info"}`. */
  readonly labelText: string;
  /** Its pairs in order. */
  readonly labels: ReadonlyArray<readonly [string, string]>;
  readonly entries: DecodedEntry[];
}

const require = createRequire(import.meta.url);
const snappy = require('snappy') as { uncompressSync(input: Buffer, options?: { asBuffer?: boolean; copyOutputData?: boolean }): Buffer | string };

export function snappyUncompress(body: Buffer): Buffer {
  const out = snappy.uncompressSync(body, { asBuffer: true, copyOutputData: true });
  return typeof out === 'string' ? Buffer.from(out) : out;
}

// The schema, read once. protobufjs checks wire types and lengths as it decodes, and throws on
// a body that does not follow the schema (a truncated field, a wrong wire type).
const root = protobuf.parse(readFileSync(fileURLToPath(new URL('./loki-push.proto', import.meta.url)), 'utf8'), { keepCase: true }).root;
const PushRequest = root.lookupType('logproto.PushRequest');

interface DecodedPush {
  streams?: Array<{
    labels?: string;
    entries?: Array<{
      timestamp?: { seconds?: string | number; nanos?: number } | null;
      line?: string;
      structuredMetadata?: Array<{ name?: string; value?: string }>;
    }>;
  }>;
}

/** An uncompressed PushRequest, decoded with protobufjs against Loki's push.proto. */
export function decodePushRequest(body: Buffer): DecodedStream[] {
  // Strings must be valid UTF-8 (Go's protobuf refuses others); protobufjs would replace bad bytes silently.
  const message = PushRequest.decode(body);
  const push = PushRequest.toObject(message, { longs: String, defaults: false }) as unknown as DecodedPush;
  assertUtf8Strings(body);
  return (push.streams ?? []).map((stream) => {
    const labelText = stream.labels ?? '';
    const entries = (stream.entries ?? []).map((entry): DecodedEntry => {
      const seconds = BigInt(String(entry.timestamp?.seconds ?? 0));
      const nanos = entry.timestamp?.nanos ?? 0;
      if (nanos < 0 || nanos > 999_999_999) throw new Error(`protobuf: Timestamp.nanos ${nanos} out of range`);
      const pairs = entry.structuredMetadata ?? [];
      return {
        ts: (seconds * 1_000_000_000n + BigInt(nanos)).toString(),
        seconds,
        nanos,
        line: entry.line ?? '',
        metadata: pairs.length === 0 ? undefined : pairs.map((p) => [p.name ?? '', p.value ?? ''] as const),
      };
    });
    return { labelText, labels: parseLabelText(labelText), entries };
  });
}

/** Every string field of the body is valid UTF-8: walks the wire format with protobufjs's Reader. */
function assertUtf8Strings(body: Buffer): void {
  const walk = (start: number, end: number, depth: number): void => {
    const r = protobuf.Reader.create(body.subarray(start, end));
    while (r.pos < r.len) {
      const tag = r.uint32();
      const wire = tag & 7;
      if (wire !== 2) {
        r.skipType(wire);
        continue;
      }
      const length = r.uint32();
      const s = start + r.pos;
      r.skip(length);
      const field = tag >>> 3;
      // PushRequest.streams, StreamAdapter.entries, EntryAdapter.timestamp/structuredMetadata hold messages; the rest are strings.
      const isMessage = (depth === 0 && field === 1) || (depth === 1 && field === 2) || (depth === 2 && (field === 1 || field === 3 || field === 4));
      if (isMessage) walk(s, s + length, depth + 1);
      else if (!isUtf8(body.subarray(s, s + length))) throw new Error(`protobuf: string field ${field} at ${s} is not valid UTF-8`);
    }
  };
  walk(0, body.length, 0);
}

const NAME_START = /[a-zA-Z_]/;
const NAME_PART = /[a-zA-Z0-9_]/;
const GO_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', n: '\n', t: '\t', r: '\r' };

/** `{a="1", b="2"}` → [['a','1'], ['b','2']], strictly (Loki refuses a push whose labels do not parse). */
export function parseLabelText(text: string): Array<readonly [string, string]> {
  const fail = (why: string, at: number): never => {
    throw new Error(`labels ${JSON.stringify(text)}: ${why} at ${at}`);
  };
  const pairs: Array<readonly [string, string]> = [];
  let i = 0;
  if (text[i++] !== '{') fail('expected {', 0);
  if (text[i] === '}' && i === text.length - 1) return pairs;
  for (;;) {
    const nameStart = i;
    if (!NAME_START.test(text[i] ?? '')) fail('expected a label name', i);
    while (NAME_PART.test(text[i] ?? '')) i++;
    const name = text.slice(nameStart, i);
    if (text[i++] !== '=' || text[i++] !== '"') fail('expected ="', i);
    let value = '';
    for (;;) {
      const c = text[i++];
      if (c === undefined) fail('unterminated value', i);
      if (c === '"') break;
      if (c === '\\') {
        const x = GO_ESCAPES[text[i++] ?? ''];
        if (x === undefined) fail('unknown escape', i);
        value += x;
      } else {
        value += c;
      }
    }
    pairs.push([name, value]);
    if (text[i] === '}' && i === text.length - 1) return pairs;
    if (text[i++] !== ',' || text[i++] !== ' ') fail('expected ", "', i);
  }
}
