// The one byte-level JSON toolkit. scanJson validates a JSON object over UTF-8 bytes (RFC
// 8259 grammar, RFC 3629 UTF-8) and, in the same pass, finds the byte spans of the string
// fields a caller names in a FieldSchema (a tree of keys). The intake uses it to keep Fly's
// original line without building an object tree per message (JSON.parse costs ~4 µs and a
// tree of garbage per entry; this ~0.6 µs and nothing); sinks use it to read the fields they
// need from a batch's lines (Loki: labels, timestamp, message). It works on a range of a
// larger buffer (the NATS read buffer, a batch), so nothing is copied or allocated. Beside
// it: the few byte-level JSON string helpers sinks need (escape, canonical check, unescape).
/** Span start when the field is absent. */
export const ABSENT = -1;
/** Span start when the field is present but not a plain string (escapes, or another type): read it the slow way. */
export const NOT_PLAIN = -2;

export interface ScanResult {
  /** The bytes are one valid JSON object of valid UTF-8. */
  valid: boolean;
  /** Whitespace outside strings included CR or LF (pretty-printed): the line must be re-serialised. */
  multiline: boolean;
  /**
   * An object on the path has a wanted key twice (JSON.parse keeps the last) or a key with
   * escapes (it may spell a wanted one): the spans may not be what JSON.parse reads, so read
   * such a line the slow way.
   */
  ambiguous: boolean;
  /** Bit k: slot k (one the schema keeps escaped) is a string with escapes; its span is the raw content. */
  escaped: number;
}

/** Where the wanted fields are: `{ timestamp: 0, fly: { region: 1 } }` puts `timestamp` in slot 0 and `fly.region` in slot 1. */
export interface FieldTree {
  readonly [key: string]: number | FieldTree;
}

/**
 * A FieldTree compiled for the scan: each object on the path is a run of members (its wanted
 * keys) in flat arrays, each with the slot (a string field) or object (on the path) it leads
 * to. At most 31 keys in all (duplicates are tracked in one int32).
 */
export interface FieldSchema {
  /** Span slots (the spans array needs twice as many entries). */
  readonly slots: number;
  /** Per object: its members are `[first[o], first[o + 1])`. */
  readonly first: Int32Array;
  readonly key: readonly Uint8Array[];
  /** Per member: its slot, or -1 for an object on the path. */
  readonly slotOf: Int32Array;
  /** Per member: the object it opens, or -1 for a string field. */
  readonly childOf: Int32Array;
  /** Bit k: slot k keeps its span when the string has escapes (else it reads NOT_PLAIN). */
  readonly keepEscaped: number;
}

export function fieldSchema(tree: FieldTree, keepEscaped: readonly number[] = []): FieldSchema {
  // Objects in breadth-first order, so each one's members are one run.
  const objects: FieldTree[] = [tree];
  const first: number[] = [];
  const key: Uint8Array[] = [];
  const slotOf: number[] = [];
  const childOf: number[] = [];
  let slots = 0;
  for (let o = 0; o < objects.length; o++) {
    first.push(key.length);
    const t = objects[o]!;
    for (const name of Object.keys(t)) {
      const v = t[name]!;
      key.push(utf8.encode(name));
      if (typeof v === 'number') {
        slotOf.push(v);
        childOf.push(-1);
        slots = Math.max(slots, v + 1);
      } else {
        slotOf.push(-1);
        childOf.push(objects.length);
        objects.push(v);
      }
    }
  }
  first.push(key.length);
  if (key.length > 31) throw new Error('fieldSchema: more than 31 keys');
  let mask = 0;
  for (const k of keepEscaped) mask |= 1 << k;
  return { slots, first: Int32Array.from(first), key, slotOf: Int32Array.from(slotOf), childOf: Int32Array.from(childOf), keepEscaped: mask };
}

const utf8 = new TextEncoder();

// Where a container sits: the schema object it is, or PATH_OTHER off the path.
const PATH_OTHER = -1;

const MAX_DEPTH = 128;
const MAX_SCAN_OFFSET = 0x7fffffff;
const containerIsObject = new Uint8Array(MAX_DEPTH);
const containerPath = new Int8Array(MAX_DEPTH);

