// Finds the byte spans of the fields the Loki encoder reads in one Fly line of a batch,
// without decoding anything. Lines in a batch are valid JSON objects of valid UTF-8 (the
// intake checked them), so this does not validate; it only has to be sure it reads the
// same values EntryView and JSON.parse would. Whenever it cannot be (an escaped key or
// value, a duplicate, a field of another type, a missing routing field, CR/LF between
// tokens, which makes the intake rewrite the line), it says no and the encoder takes the
// entry-based path for that line.

/** Slots in lineSpans: the content between a string's quotes is `[2k]` to `[2k+1]`; start -1 when absent. */
export const SPAN_TIMESTAMP = 0;
export const SPAN_HOST = 1;
export const SPAN_MESSAGE = 2;
export const SPAN_PROVIDER = 3;
export const SPAN_LOG_LEVEL = 4;
export const SPAN_REGION = 5;
export const SPAN_APP_NAME = 6;
export const SPAN_APP_INSTANCE = 7;
export const SPAN_PROCESS_GROUP = 8;
export const SPAN_ZONE = 9;
const SLOTS = 10;

/** The spans of the line scanned last (module scratch: the encoder is synchronous). */
export const lineSpans = new Int32Array(SLOTS * 2);
/** Whether the last line's message has escapes, and (when asked) whether JSON.stringify of it decoded would give the same bytes. */
export const messageScan = { escaped: false, canonical: true };

// The objects whose keys are read; each key is matched against its object's table.
const IN_TOP = 0;
const IN_EVENT = 1;
const IN_LOG = 2;
const IN_FLY = 3;
const IN_APP = 4;

interface Member {
  readonly key: Uint8Array;
  /** The span slot of a string member, or -1 for an object member. */
  readonly slot: number;
  /** For an object member: whose keys it holds. */
  readonly inner: number;
}

function member(key: string, slot: number, inner = -1): Member {
  return { key: Buffer.from(key, 'latin1'), slot, inner };
}

const MEMBERS: readonly (readonly Member[])[] = [
  [member('timestamp', SPAN_TIMESTAMP), member('host', SPAN_HOST), member('message', SPAN_MESSAGE), member('event', -1, IN_EVENT), member('log', -1, IN_LOG), member('fly', -1, IN_FLY)],
  [member('provider', SPAN_PROVIDER)],
  [member('level', SPAN_LOG_LEVEL)],
  [member('region', SPAN_REGION), member('zone', SPAN_ZONE), member('app', -1, IN_APP)],
  [member('name', SPAN_APP_NAME), member('instance', SPAN_APP_INSTANCE), member('process_group', SPAN_PROCESS_GROUP)],
];

// Set by stringClose: the string just passed had no backslash.
let plainString = true;

/** Index of the quote closing the string that opens at `open`; -1 when the line ends first. */
function stringClose(b: Uint8Array, open: number, end: number): number {
  let plain = true;
  for (let j = open + 1; j < end; j++) {
    const c = b[j]!;
    if (c === 34 /* " */) {
      plainString = plain;
      return j;
    }
    if (c === 92 /* \ */) {
      plain = false;
      j++;
    }
  }
  return -1;
}

