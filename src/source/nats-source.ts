// The NATS subscription: our own core-NATS client (nats-client.ts) connects with the
// org/token as user/password, reconnects forever with jittered waits, and hands every
// message to one callback, synchronously and without copying. This file turns what the
// client reports into SourceStats and (throttled) log lines.
import type { NatsConfig } from '../config/config.js';
import type { Logger, ThrottledLog } from '../ops/logger.js';
import { NatsClient, type MessageHandler, type NatsClientError, type NatsClientStatus } from './nats-client.js';
import type { SourceStats } from '../ops/stats.js';

export type { MessageHandler } from './nats-client.js';

export class NatsSource {
  readonly #config: NatsConfig;
  readonly #stats: SourceStats;
  readonly #logger: Logger;
  readonly #throttled: ThrottledLog;
  readonly #onMessage: MessageHandler;
  #client: NatsClient | undefined;
  #stopping = false;

  constructor(config: NatsConfig, stats: SourceStats, logger: Logger, throttled: ThrottledLog, onMessage: MessageHandler) {
    this.#config = config;
    this.#stats = stats;
    this.#logger = logger;
    this.#throttled = throttled;
    this.#onMessage = onMessage;
  }

  /**
   * Connects (waiting as long as it takes for the first connection) and subscribes. The
   * client never gives up, not even on refused credentials (logged, and /health shows the
   * source disconnected), so `onFatal` is not called today; it stays for a future fatal case.
   * Resolves early, without connecting, if drain() is called first.
   */
  async start(_onFatal: (error: Error) => void): Promise<void> {
    if (this.#client !== undefined || this.#stopping) return;
    const config = this.#config;
    const client = new NatsClient(
      {
        servers: config.servers,
        user: config.user,
        pass: config.pass,
        subject: config.subject,
        queue: config.queue,
        name: 'logferry',
      },
      this.#onMessage,
      this.#statusHandler(),
    );
    this.#client = client;
    await client.connect();
  }

  /** Replaces the subscription (new sid); the stall watchdog calls it when the stream goes quiet. */
  subscribe(): void {
    if (this.#stopping) return;
    this.#client?.resubscribe();
  }

  /** Drops the connection and reconnects (the watchdog's second step). */
  async reconnect(): Promise<void> {
    if (this.#stopping) return;
    this.#client?.reconnect();
  }

  /** Stops receiving: messages the server sent before are still handed over, then the connection closes. */
  async drain(): Promise<void> {
    this.#stopping = true;
    const client = this.#client;
    if (client !== undefined) await client.drain();
    this.#stats.connected = false;
    this.#stats.disconnectedSince ??= Date.now();
  }

  #statusHandler(): NatsClientStatus {
    const stats = this.#stats;
    return {
      // Here rather than after start()'s await, so the line and stats come before anything the connection reports next.
      connect: (server) => {
        stats.connected = true;
        stats.disconnectedSince = undefined;
        stats.lastMessageAt = Date.now();
        stats.authError = undefined;
        stats.subscriptionError = undefined;
        this.#logger.info({ server, subject: this.#config.subject, queue: this.#config.queue }, 'connected to NATS');
      },
      reconnect: (server) => {
        stats.connected = true;
        stats.reconnects++;
        stats.disconnectedSince = undefined;
        stats.authError = undefined;
        stats.subscriptionError = undefined;
        this.#logger.info({ server }, 'reconnected to NATS');
      },
      disconnect: (server, cause) => {
        stats.connected = false;
        stats.disconnects++;
        stats.disconnectedSince ??= Date.now();
        this.#throttled.warn('nats:disconnect', { server, ...(cause !== undefined ? { err: cause.message } : {}) }, 'disconnected from NATS; reconnecting');
      },
      error: (error: NatsClientError) => {
        switch (error.code) {
          case 'NATS_AUTH':
            stats.authError = error.message;
            this.#throttled.error('nats:auth', { server: error.server, err: error.message }, 'NATS refused the credentials (check ORG and ACCESS_TOKEN); retrying');
            break;
          case 'NATS_CONNECT':
            this.#throttled.warn('nats:connect', { server: error.server, err: error.message }, 'cannot connect to NATS; retrying');
            break;
          case 'NATS_PROTOCOL':
            this.#throttled.warn('nats:protocol', { server: error.server, err: error.message }, 'NATS protocol error; reconnecting');
            break;
          case 'NATS_HANDLER':
            // A bug downstream, not a NATS problem: the message is skipped, the stream goes on.
            this.#throttled.error('nats:handler', { err: error.message }, 'handling a NATS message failed; skipped it');
            break;
          default:
            if (/slow consumer/i.test(error.message)) stats.slowConsumer++;
            // The connection stays up but nothing will arrive: /health must say so.
            if (/permissions violation for subscription/i.test(error.message)) stats.subscriptionError = error.message;
            this.#throttled.warn('nats:error', { server: error.server, err: error.message }, 'NATS reported an error');
        }
      },
      stale: (server) => {
        this.#throttled.warn('nats:stale', { server }, 'NATS connection went stale; reconnecting');
      },
    };
  }
}
