// Reads Loki's native push (snappy block format around a logproto.PushRequest) for tests:
// a small protobuf reader of just the messages a push holds, strict about what it meets,
// and a parser of the Prometheus label text a stream carries. Hand-written, like the writer,
// so the two only agree when both follow the schema.
import { createRequire } from 'node:module';

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

class Reader {
  readonly buf: Buffer;
  readonly end: number;
  pos: number;
  constructor(buf: Buffer, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.pos >= this.end) throw new Error('protobuf: varint runs past its message');
      if (shift > 63n) throw new Error('protobuf: varint longer than 10 bytes');
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
    }
  }

  /** A length-delimited field's bounds; the reader moves past it. */
  bytes(): [number, number] {
    const n = Number(this.varint());
    const start = this.pos;
    if (start + n > this.end) throw new Error(`protobuf: field of ${n} bytes runs past its message`);
    this.pos += n;
    return [start, start + n];
  }

  string(): string {
    const [s, e] = this.bytes();
    return new TextDecoder('utf-8', { fatal: true }).decode(this.buf.subarray(s, e));
  }

  /** The next tag as [field, wire type]. */
  tag(): [number, number] {
    const t = Number(this.varint());
    return [t >>> 3, t & 7];
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new Error(`protobuf: wire type ${wire} not expected`);
  }
}

function expectWire(field: number, wire: number, want: number, where: string): void {
  if (wire !== want) throw new Error(`protobuf: ${where} field ${field} has wire type ${wire}, expected ${want}`);
}

/** An uncompressed PushRequest. Unknown fields are skipped, as protobuf readers do. */
export function decodePushRequest(body: Buffer): DecodedStream[] {
  const streams: DecodedStream[] = [];
  const r = new Reader(body, 0, body.length);
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field !== 1) {
      r.skip(wire);
      continue;
    }
    expectWire(field, wire, 2, 'PushRequest');
    const [s, e] = r.bytes();
    streams.push(decodeStream(new Reader(body, s, e)));
  }
  return streams;
}

function decodeStream(r: Reader): DecodedStream {
  let labelText = '';
  const entries: DecodedEntry[] = [];
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1) {
      expectWire(field, wire, 2, 'StreamAdapter');
      labelText = r.string();
    } else if (field === 2) {
      expectWire(field, wire, 2, 'StreamAdapter');
      const [s, e] = r.bytes();
      entries.push(decodeEntry(new Reader(r.buf, s, e)));
    } else {
      r.skip(wire);
    }
  }
  return { labelText, labels: parseLabelText(labelText), entries };
}

function decodeEntry(r: Reader): DecodedEntry {
  let seconds = 0n;
  let nanos = 0;
  let line = '';
  let metadata: Array<readonly [string, string]> | undefined;
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1) {
      expectWire(field, wire, 2, 'EntryAdapter');
      const [s, e] = r.bytes();
      const t = new Reader(r.buf, s, e);
      while (!t.done) {
        const [f, w] = t.tag();
        if (f === 1) {
          expectWire(f, w, 0, 'Timestamp');
          seconds = BigInt.asIntN(64, t.varint());
        } else if (f === 2) {
          expectWire(f, w, 0, 'Timestamp');
          nanos = Number(BigInt.asIntN(32, t.varint()));
        } else {
          t.skip(w);
        }
      }
    } else if (field === 2) {
      expectWire(field, wire, 2, 'EntryAdapter');
      line = r.string();
    } else if (field === 3) {
      expectWire(field, wire, 2, 'EntryAdapter');
      const [s, e] = r.bytes();
      const p = new Reader(r.buf, s, e);
      let name = '';
      let value = '';
      while (!p.done) {
        const [f, w] = p.tag();
        if (f === 1) {
          expectWire(f, w, 2, 'LabelPairAdapter');
          name = p.string();
        } else if (f === 2) {
          expectWire(f, w, 2, 'LabelPairAdapter');
          value = p.string();
        } else {
          p.skip(w);
        }
      }
      (metadata ??= []).push([name, value]);
    } else {
      r.skip(wire);
    }
  }
  if (nanos < 0 || nanos > 999_999_999) throw new Error(`protobuf: Timestamp.nanos ${nanos} out of range`);
  return { ts: (seconds * 1_000_000_000n + BigInt(nanos)).toString(), seconds, nanos, line, metadata };
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
