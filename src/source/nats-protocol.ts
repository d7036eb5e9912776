// Incremental reader for the server-to-client half of the core NATS protocol: bytes in,
// callbacks out, no I/O. Built for one subscriber taking tens of thousands of messages a
// second: a payload that lies inside the chunk is handed over as (chunk, start, end)
// without a copy, only a payload that straddles chunks is assembled, and the one
// per-message allocation is the subject string, reused while the subject bytes repeat.
import { LogferryError } from '../errors.js';

/** The byte stream is not NATS (or is corrupt); nothing after it can be trusted. */
export class NatsProtocolError extends LogferryError {
  constructor(message: string) {
    super('NATS_PROTOCOL', message);
  }
}

/** The fields of a server INFO the client reads; the server sends more. */
export interface ServerInfo {
  readonly server_id?: string;
  readonly version?: string;
  readonly tls_required?: boolean;
  readonly tls_available?: boolean;
  readonly auth_required?: boolean;
  readonly max_payload?: number;
  readonly ldm?: boolean;
  readonly [field: string]: unknown;
}

export interface ProtocolHandler {
  /**
   * One MSG. The payload is buf[start, end), valid only during the call. `sid` is the
   * subscription id, or -1 when it is not a decimal number (so not one the client made).
   */
  msg(subject: string, sid: number, buf: Buffer, start: number, end: number): void;
  info(info: ServerInfo): void;
  ping(): void;
  pong(): void;
  ok(): void;
  /** `-ERR '<message>'`, quotes removed. */
  err(message: string): void;
  /** Called once; the reader ignores every byte after it. */
  protocolError(error: NatsProtocolError): void;
}

/** Larger than any payload a NATS server allows (its max_payload is at most 64 MiB). */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** An INFO listing a big cluster is a few KiB; a line this long is garbage. */
export const MAX_CONTROL_LINE_BYTES = 1024 * 1024;
/** Straddling payloads up to this size are assembled in one reused buffer; bigger ones get their own. */
const KEEP_ASSEMBLY_BYTES = 1024 * 1024;

const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;

// #parseLine's results other than a MSG's payload size.
const NOT_MSG = -1;
const FAILED = -2;

function isSpace(c: number | undefined): boolean {
  return c === SPACE || c === TAB;
}

/**
 * Where the operation `op` (lower case) ends when the line starts with it, case-insensitively
 * and followed by whitespace or the end; -1 otherwise.
 */
function matchOp(buf: Buffer, start: number, stop: number, op: string): number {
  const n = op.length;
  if (stop - start < n) return -1;
  for (let i = 0; i < n; i++) {
    const b = buf[start + i]!;
    const c = op.charCodeAt(i);
    if (b !== c && !(c >= 0x61 && c <= 0x7a && b === c - 0x20)) return -1;
  }
  const after = start + n;
  return after === stop || isSpace(buf[after]) ? after : -1;
}

function onlySpace(buf: Buffer, start: number, stop: number): boolean {
  for (let i = start; i < stop; i++) if (!isSpace(buf[i])) return false;
  return true;
}

/** The start of a bad line, printable, for the error message. */
function excerpt(buf: Buffer, start: number, stop: number): string {
  const shown = buf.toString('latin1', start, Math.min(stop, start + 60)).replace(/[^\x20-\x7e]/g, '.');
  return stop - start > 60 ? `${shown}…` : shown;
}

// Subjects remembered (a power of two: one per app instance, an org has hundreds), slots
// tried per subject, and the longest subject worth remembering.
const SUBJECT_SLOTS = 1024;
const SUBJECT_PROBES = 4;
const MAX_REMEMBERED_SUBJECT = 256;