function isHexLower(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/**
 * stringClose for the message when its raw bytes may be sent as they are (the `message`
 * line format): they may only if each escape is the one JSON.stringify writes for the
 * character it stands for (`\"`, `\\`, `\b\f\n\r\t`, lower-case `\u00xx` for other controls).
 * Sets messageScan.
 */
function messageClose(b: Uint8Array, open: number, end: number): number {
  let escaped = false;
  let canonical = true;
  for (let j = open + 1; j < end; j++) {
    const c = b[j]!;
    if (c === 34) {
      messageScan.escaped = escaped;
      messageScan.canonical = canonical;
      return j;
    }
    if (c !== 92) continue;
    escaped = true;
    const e = b[++j];
    if (e === 117 /* u */) {
      // Only \u00XX below 0x20, other than the five with a short form.
      const h1 = b[j + 3]!;
      const h2 = b[j + 4]!;
      const v = (h1 - 48) * 16 + (h2 <= 57 ? h2 - 48 : h2 - 87);
      if (b[j + 1] !== 48 || b[j + 2] !== 48 || h1 < 48 || h1 > 49 || !isHexLower(h2) || v === 8 || v === 9 || v === 10 || v === 12 || v === 13) canonical = false;
      j += 4;
    } else if (e === 47 /* / */) {
      canonical = false;
    }
  }
  return -1;
}

// Bytes of a message read one by one before jumping with indexOf: a call costs about as much
// as ~30 bytes of the loop, so it only pays off on long messages (the 8 KiB dumps).
const MESSAGE_LOOP_BYTES = 256;

// The first backslash at or after the last search start in `backslashIn`, -1 when there is
// none up to its end. Scans only move forward within a batch, so one answer serves every
// later question up to it and a batch is searched once in all, however few backslashes it has.
let backslashIn: Uint8Array | undefined;
let backslashFrom = 0;
let backslashAt = -1;

function firstBackslash(b: Uint8Array, from: number): number {
  if (b === backslashIn && from >= backslashFrom && (backslashAt < 0 || backslashAt >= from)) return backslashAt;
  backslashIn = b;
  backslashFrom = from;
  backslashAt = (b as Buffer).indexOf(92, from);
  return backslashAt;
}

/** Forgets firstBackslash's answer (a new batch may reuse the buffer with other contents). */
export function resetLineScan(): void {
  backslashIn = undefined;
}

/**
 * stringClose for the message, which may be kilobytes: a byte loop at first, then jumps from
 * quote to quote (a quote is the closing one when an even number of backslashes precede it).
 */
function longStringClose(b: Uint8Array, open: number, end: number): number {
  let j = open + 1;
  const stop = Math.min(end, j + MESSAGE_LOOP_BYTES);
  let plain = true;
  for (; j < stop; j++) {
    const c = b[j]!;
    if (c === 34) {
      plainString = plain;
      return j;
    }
    if (c === 92) {
      plain = false;
      j++;
    }
  }
  // `j` is the start of a character here (never inside an escape), so runs of backslashes are counted back to it at most.
  const from = j;
  for (;;) {
    const q = (b as Buffer).indexOf(34, j);
    if (q < 0 || q >= end) return -1;
    let k = q - 1;
    while (k >= j && b[k] === 92) k--;
    if (((q - 1 - k) & 1) === 0) {
      if (plain) {
        const slash = firstBackslash(b, from);
        plain = slash < 0 || slash >= q;
      }
      plainString = plain;
      return q;
    }
    j = q + 1;
  }
}

/** Index of the first byte at or after `i` that is not a space or tab; -1 at CR or LF. */
function skipSpace(b: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 32 || c === 9) continue;
    return c === 10 || c === 13 ? -1 : i;
  }
  return i;
}

/** Index just after the value starting at `i` (not read); -1 on CR or LF between its tokens. */
function skipValue(b: Uint8Array, i: number, end: number): number {
  const c = b[i]!;
  if (c === 34) {
    const close = stringClose(b, i, end);
    return close < 0 ? -1 : close + 1;
  }
  if (c === 123 /* { */ || c === 91 /* [ */) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const d = b[j]!;
      if (d === 34) {
        j = stringClose(b, j, end);
        if (j < 0) return -1;
      } else if (d === 123 || d === 91) {
        depth++;
      } else if (d === 125 || d === 93) {
        if (--depth === 0) return j + 1;
      } else if (d === 13 || d === 10) {
        return -1;
      }
    }
    return -1;
  }
  // A number or a literal: up to the next delimiter.
  let j = i;
  while (j < end) {
    const d = b[j]!;
    if (d === 44 || d === 125 || d === 93 || d === 32 || d === 9 || d === 10 || d === 13) break;
    j++;
  }
  return j;
}

function keyIs(b: Uint8Array, start: number, end: number, key: Uint8Array): boolean {
  if (end - start !== key.length) return false;
  for (let k = 0; k < key.length; k++) if (b[start + k] !== key[k]) return false;
  return true;
}

// Set by scanObject: whether to check the message's escapes.
let checkMessage = false;

/**
 * Reads the object whose `{` is at `i`, one of the IN_* kinds: fills the spans of its
 * members, recursing into the objects on the path to wanted fields. Index after its `}`,
 * or -1 to give the line up.
 */
