// normaliseLevel on a level's bytes: Fly's `log.level` is folded to one of a handful of
// names without making a string of it, once per entry.
import { LEVEL_SPELLINGS, normaliseLevel } from './labels.js';

/** The names levels fold to; a level is carried as its index here. */
export const LEVEL_NAMES: readonly string[] = ['trace', 'debug', 'info', 'notice', 'warn', 'error', 'critical', 'fatal', 'unknown'];
export const LEVEL_UNKNOWN = LEVEL_NAMES.indexOf('unknown');

const MAX_SPELLING = Math.max(...LEVEL_SPELLINGS.map((s) => s.length));
// Per length: the spellings of that length as bytes, and the index of the name each folds to.
const spellingsByLength: Array<Array<{ readonly bytes: Uint8Array; readonly level: number }>> = [];
for (let n = 0; n <= MAX_SPELLING; n++) spellingsByLength.push([]);
for (const spelling of LEVEL_SPELLINGS) {
  spellingsByLength[spelling.length]!.push({ bytes: Buffer.from(spelling, 'latin1'), level: LEVEL_NAMES.indexOf(normaliseLevel(spelling)) });
}

/** The index in LEVEL_NAMES of any level name (normaliseLevel's result, or anything else: unknown). */
export function levelIndex(name: string): number {
  const i = LEVEL_NAMES.indexOf(name);
  return i < 0 ? LEVEL_UNKNOWN : i;
}

/**
 * normaliseLevel(text.toLowerCase()) for the UTF-8 text `b[start, end)`, as an index in
 * LEVEL_NAMES. Only ASCII letters are folded: every spelling is ASCII letters without a `k`,
 * and the only non-ASCII characters that lower-case to ASCII are U+212A (to `k`) and U+0130
 * (to `i` plus a combining dot), so text with any other byte is never a spelling.
 */
export function foldLevel(b: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n > MAX_SPELLING) return LEVEL_UNKNOWN;
  const candidates = spellingsByLength[n]!;
  next: for (let s = 0; s < candidates.length; s++) {
    const bytes = candidates[s]!.bytes;
    for (let k = 0; k < n; k++) {
      const c = b[start + k]!;
      if ((c >= 65 && c <= 90 ? c + 32 : c) !== bytes[k]) continue next;
    }
    return candidates[s]!.level;
  }
  return LEVEL_UNKNOWN;
}