export class ProtocolReader {
  readonly #handler: ProtocolHandler;
  #stopped = false;
  /** A control line split across chunks, gathered here until its LF arrives. */
  #line = Buffer.allocUnsafe(4096);
  #lineLen = 0;
  /** The MSG being read: its subject, sid, and (when it straddles chunks) the bytes so far. */
  #msgSubject = '';
  #msgSid = -1;
  #msgSize = 0;
  #assembly: Buffer = Buffer.alloc(0);
  #kept: Buffer = Buffer.alloc(0);
  #filled = 0;
  /** Payload bytes of a straddling MSG still to come; > 0 only while assembling. */
  #need = 0;
  /** Bytes of the CRLF after a payload still to come (0, 1 or 2). */
  #crlfLeft = 0;
  /** The previous subject's bytes (an entry of #recentBytes, none when too long to remember) and string: consecutive messages often share one. */
  #subjectBytes: Buffer | undefined;
  #subject = '';
  /**
   * Recent subjects by a hash of their bytes (one string per app instance, not per message):
   * the stream interleaves instances, and a fresh string per message was most of the
   * agent's young-generation garbage.
   */
  readonly #recentBytes: Array<Buffer | undefined> = new Array<Buffer | undefined>(SUBJECT_SLOTS).fill(undefined);
  readonly #recentStrings: string[] = new Array<string>(SUBJECT_SLOTS).fill('');

  constructor(handler: ProtocolHandler) {
    this.#handler = handler;
  }

  /** True after a protocol error or stop(): the reader ignores further bytes. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Ignore everything from now on, even the rest of the chunk being read (the connection is going away). */
  stop(): void {
    this.#stopped = true;
  }