function scanObject(b: Uint8Array, i: number, end: number, kind: number): number {
  const members = MEMBERS[kind]!;
  let seen = 0;
  i = skipSpace(b, i + 1, end);
  if (i < 0) return -1;
  if (b[i] === 125) return i + 1;
  for (;;) {
    if (b[i] !== 34) return -1;
    const keyClose = stringClose(b, i, end);
    // An escaped key could spell a wanted name another way.
    if (keyClose < 0 || !plainString) return -1;
    let found = -1;
    for (let m = 0; m < members.length; m++) {
      if (keyIs(b, i + 1, keyClose, members[m]!.key)) {
        found = m;
        break;
      }
    }
    i = skipSpace(b, keyClose + 1, end);
    if (i < 0 || b[i] !== 58 /* : */) return -1;
    i = skipSpace(b, i + 1, end);
    if (i < 0) return -1;
    if (found < 0) {
      i = skipValue(b, i, end);
    } else {
      // A duplicate: JSON.parse keeps the last, the intake's scan may not; not worth matching.
      if ((seen & (1 << found)) !== 0) return -1;
      seen |= 1 << found;
      const m = members[found]!;
      if (m.slot < 0) {
        i = b[i] === 123 ? scanObject(b, i, end, m.inner) : -1;
      } else if (b[i] !== 34) {
        // A number, object or null where text is expected: left to the entry-based path.
        i = -1;
      } else if (m.slot === SPAN_MESSAGE) {
        const close = checkMessage ? messageClose(b, i, end) : longStringClose(b, i, end);
        if (close < 0) return -1;
        if (!checkMessage) messageScan.escaped = !plainString;
        lineSpans[SPAN_MESSAGE * 2] = i + 1;
        lineSpans[SPAN_MESSAGE * 2 + 1] = close;
        i = close + 1;
      } else {
        const close = stringClose(b, i, end);
        if (close < 0 || !plainString) return -1;
        lineSpans[m.slot * 2] = i + 1;
        lineSpans[m.slot * 2 + 1] = close;
        i = close + 1;
      }
    }
    if (i < 0) return -1;
    i = skipSpace(b, i, end);
    if (i < 0) return -1;
    const c = b[i];
    if (c === 125) return i + 1;
    if (c !== 44) return -1;
    i = skipSpace(b, i + 1, end);
    if (i < 0) return -1;
  }
}

function presentAndNonEmpty(slot: number): boolean {
  const start = lineSpans[slot * 2]!;
  return start >= 0 && lineSpans[slot * 2 + 1]! > start;
}

/**
 * Scans the line starting at `start` (it ends at the next LF or at `limit`) into lineSpans
 * and messageScan. Returns the line's end (the index of its LF, or `limit`) when the line is
 * one the intake keeps byte for byte (timestamp, fly.region, fly.app.name and
 * fly.app.instance plain non-empty strings) and every wanted field was read exactly; -1
 * means: take the entry-based path. `checkMessageEscapes`: work out messageScan.canonical.
 */
export function scanFlyLine(b: Uint8Array, start: number, limit: number, checkMessageEscapes: boolean): number {
  lineSpans.fill(-1);
  messageScan.escaped = false;
  messageScan.canonical = true;
  checkMessage = checkMessageEscapes;
  let i = skipSpace(b, start, limit);
  if (i < 0 || b[i] !== 123) return -1;
  // A valid line has no raw LF inside (it would be a string's control character or a
  // multi-line object), so the scan needs no end found beforehand: the object's close is it.
  i = scanObject(b, i, limit, IN_TOP);
  if (i < 0) return -1;
  while (i < limit && (b[i] === 32 || b[i] === 9)) i++;
  // Anything else after the object (a CR) makes the intake rewrite the line.
  if (i < limit && b[i] !== 10) return -1;
  const complete = presentAndNonEmpty(SPAN_TIMESTAMP) && presentAndNonEmpty(SPAN_REGION) && presentAndNonEmpty(SPAN_APP_NAME) && presentAndNonEmpty(SPAN_APP_INSTANCE);
  return complete ? i : -1;
}