/** `b[start, end)` is exactly `key`'s bytes. */
export function keyIs(b: Uint8Array, start: number, end: number, key: Uint8Array): boolean {
  if (end - start !== key.length) return false;
  for (let k = 0; k < key.length; k++) if (b[start + k] !== key[k]) return false;
  return true;
}

/** JSON whitespace; one compare for the usual byte (nothing at or below a space is JSON but whitespace). */
function isWhitespace(c: number): boolean {
  return c <= 32 && (c === 32 || c === 9 || c === 10 || c === 13);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

// Scratch state of the string just scanned (module-level: the scanner is not re-entrant and needs no allocation).
let stringEnd = 0;
let stringPlain = true;

// What a byte inside a string is: most are plain, so the string loop does one table load per byte.
const PLAIN = 0;
const QUOTE = 1;
const BACKSLASH = 2;
const CONTROL = 3;
const NON_ASCII = 4;
const STRING_BYTE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_BYTE[c] = CONTROL;
for (let c = 0x80; c < 0x100; c++) STRING_BYTE[c] = NON_ASCII;
STRING_BYTE[34] = QUOTE;
STRING_BYTE[92] = BACKSLASH;

function isContinuation(c: number | undefined): boolean {
  return c !== undefined && (c & 0xc0) === 0x80;
}

/** Length of the valid UTF-8 sequence starting at j (lead byte ≥ 0x80), or 0 when invalid (RFC 3629 table 3-7). */
function utf8SequenceLength(b: Uint8Array, j: number, end: number): number {
  const c = b[j]!;
  if (c < 0xc2) return 0; // stray continuation or overlong 2-byte lead
  if (c < 0xe0) return j + 1 < end && isContinuation(b[j + 1]) ? 2 : 0;
  if (c < 0xf0) {
    if (j + 2 >= end) return 0;
    const c1 = b[j + 1]!;
    // E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates).
    if (c === 0xe0 ? c1 < 0xa0 || c1 > 0xbf : c === 0xed ? c1 < 0x80 || c1 > 0x9f : !isContinuation(c1)) return 0;
    return isContinuation(b[j + 2]) ? 3 : 0;
  }
  if (c < 0xf5) {
    if (j + 3 >= end) return 0;
    const c1 = b[j + 1]!;
    // F0 needs 90..BF (no overlongs); F4 needs 80..8F (nothing past U+10FFFF).
    if (c === 0xf0 ? c1 < 0x90 || c1 > 0xbf : c === 0xf4 ? c1 < 0x80 || c1 > 0x8f : !isContinuation(c1)) return 0;
    return isContinuation(b[j + 2]) && isContinuation(b[j + 3]) ? 4 : 0;
  }
  return 0;
}

// The buffer being scanned, read as aligned 32-bit words inside strings (most bytes of a
// log line are plain ASCII inside strings). Made once per buffer: the NATS reader scans
// every message in the same read buffer. Aligned Int32Array loads measured ~40 % faster
// than DataView.getInt32 at any offset, whose sums could leave int32 range.
let wordsBuffer: ArrayBufferLike | undefined;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);
// b's offset in its ArrayBuffer, for the scan in progress.
let base = 0;
// Where the lowest flagged byte of a word sits in memory: first on little-endian machines.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// The view last scanned: the NATS reader scans every message of a read in the same one, and
// `b.buffer` is a call into the runtime, not a field load.
let wordsView: Uint8Array | undefined;

function useWords(b: Uint8Array): void {
  base = b.byteOffset;
  if (b === wordsView) return;
  wordsView = b;
  if (b.buffer === wordsBuffer) return;
  wordsBuffer = b.buffer;
  words = new Int32Array(b.buffer, 0, b.buffer.byteLength >>> 2);
}

/**
 * 0x80 in each of the word's bytes that is not plain string content (a quote, a backslash,
 * a control character or a non-ASCII byte), possibly also in bytes above such a one.
 * Bytes of 0x80 and above are caught by `v` itself, so below 0x80 a subtraction sets a
 * byte's top bit only when the byte is under 0x20 (first term) or zero after the XOR (a
 * quote, a backslash), or when a byte below it borrowed, which is itself flagged: the
 * lowest flagged byte is always a real one. The `| 0`s keep every step in int32.
 */
