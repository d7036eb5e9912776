// The NATS subscription: connects with the org/token as user/password, reconnects
// forever with jittered backoff, and hands every message (subject + bytes) to one
// callback, synchronously, without per-message allocation of its own.
import { connect, DebugEvents, Events, type NatsConnection, type Subscription } from 'nats';
import type { NatsConfig } from './config.js';
import { LogferryError, errorMessage } from './errors.js';
import type { Logger, ThrottledLog } from './logger.js';
import type { SourceStats } from './stats.js';

export type MessageHandler = (subject: string, data: Uint8Array) => void;

export class NatsSourceError extends LogferryError {}

export class NatsSource {
  readonly #config: NatsConfig;
  readonly #stats: SourceStats;
  readonly #logger: Logger;
  readonly #throttled: ThrottledLog;
  readonly #onMessage: MessageHandler;
  #nc: NatsConnection | undefined;
  #sub: Subscription | undefined;
  #stopping = false;

  constructor(config: NatsConfig, stats: SourceStats, logger: Logger, throttled: ThrottledLog, onMessage: MessageHandler) {
    this.#config = config;
    this.#stats = stats;
    this.#logger = logger;
    this.#throttled = throttled;
    this.#onMessage = onMessage;
  }

  /**
   * Connects (waiting as long as it takes for the first connection) and subscribes.
   * `onFatal` is called if the connection closes for good (e.g. credentials refused).
   */
  async start(onFatal: (error: Error) => void): Promise<void> {
    const nc = await connect({
      servers: [...this.#config.servers],
      ...(this.#config.user !== undefined ? { user: this.#config.user, pass: this.#config.pass } : {}),
      name: 'logferry',
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      reconnectJitter: 1000,
      pingInterval: 20_000,
      maxPingOut: 3,
    });
    this.#nc = nc;
    this.#stats.connected = true;
    this.#stats.disconnectedSince = undefined;
    this.#stats.lastMessageAt = Date.now();
    this.#logger.info({ server: nc.getServer(), subject: this.#config.subject, queue: this.#config.queue }, 'connected to NATS');
    void this.#watchStatus(nc);
    void nc.closed().then((err) => {
      this.#stats.connected = false;
      this.#stats.disconnectedSince ??= Date.now();
      if (this.#stopping) return;
      onFatal(new NatsSourceError('NATS_CLOSED', `NATS connection closed${err ? `: ${errorMessage(err)}` : ''}`, { cause: err }));
    });
    this.subscribe();
  }

  /** (Re)creates the subscription; the stall watchdog calls it when the stream goes quiet. */
  subscribe(): void {
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) return;
    this.#sub?.unsubscribe();
    const onMessage = this.#onMessage;
    this.#sub = nc.subscribe(this.#config.subject, {
      ...(this.#config.queue !== undefined ? { queue: this.#config.queue } : {}),
      callback: (err, msg) => {
        if (err !== null) {
          this.#throttled.warn('nats:subscription', { err: errorMessage(err) }, 'NATS subscription error');
          return;
        }
        onMessage(msg.subject, msg.data);
      },
    });
  }

  /** Drops the connection and reconnects (the watchdog's second step). */
  async reconnect(): Promise<void> {
    await this.#nc?.reconnect();
  }

  /** Stops receiving: pending messages are still handed over, then the connection closes. */
  async drain(): Promise<void> {
    this.#stopping = true;
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) return;
    try {
      await nc.drain();
    } catch (err) {
      this.#logger.warn({ err: errorMessage(err) }, 'NATS drain failed; closing');
      await nc.close().catch(() => undefined);
    }
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    const stats = this.#stats;
    for await (const s of nc.status()) {
      switch (s.type) {
        case Events.Disconnect:
          stats.connected = false;
          stats.disconnects++;
          stats.disconnectedSince ??= Date.now();
          this.#throttled.warn('nats:disconnect', { server: String(s.data) }, 'disconnected from NATS; reconnecting');
          break;
        case Events.Reconnect:
          stats.connected = true;
          stats.reconnects++;
          stats.disconnectedSince = undefined;
          this.#logger.info({ server: String(s.data) }, 'reconnected to NATS');
          break;
        case Events.Error:
          if (/slow consumer/i.test(String(s.data))) stats.slowConsumer++;
          this.#throttled.warn('nats:error', { err: String(s.data) }, 'NATS reported an error');
          break;
        case DebugEvents.StaleConnection:
          this.#throttled.warn('nats:stale', {}, 'NATS connection went stale; reconnecting');
          break;
        default:
          break;
      }
    }
  }
}