  /** Reads one chunk; callbacks run synchronously, in stream order. */
  push(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    while (pos < len && !this.#stopped) {
      if (this.#need > 0) {
        pos = this.#fillPayload(chunk, pos);
        continue;
      }
      if (this.#crlfLeft > 0) {
        pos = this.#expectCrlf(chunk, pos);
        continue;
      }
      if (this.#lineLen > 0) {
        pos = this.#finishLine(chunk, pos);
        continue;
      }
      // The common case: the whole control line is in this chunk.
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) {
        this.#keepLine(chunk, pos, len);
        return;
      }
      const size = this.#parseLine(chunk, pos, lf + 1);
      pos = lf + 1;
      if (size >= 0) pos = this.#payloadFrom(chunk, pos, size);
    }
  }

  /** A control line's first bytes: keep them until the rest arrives. */
  #keepLine(chunk: Buffer, start: number, end: number): void {
    const total = this.#lineLen + (end - start);
    if (total > MAX_CONTROL_LINE_BYTES) {
      this.#fail(`control line longer than ${MAX_CONTROL_LINE_BYTES} bytes`);
      return;
    }
    if (total > this.#line.length) {
      const grown = Buffer.allocUnsafe(Math.max(total, this.#line.length * 2));
      this.#line.copy(grown, 0, 0, this.#lineLen);
      this.#line = grown;
    }
    chunk.copy(this.#line, this.#lineLen, start, end);
    this.#lineLen = total;
  }

  /** Completes a control line begun in an earlier chunk. */
  #finishLine(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(LF, pos);
    const end = lf === -1 ? chunk.length : lf + 1;
    this.#keepLine(chunk, pos, end);
    if (this.#stopped || lf === -1) return chunk.length;
    const lineLen = this.#lineLen;
    this.#lineLen = 0;
    const size = this.#parseLine(this.#line, 0, lineLen);
    if (this.#line.length > 64 * 1024) this.#line = Buffer.allocUnsafe(4096); // a huge INFO need not stay resident
    return size >= 0 ? this.#payloadFrom(chunk, end, size) : end;
  }

  /** The payload of the MSG just parsed starts at `pos`. */
  #payloadFrom(chunk: Buffer, pos: number, size: number): number {
    const len = chunk.length;
    if (len - pos >= size) {
      const end = pos + size;
      this.#crlfLeft = 2;
      this.#handler.msg(this.#msgSubject, this.#msgSid, chunk, pos, end);
      if (end + 2 <= len) {
        if (chunk[end] === CR && chunk[end + 1] === LF) {
          this.#crlfLeft = 0;
          return end + 2;
        }
        this.#failPayloadEnd();
        return len;
      }
      return end;
    }
    // Straddles chunks: assemble, in the reused buffer when it is not too big to keep.
    if (size <= KEEP_ASSEMBLY_BYTES) {
      if (this.#kept.length < size) this.#kept = Buffer.allocUnsafe(Math.min(KEEP_ASSEMBLY_BYTES, Math.max(size, 64 * 1024, this.#kept.length * 2)));
      this.#assembly = this.#kept;
    } else {
      this.#assembly = Buffer.allocUnsafe(size);
    }
    const have = len - pos;
    chunk.copy(this.#assembly, 0, pos, len);
    this.#filled = have;
    this.#need = size - have;
    return len;
  }

  #fillPayload(chunk: Buffer, pos: number): number {
    const take = Math.min(this.#need, chunk.length - pos);
    chunk.copy(this.#assembly, this.#filled, pos, pos + take);
    this.#filled += take;
    this.#need -= take;
    if (this.#need === 0) {
      const assembled = this.#assembly;
      this.#assembly = this.#kept;
      this.#crlfLeft = 2;
      this.#handler.msg(this.#msgSubject, this.#msgSid, assembled, 0, this.#filled);
    }
    return pos + take;
  }

  #expectCrlf(chunk: Buffer, pos: number): number {
    const expected = this.#crlfLeft === 2 ? CR : LF;
    if (chunk[pos] !== expected) {
      this.#failPayloadEnd();
      return chunk.length;
    }
    this.#crlfLeft--;
    return pos + 1;
  }

  /**
   * One control line, buf[start, end) with end just past its LF. Returns the payload size
   * for a MSG (its subject and sid are left in #msgSubject/#msgSid), else NOT_MSG or FAILED.
   */
  #parseLine(buf: Buffer, start: number, end: number): number {
    if (end - start > MAX_CONTROL_LINE_BYTES) return this.#fail(`control line longer than ${MAX_CONTROL_LINE_BYTES} bytes`);
    if (end - start < 2 || buf[end - 2] !== CR) return this.#fail('control line not ended by CRLF', excerpt(buf, start, end - 1));
    const stop = end - 2;
    const first = buf[start]! | 0x20;
    let after: number;
    if (first === 0x6d /* m */ && (after = matchOp(buf, start, stop, 'msg')) !== -1) return this.#parseMsg(buf, after, start, stop);
    if (first === 0x70 /* p */) {
      if ((after = matchOp(buf, start, stop, 'ping')) !== -1 && onlySpace(buf, after, stop)) {
        this.#handler.ping();
        return NOT_MSG;
      }
      if ((after = matchOp(buf, start, stop, 'pong')) !== -1 && onlySpace(buf, after, stop)) {
        this.#handler.pong();
        return NOT_MSG;
      }
    } else if (first === 0x2b /* + */) {
      if ((after = matchOp(buf, start, stop, '+ok')) !== -1 && onlySpace(buf, after, stop)) {
        this.#handler.ok();
        return NOT_MSG;
      }
    } else if (first === 0x2d /* - */) {
      if ((after = matchOp(buf, start, stop, '-err')) !== -1) {
        const message = buf.toString('utf8', after, stop).trim().replace(/^'(.*)'$/s, '$1');
        this.#handler.err(message);
        return NOT_MSG;
      }
    } else if (first === 0x69 /* i */) {
      if ((after = matchOp(buf, start, stop, 'info')) !== -1) return this.#parseInfo(buf, after, start, stop);
    }
    return this.#fail('unknown or malformed protocol line', excerpt(buf, start, stop));
  }

  /** `MSG <subject> <sid> [reply-to] <#bytes>`, from just after "MSG". The hottest code in the agent. */
  #parseMsg(buf: Buffer, i: number, lineStart: number, stop: number): number {
    while (i < stop && isSpace(buf[i])) i++;
    // Subjects repeat (one per instance): first check for the previous one, a tight compare.
    const s = i;
    const cached = this.#subjectBytes;
    const cachedLen = cached === undefined ? 0 : cached.length;
    let hit = cachedLen > 0 && s + cachedLen < stop && isSpace(buf[s + cachedLen]);
    for (let k = 0; hit && k < cachedLen; k++) if (buf[s + k] !== cached![k]) hit = false;
    if (hit) i = s + cachedLen;
    else {
      // The subject's end and its hash in one pass.
      let h = 0;
      for (; i < stop; i++) {
        const c = buf[i]!;
        if (isSpace(c)) break;
        h = (Math.imul(h, 31) + c) | 0;
      }
      if (i === s) return this.#fail('malformed MSG line', excerpt(buf, lineStart, stop));
      this.#subject = this.#recentSubject(buf, s, i, h);
    }
    // The sid: ours are decimal; anything else is -1.
    while (i < stop && isSpace(buf[i])) i++;
    const sidStart = i;
    let sid = 0;
    for (; i < stop; i++) {
      const c = buf[i]!;
      if (c === SPACE || c === TAB) break;
      const d = c - 48;
      sid = d >= 0 && d <= 9 && sid >= 0 ? sid * 10 + d : -1;
    }
    if (i === sidStart) return this.#fail('malformed MSG line', excerpt(buf, lineStart, stop));
    if (i - sidStart > 15) sid = -1;
    // The size, or a reply-to and then the size.
    let size = 0;
    let sizeLen = 0;
    let numeric = true;
    for (let field = 0; ; field++) {
      while (i < stop && isSpace(buf[i])) i++;
      if (i === stop) break;
      if (field === 2) return this.#fail('malformed MSG line', excerpt(buf, lineStart, stop));
      const f = i;
      size = 0;
      numeric = true;
      for (; i < stop; i++) {
        const c = buf[i]!;
        if (c === SPACE || c === TAB) break;
        const d = c - 48;
        if (d >= 0 && d <= 9) size = size * 10 + d;
        else numeric = false;
      }
      sizeLen = i - f;
    }
    if (sizeLen === 0) return this.#fail('malformed MSG line', excerpt(buf, lineStart, stop));
    if (!numeric) return this.#fail('MSG size is not a number', excerpt(buf, lineStart, stop));
    if (sizeLen > 9 || size > MAX_PAYLOAD_BYTES) return this.#fail(`MSG payload size over ${MAX_PAYLOAD_BYTES} bytes`, excerpt(buf, lineStart, stop));
    this.#msgSubject = this.#subject;
    this.#msgSid = sid;
    this.#msgSize = size;
    return size;
  }

  /**
   * The string of subject bytes `buf[s, e)` (`h`: their hash): a recent one's when the bytes
   * match, else decoded (and remembered when short enough). It becomes the previous subject.
   */
  #recentSubject(buf: Buffer, s: number, e: number, h: number): string {
    const home = (h ^ (h >>> 16)) & (SUBJECT_SLOTS - 1);
    // A few slots from the home one: two subjects sharing a slot would otherwise take turns
    // in it, each decoding and copying its subject per message.
    let free = -1;
    for (let p = 0; p < SUBJECT_PROBES; p++) {
      const slot = (home + p) & (SUBJECT_SLOTS - 1);
      const known = this.#recentBytes[slot];
      if (known === undefined) {
        free = slot;
        break;
      }
      if (known.length !== e - s) continue;
      let k = 0;
      while (k < known.length && known[k] === buf[s + k]) k++;
      if (k === known.length) {
        this.#subjectBytes = known;
        return this.#recentStrings[slot]!;
      }
    }
    const subject = buf.toString('latin1', s, e);
    if (e - s <= MAX_REMEMBERED_SUBJECT) {
      // All probed slots taken (hundreds of instances): the home slot's subject makes way.
      const slot = free >= 0 ? free : home;
      const bytes = Buffer.from(subject, 'latin1');
      this.#recentBytes[slot] = bytes;
      this.#recentStrings[slot] = subject;
      this.#subjectBytes = bytes;
    } else {
      this.#subjectBytes = undefined;
    }
    return subject;
  }

  #parseInfo(buf: Buffer, after: number, lineStart: number, stop: number): number {
    let info: unknown;
    try {
      info = JSON.parse(buf.toString('utf8', after, stop));
    } catch {
      return this.#fail('INFO is not JSON', excerpt(buf, lineStart, stop));
    }
    if (typeof info !== 'object' || info === null || Array.isArray(info)) return this.#fail('INFO is not a JSON object', excerpt(buf, lineStart, stop));
    this.#handler.info(info as ServerInfo);
    return NOT_MSG;
  }

  #failPayloadEnd(): void {
    this.#fail(`the ${this.#msgSize}-byte payload of a MSG on "${this.#msgSubject}" is not followed by CRLF (wrong size?)`);
  }

  /** Reports the error once and stops reading; `shown` is the offending line's start, when it helps. */
  #fail(what: string, shown?: string): number {
    if (this.#stopped) return FAILED;
    this.#stopped = true;
    this.#handler.protocolError(new NatsProtocolError(`NATS protocol error: ${what}${shown !== undefined ? `: "${shown}"` : ''}`));
    return FAILED;
  }
}