function specialBytes(v: number): number {
  return (((v - 0x20202020) | 0) | (((v ^ 0x22222222) - 0x01010101) | 0) | (((v ^ 0x5c5c5c5c) - 0x01010101) | 0) | v) & 0x80808080;
}

/** Scans a string starting at the opening quote, up to `end`; false when invalid. Sets stringEnd (index of the closing quote). */
function scanString(b: Uint8Array, i: number, end: number): boolean {
  let plain = true;
  let j = i + 1;
  for (;;) {
    // Plain bytes a word at a time once aligned, straight to the first byte that needs a look.
    if (j + 8 <= end) {
      while (((base + j) & 3) !== 0 && STRING_BYTE[b[j]!] === PLAIN) j++;
      if (((base + j) & 3) === 0) {
        let w = (base + j) >>> 2;
        const lastWord = (base + end) >>> 2;
        let special = 0;
        while (w < lastWord && (special = specialBytes(words[w]!)) === 0) w++;
        j = (w << 2) - base;
        if (special !== 0 && LITTLE_ENDIAN) j += (31 - Math.clz32(special & -special)) >>> 3;
      }
    }
    if (j >= end) return false;
    const kind = STRING_BYTE[b[j]!]!;
    if (kind === PLAIN) {
      j++;
      continue;
    }
    if (kind === QUOTE) {
      stringEnd = j;
      stringPlain = plain;
      return true;
    }
    if (kind === BACKSLASH) {
      plain = false;
      const e = b[++j];
      if (e === 117) {
        if (j + 4 >= end || !isHex(b[j + 1]!) || !isHex(b[j + 2]!) || !isHex(b[j + 3]!) || !isHex(b[j + 4]!)) return false;
        j += 4;
      } else if (e !== 34 && e !== 92 && e !== 47 && e !== 98 && e !== 102 && e !== 110 && e !== 114 && e !== 116) {
        return false;
      }
      j++;
    } else if (kind === CONTROL) {
      return false;
    } else {
      const length = utf8SequenceLength(b, j, end);
      if (length === 0) return false;
      j += length;
    }
  }
}

/** Scans a number starting at i; returns the index after it, or -1 when invalid. */
function scanNumber(b: Uint8Array, i: number, n: number): number {
  if (b[i] === 45) i++;
  if (i >= n) return -1;
  if (b[i] === 48) i++;
  else if (b[i]! >= 49 && b[i]! <= 57) while (i < n && isDigit(b[i]!)) i++;
  else return -1;
  if (i < n && b[i] === 46) {
    i++;
    if (i >= n || !isDigit(b[i]!)) return -1;
    while (i < n && isDigit(b[i]!)) i++;
  }
  if (i < n && (b[i] === 101 || b[i] === 69)) {
    i++;
    if (i < n && (b[i] === 43 || b[i] === 45)) i++;
    if (i >= n || !isDigit(b[i]!)) return -1;
    while (i < n && isDigit(b[i]!)) i++;
  }
  return i;
}

function literalAt(b: Uint8Array, i: number, end: number, word: string): boolean {
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return false;
  return true;
}

/**
 * Validates `b[start, end)` (all of `b` by default) as one JSON object and fills `spans`
 * (2 × schema.slots) with the byte spans (offsets into `b`) of the schema's string fields:
 * ABSENT when missing, NOT_PLAIN when not a string or (unless kept) a string with escapes.
 * Never throws; anything it does not accept (including nesting deeper than 128, invalid
 * UTF-8 and a range ending more than 2 GiB into its ArrayBuffer) reports `valid: false`, and
 * the caller falls back to JSON.parse.
 */
