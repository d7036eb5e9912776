// Fly's timestamps (`2026-11-26T20:34:37.000412877Z`) read as numbers straight from a line's
// bytes: whole seconds since the epoch and the nanoseconds within the second. Exactly what
// SecondsCache/nanosOf give for the same text; every other form is left to them.

const DIGIT_0 = 48;

function digitsAt(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = b[at + k]! - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * The nanoseconds within the second of a Fly-form timestamp `b[start, end)` (UTC, `.`, 0 to
 * 9 fraction digits, `Z`; SecondsCache's test), or -1 when the text has another form.
 * The whole-seconds part is not checked here: see wholeSeconds.
 */
export function flyFractionNanos(b: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n < 21 || n > 30 || b[start + 19] !== 46 /* . */ || b[end - 1] !== 90 /* Z */) return -1;
  let v = 0;
  for (let k = start + 20; k < end - 1; k++) {
    const d = b[k]! - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  // Fewer than 9 digits are padded with zeros on the right.
  for (let k = n - 21; k < 9; k++) v *= 10;
  return v;
}

/**
 * Seconds since the epoch of the `YYYY-MM-DDTHH:MM:SS` at `b[start]`, or -1 unless it is the
 * canonical text of a second from 1970-01-01T00:00:01 on (what SecondsCache accepts: no
 * `24:00`, `02-30` or leap second, which Date would roll over).
 */
export function wholeSeconds(b: Uint8Array, start: number): number {
  if (b[start + 4] !== 45 || b[start + 7] !== 45 || b[start + 10] !== 84 || b[start + 13] !== 58 || b[start + 16] !== 58) return -1;
  const year = digitsAt(b, start, 4);
  const month = digitsAt(b, start + 5, 2);
  const day = digitsAt(b, start + 8, 2);
  const hour = digitsAt(b, start + 11, 2);
  const minute = digitsAt(b, start + 14, 2);
  const second = digitsAt(b, start + 17, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return -1;
  if (day > daysInMonth(year, month)) return -1;
  const secs = Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
  return secs >= 1 ? secs : -1;
}
