// Typed access to environment variables. Every getter validates once and throws a
// ConfigError naming the variable; values of secret variables never reach a message.
import { ConfigError } from '../errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1, b: 1, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, k: 1024, m: 1024 ** 2, g: 1024 ** 3,
};

/** Parses "500ms", "30s", "5m", "1h"; a bare number is seconds (as Vector's *_secs settings). */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? 's').toLowerCase();
  return Math.round(Number(m[1]) * (DURATION_UNITS[unit] ?? 1000));
}

/** Parses "1048576", "512KiB", "10MiB", "1MB", "2GiB". */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const factor = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}

export class EnvReader {
  readonly #env: Env;
  readonly #collect: boolean;
  /** Problems found so far when collecting (see the constructor). */
  readonly problems: ConfigError[] = [];

  /**
   * `collect`: a bad value is recorded in `problems` and the getter answers its fallback, so
   * one start reports every problem at once (loadConfig throws them together at the end).
   */
  constructor(env: Env, options: { collect?: boolean } = {}) {
    this.#env = env;
    this.#collect = options.collect ?? false;
  }

  /** Records (when collecting) or throws `error`; answers `fallback` when recorded. */
  fail<T>(error: ConfigError, fallback: T): T {
    if (!this.#collect) throw error;
    this.problems.push(error);
    return fallback;
  }

  /** Runs `read`; a ConfigError it throws is recorded (when collecting) and `fallback` answered. */
  attempt<T>(read: () => T, fallback: T): T {
    try {
      return read();
    } catch (error) {
      if (error instanceof ConfigError) return this.fail(error, fallback);
      throw error;
    }
  }

  /** The raw value, trimmed; undefined when unset or blank. */
  raw(name: string): string | undefined {
    const v = this.#env[name];
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  /** First of several names that is set (fly-log-shipper compatibility aliases). */
  firstSet(...names: string[]): string | undefined {
    return names.find((n) => this.has(n));
  }

  string(name: string): string | undefined;
  string(name: string, fallback: string): string;
  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  required(name: string, expected: string): string {
    const v = this.raw(name);
    if (v === undefined) return this.fail(new ConfigError(name, `is required: ${expected}`), '');
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const l = v.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(l)) return true;
    if (['false', '0', 'no', 'off'].includes(l)) return false;
    return this.fail(new ConfigError(name, `expected true or false, got "${v}"`), fallback);
  }

  int(name: string, fallback: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const n = /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n)) return this.fail(new ConfigError(name, `expected a whole number, got "${v}"`), fallback);
    return this.#checkRange(name, n, opts, String(n)) ? n : fallback;
  }

  duration(name: string, fallbackMs: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.raw(name);
    if (v === undefined) return fallbackMs;
    const ms = parseDuration(v);
    if (ms === undefined) return this.fail(new ConfigError(name, `expected a duration such as 500ms, 30s, 5m or 1h, got "${v}"`), fallbackMs);
    return this.#checkRange(name, ms, opts, v) ? ms : fallbackMs;
  }

  size(name: string, fallbackBytes: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.raw(name);
    if (v === undefined) return fallbackBytes;
    const bytes = parseSize(v);
    if (bytes === undefined) return this.fail(new ConfigError(name, `expected a size such as 1048576, 512KiB or 10MiB, got "${v}"`), fallbackBytes);
    return this.#checkRange(name, bytes, opts, v) ? bytes : fallbackBytes;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const l = v.toLowerCase();
    const hit = allowed.find((a) => a.toLowerCase() === l);
    if (hit === undefined) return this.fail(new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${v}"`), fallback);
    return hit;
  }

  /** Comma-separated list, blanks removed. */
  list(name: string): string[] {
    const v = this.raw(name);
    if (v === undefined) return [];
    return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }

  /** An http(s) URL. `secret` keeps the value (which may hold credentials) out of the message. */
  url(name: string, opts: { protocols?: readonly string[]; secret?: boolean } = {}): URL | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const protocols = opts.protocols ?? ['http:', 'https:'];
    const shown = opts.secret ? '' : `, got "${v}"`;
    let url: URL;
    try {
      url = new URL(v);
    } catch (cause) {
      // The parser's error carries the input; for a secret URL it must not travel along as the cause.
      return this.fail(new ConfigError(name, `expected a URL such as ${protocols[0]}//host:port/path${shown}`, opts.secret ? undefined : { cause }), undefined);
    }
    if (!protocols.includes(url.protocol)) {
      return this.fail(new ConfigError(name, `expected a ${protocols.join(' or ')} URL${shown}`), undefined);
    }
    return url;
  }

  /** False (recorded) when out of range; throws instead when not collecting. */
  #checkRange(name: string, n: number, opts: { min?: number; max?: number }, shown: string): boolean {
    if (opts.min !== undefined && n < opts.min) return this.fail(new ConfigError(name, `must be at least ${opts.min}, got "${shown}"`), false);
    if (opts.max !== undefined && n > opts.max) return this.fail(new ConfigError(name, `must be at most ${opts.max}, got "${shown}"`), false);
    return true;
  }
}