export function scanJson(b: Uint8Array, schema: FieldSchema, spans: Int32Array, result: ScanResult, start = 0, end = b.length): void {
  for (let k = 0, n = schema.slots * 2; k < n; k++) spans[k] = ABSENT;
  result.valid = false;
  result.multiline = false;
  result.ambiguous = false;
  result.escaped = 0;
  // Spans and word indexes are int32: a range reaching past 2 GiB into its ArrayBuffer (never
  // a NATS read or a batch) goes the slow way.
  if (b.byteOffset + end > MAX_SCAN_OFFSET) return;
  useWords(b);
  const { first, key, slotOf, childOf } = schema;
  const n = end;
  let i = start;
  let depth = 0;
  // What the next token must be.
  let expectValue = true; // a value (else: a ',' or a closing bracket)
  let expectKey = false; // inside an object, right after '{' or ','
  let allowClose = false; // right after '{' or '[': an immediate close is fine
  let pendingField = -1; // the value about to be scanned is this slot's field
  let pendingPath = PATH_OTHER; // …or an object on the path to some
  let seen = 0; // schema keys met so far (bits)
  let seenTop = false;
  while (i < n) {
    const c = b[i]!;
    if (isWhitespace(c)) {
      if (c === 10 || c === 13) result.multiline = true;
      i++;
      continue;
    }
    if (depth === 0 && seenTop) return; // trailing garbage
    if (expectKey) {
      if (c === 125 && allowClose) {
        depth--;
        expectKey = false;
        allowClose = false;
        expectValue = false;
        i++;
        continue;
      }
      if (c !== 34 || !scanString(b, i, n)) return;
      const keyStart = i + 1;
      const keyEnd = stringEnd;
      i = stringEnd + 1;
      while (i < n && isWhitespace(b[i]!)) {
        if (b[i] === 10 || b[i] === 13) result.multiline = true;
        i++;
      }
      if (b[i] !== 58) return;
      i++;
      pendingField = -1;
      pendingPath = PATH_OTHER;
      const path = containerPath[depth - 1]!;
      if (path !== PATH_OTHER) {
        if (!stringPlain) result.ambiguous = true;
        for (let m = first[path]!, last = first[path + 1]!; m < last; m++) {
          if (keyIs(b, keyStart, keyEnd, key[m]!)) {
            if ((seen & (1 << m)) !== 0) result.ambiguous = true;
            seen |= 1 << m;
            pendingField = slotOf[m]!;
            pendingPath = childOf[m]!;
            break;
          }
        }
      }
      expectKey = false;
      allowClose = false;
      expectValue = true;
      continue;
    }
    if (expectValue) {
      if (c === 93 && allowClose) {
        depth--;
        allowClose = false;
        expectValue = false;
        i++;
        continue;
      }
      allowClose = false;
      const field = pendingField;
      pendingField = -1;
      if (c === 123 || c === 91) {
        if (depth === 0) {
          if (c !== 123) return; // the top level must be an object
          seenTop = true;
        }
        if (depth >= MAX_DEPTH) return;
        if (field >= 0) spans[field * 2] = NOT_PLAIN;
        containerIsObject[depth] = c === 123 ? 1 : 0;
        containerPath[depth] = depth === 0 ? 0 : c === 123 ? pendingPath : PATH_OTHER;
        depth++;
        pendingPath = PATH_OTHER;
        i++;
        allowClose = true;
        if (c === 123) {
          expectKey = true;
          expectValue = false;
        }
        continue;
      }
      if (depth === 0) return; // the top level must be an object
      pendingPath = PATH_OTHER;
      if (c === 34) {
        if (!scanString(b, i, n)) return;
        if (field >= 0) {
          if (stringPlain) {
            spans[field * 2] = i + 1;
            spans[field * 2 + 1] = stringEnd;
          } else if ((schema.keepEscaped & (1 << field)) !== 0) {
            spans[field * 2] = i + 1;
            spans[field * 2 + 1] = stringEnd;
            result.escaped |= 1 << field;
          } else {
            spans[field * 2] = NOT_PLAIN;
          }
        }
        i = stringEnd + 1;
      } else {
        if (field >= 0) spans[field * 2] = NOT_PLAIN;
        if (c === 116 && literalAt(b, i, n, 'true')) i += 4;
        else if (c === 102 && literalAt(b, i, n, 'false')) i += 5;
        else if (c === 110 && literalAt(b, i, n, 'null')) i += 4;
        else {
          const next = scanNumber(b, i, n);
          if (next < 0) return;
          i = next;
        }
      }
      expectValue = false;
      continue;
    }
    // After a value: ',' or the container's close.
    const inObject = containerIsObject[depth - 1] === 1;
    if (c === 44) {
      i++;
      if (inObject) expectKey = true;
      else expectValue = true;
      continue;
    }
    if ((c === 125 && inObject) || (c === 93 && !inObject)) {
      depth--;
      i++;
      continue;
    }
    return;
  }
  result.valid = seenTop && depth === 0 && !expectValue && !expectKey;
}

