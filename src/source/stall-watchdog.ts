// Fly's log stream is known to stop delivering while the connection looks healthy.
// When nothing arrives for STALL_TIMEOUT: resubscribe; if another STALL_TIMEOUT passes
// in silence, force a reconnect. Watches the message counter rather than stamping a
// clock per message, so the hot path pays nothing.
import type { Logger } from '../ops/logger.js';
import type { SourceStats } from '../ops/stats.js';

export interface StallActions {
  resubscribe(): void;
  reconnect(): Promise<void>;
}

export class StallWatchdog {
  readonly #stats: SourceStats;
  readonly #timeoutMs: number;
  readonly #actions: StallActions;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #lastCount = -1;
  #lastActionAt = 0;

  constructor(stats: SourceStats, timeoutMs: number, actions: StallActions, logger: Logger) {
    this.#stats = stats;
    this.#timeoutMs = timeoutMs;
    this.#actions = actions;
    this.#logger = logger;
  }

  start(): void {
    const tick = Math.max(50, Math.min(1000, Math.floor(this.#timeoutMs / 4)));
    this.#timer = setInterval(() => this.check(Date.now()), tick);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** One watchdog tick; public for unit tests. */
  check(now: number): void {
    const stats = this.#stats;
    if (stats.messagesReceived !== this.#lastCount) {
      this.#lastCount = stats.messagesReceived;
      stats.lastMessageAt = now;
      if (stats.stalled) {
        stats.stalled = false;
        this.#logger.info({}, 'NATS stream delivering again');
      }
      return;
    }
    // A disconnected client is the reconnect logic's business, not a stall.
    if (!stats.connected) return;
    const silentFor = now - stats.lastMessageAt;
    if (silentFor < this.#timeoutMs || now - this.#lastActionAt < this.#timeoutMs) return;
    this.#lastActionAt = now;
    if (!stats.stalled) {
      stats.stalled = true;
      stats.stalls++;
      stats.resubscribes++;
      this.#logger.warn({ silentForMs: silentFor }, 'no NATS message for STALL_TIMEOUT; resubscribing');
      this.#actions.resubscribe();
      return;
    }
    this.#logger.warn({ silentForMs: silentFor }, 'NATS stream still silent after resubscribing; reconnecting');
    stats.stalls++;
    this.#actions.reconnect().catch((err: unknown) => this.#logger.warn({ err }, 'forced NATS reconnect failed'));
  }
}
