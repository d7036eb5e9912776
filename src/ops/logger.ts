// The agent's own logs: pino JSON on stdout, secrets redacted. The agent's log lines come
// back through the very stream it ships, so nothing here may log per entry.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

const REDACT_PATHS = [
  'password', 'pass', 'token', 'secret', 'authorization', 'accessToken', 'secretAccessKey', 'sessionToken',
  '*.password', '*.pass', '*.token', '*.secret', '*.authorization', '*.accessToken', '*.secretAccessKey', '*.sessionToken',
  'headers.authorization', '*.headers.authorization',
];

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { app: 'logferry' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * Logs a recurring condition at most once per interval, with how often it happened
 * since the last line. Used for drops, slow consumers and failing sinks.
 */
export class ThrottledLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #state = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(logger: Logger, intervalMs: number) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  warn(key: string, fields: Record<string, unknown>, message: string, now = Date.now()): void {
    this.#emit('warn', key, fields, message, now);
  }

  error(key: string, fields: Record<string, unknown>, message: string, now = Date.now()): void {
    this.#emit('error', key, fields, message, now);
  }

  #emit(level: 'warn' | 'error', key: string, fields: Record<string, unknown>, message: string, now: number): void {
    const s = this.#state.get(key);
    if (s !== undefined && now - s.lastAt < this.#intervalMs) {
      s.suppressed++;
      return;
    }
    const suppressed = s?.suppressed ?? 0;
    this.#state.set(key, { lastAt: now, suppressed: 0 });
    this.#logger[level](suppressed > 0 ? { ...fields, suppressedSinceLastLog: suppressed } : fields, message);
  }
}