function isHexLower(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/**
 * The raw content of a valid JSON string `b[start, end)` is exactly what JSON.stringify writes
 * for its decoded text: every escape is `\"`, `\\`, `\b\f\n\r\t`, or lower-case `\u00xx` for
 * another control character (no `\/`, no `\u` for anything else). Such content can be copied
 * into another JSON string as it is, or decoded by unescapeCanonicalInto.
 */
export function isCanonicalJsonString(b: Uint8Array, start: number, end: number): boolean {
  for (let j = start; j < end; j++) {
    if (b[j] !== 92) continue;
    const e = b[++j];
    if (e === 117 /* u */) {
      const h1 = b[j + 3]!;
      const h2 = b[j + 4]!;
      const v = (h1 - 48) * 16 + (h2 <= 57 ? h2 - 48 : h2 - 87);
      if (b[j + 1] !== 48 || b[j + 2] !== 48 || h1 < 48 || h1 > 49 || !isHexLower(h2) || v === 8 || v === 9 || v === 10 || v === 12 || v === 13) return false;
      j += 4;
    } else if (e === 47 /* / */) {
      return false;
    }
  }
  return true;
}

// What a byte becomes inside a JSON string (JSON.stringify's escapes): 0 as it is, 1 as `\u00xx`, else `\` and this byte.
const ESCAPE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) ESCAPE[c] = 1;
ESCAPE[8] = 98; /* b */
ESCAPE[9] = 116; /* t */
ESCAPE[10] = 110; /* n */
ESCAPE[12] = 102; /* f */
ESCAPE[13] = 114; /* r */
ESCAPE[34] = 34;
ESCAPE[92] = 92;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * Valid UTF-8 `src[start, end)` as JSON string content (JSON.stringify's escapes) into `buf`
 * at `pos` (room for 6 bytes per input byte); returns the index after it.
 */
export function escapeJsonInto(buf: Uint8Array, pos: number, src: Uint8Array, start: number, end: number): number {
  for (let k = start; k < end; k++) {
    const c = src[k]!;
    const x = ESCAPE[c]!;
    if (x === 0) {
      buf[pos++] = c;
    } else if (x !== 1) {
      buf[pos++] = 92;
      buf[pos++] = x;
    } else {
      buf[pos++] = 92;
      buf[pos++] = 117; /* u */
      buf[pos++] = 48;
      buf[pos++] = 48;
      buf[pos++] = HEX[c >>> 4]!;
      buf[pos++] = HEX[c & 15]!;
    }
  }
  return pos;
}

// The short escapes, by the byte after `\`.
const UNESCAPE = new Uint8Array(256);
UNESCAPE[34] = 34; /* \" */
UNESCAPE[92] = 92; /* \\ */
UNESCAPE[98] = 8; /* \b */
UNESCAPE[102] = 12; /* \f */
UNESCAPE[110] = 10; /* \n */
UNESCAPE[114] = 13; /* \r */
UNESCAPE[116] = 9; /* \t */

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87;
}

/** Canonical JSON string content (isCanonicalJsonString) decoded into `buf` at `pos`; returns the index after it. */
export function unescapeCanonicalInto(buf: Uint8Array, pos: number, src: Uint8Array, start: number, end: number): number {
  for (let k = start; k < end; k++) {
    const c = src[k]!;
    if (c !== 92) {
      buf[pos++] = c;
      continue;
    }
    const x = src[++k]!;
    if (x === 117 /* u */) {
      buf[pos++] = hexValue(src[k + 3]!) * 16 + hexValue(src[k + 4]!);
      k += 4;
    } else {
      buf[pos++] = UNESCAPE[x]!;
    }
  }
  return pos;
}
