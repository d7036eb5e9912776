// The NATS subscription, through the official client (nats.js v3, @nats-io/transport-node).
// This file adapts it to logferry: connect (and keep retrying the first connection),
// subscribe with a synchronous callback that hands each message's bytes to the router
// without copying, retry a refused subscription, fix TLS identity checks for IP
// addresses, and turn what the client reports into SourceStats and (throttled) log lines.
import { checkServerIdentity, type ConnectionOptions as NodeTlsOptions, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import {
  connect,
  errors as natsErrors,
  type ConnectionOptions,
  type Msg,
  type NatsConnection,
  type Server,
  type Status,
  type Subscription,
} from '@nats-io/transport-node';
import type { NatsConfig } from '../config/config.js';
import { errorMessage } from '../errors.js';
import type { Logger, ThrottledLog } from '../ops/logger.js';
import type { SourceStats } from '../ops/stats.js';

/**
 * Receives every message: its payload is `buf[start, end)`, valid only during the call (copy
 * what you keep); `receivedAtMs` is when the source handed it over.
 */
export type MessageHandler = (subject: string, buf: Buffer, start: number, end: number, receivedAtMs: number) => void;

/** Tuning the production defaults (tests shorten the waits); `tls` adds Node TLS options such as a private `ca` (and insists on TLS). */
export interface NatsSourceOptions {
  readonly tls?: NodeTlsOptions;
  /** Wait between connection attempts: this plus a random 0..jitter (defaults 1000 + 1000 ms). */
  readonly reconnectWaitMs?: number;
  readonly reconnectJitterMs?: number;
  /** Wait before subscribing again after the server refused the subscription (default 5 s). */
  readonly resubscribeWaitMs?: number;
  /** Keepalive PING interval and unanswered pings that make the connection stale (20 s, 3). */
  readonly pingIntervalMs?: number;
  readonly maxPingsOut?: number;
}

const EMPTY = Buffer.alloc(0);

/** msg.data is a Buffer (a slice of the socket read) except for payloads split across reads. */
function asBuffer(data: Uint8Array): Buffer {
  return data instanceof Buffer ? data : data.byteLength === 0 ? EMPTY : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function isAuthError(error: unknown): boolean {
  return error instanceof natsErrors.AuthorizationError || error instanceof natsErrors.UserAuthenticationExpiredError;
}

function isSubscriptionRefusal(error: unknown): error is InstanceType<typeof natsErrors.PermissionViolationError> {
  return error instanceof natsErrors.PermissionViolationError && error.operation === 'subscription';
}

/** Node's TLS identity failure (the certificate does not name the host we asked for). */
function isIdentityError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_TLS_CERT_ALTNAME_INVALID') return true;
  }
  return false;
}

export class NatsSource {
  readonly #config: NatsConfig;
  readonly #stats: SourceStats;
  readonly #logger: Logger;
  readonly #throttled: ThrottledLog;
  readonly #onMessage: MessageHandler;
  readonly #options: NatsSourceOptions;
  #nc: NatsConnection | undefined;
  #sub: Subscription | undefined;
  #stopping = false;
  /** Wakes start()'s wait between first-connection attempts when drain() is called. */
  #wake: (() => void) | undefined;
  #resubscribeTimer: NodeJS.Timeout | undefined;
  /** TLS is insisted on: a tls:// URL, or a server that turned out to require it. */
  #requireTls: boolean;
  /** The server nats.js is dialling now: its address is what the certificate must name when nats.js has no name for it. */
  #dialling: Server | undefined;

  constructor(config: NatsConfig, stats: SourceStats, logger: Logger, throttled: ThrottledLog, onMessage: MessageHandler, options: NatsSourceOptions = {}) {
    this.#config = config;
    this.#stats = stats;
    this.#logger = logger;
    this.#throttled = throttled;
    this.#onMessage = onMessage;
    this.#options = options;
    this.#requireTls = config.servers.some((s) => s.startsWith('tls://'));
  }

  /**
   * Connects (waiting as long as it takes for the first connection: refused credentials and
   * absent servers are retried) and subscribes. `onFatal` is called if the connection closes
   * for good without drain() (nats.js reconnects forever, so only on a bug or a closed client).
   * Resolves early, without connecting, if drain() is called first.
   */
  async start(onFatal: (error: Error) => void): Promise<void> {
    if (this.#nc !== undefined || this.#stopping) return;
    const wait = this.#options.reconnectWaitMs ?? 1000;
    const jitter = this.#options.reconnectJitterMs ?? 1000;
    for (;;) {
      try {
        const nc = await connect(this.#connectionOptions());
        if (this.#stopping) {
          await nc.close().catch(() => undefined);
          return;
        }
        this.#nc = nc;
        break;
      } catch (error) {
        if (this.#stopping) return;
        if (!this.#requireTls && isIdentityError(error)) {
          // The server asked for TLS and nats.js checked its certificate against the wrong name
          // (it has none for an IP address): insist on TLS, which lets us check the address.
          this.#requireTls = true;
          this.#logger.info({ servers: this.#config.servers }, 'NATS server requires TLS; checking its certificate against the address in NATS_URL');
          continue;
        }
        this.#reportConnectFailure(error);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait + Math.random() * jitter);
          timer.unref();
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        if (this.#stopping) return;
      }
    }
    const nc = this.#nc;
    const stats = this.#stats;
    stats.connected = true;
    stats.disconnectedSince = undefined;
    stats.authError = undefined;
    stats.lastMessageAt = Date.now();
    this.#logger.info({ server: nc.getServer(), subject: this.#config.subject, queue: this.#config.queue }, 'connected to NATS');
    void this.#watchStatus(nc);
    void nc.closed().then((error) => {
      stats.connected = false;
      stats.disconnectedSince ??= Date.now();
      this.#setUnsubscribed();
      if (this.#stopping) return;
      onFatal(error instanceof Error ? error : new Error('NATS connection closed'));
    });
    this.#subscribe();
  }

  /** Replaces the subscription (new sid); the stall watchdog calls it when the stream goes quiet. */
  subscribe(): void {
    if (this.#stopping || this.#nc === undefined) return;
    this.#subscribe();
  }

  /** Drops the connection and reconnects (the watchdog's second step); nats.js resubscribes. */
  async reconnect(): Promise<void> {
    if (this.#stopping || this.#nc === undefined || this.#nc.isClosed()) return;
    await this.#nc.reconnect();
  }

  /** Stops receiving: messages the server sent before are still handed over, then the connection closes. */
  async drain(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    clearTimeout(this.#resubscribeTimer);
    const nc = this.#nc;
    if (nc !== undefined && !nc.isClosed()) {
      // Draining a disconnected client would wait for a reconnect; close it instead.
      if (this.#stats.connected) await nc.drain().catch(() => nc.close());
      else await nc.close();
    }
    this.#stats.connected = false;
    this.#stats.disconnectedSince ??= Date.now();
    this.#setUnsubscribed();
  }

  #connectionOptions(): ConnectionOptions {
    const config = this.#config;
    const options = this.#options;
    return {
      // nats.js takes host:port; the scheme only decides whether TLS is insisted on.
      servers: natsAddresses(config.servers),
      ...(config.user !== undefined ? { user: config.user, pass: config.pass ?? '' } : {}),
      name: 'logferry',
      maxReconnectAttempts: -1,
      // By default nats.js stops after the same credentials error twice; the token may be fixed while we wait.
      ignoreAuthErrorAbort: true,
      reconnectTimeWait: options.reconnectWaitMs ?? 1000,
      reconnectJitter: options.reconnectJitterMs ?? 1000,
      reconnectJitterTLS: options.reconnectJitterMs ?? 1000,
      pingInterval: options.pingIntervalMs ?? 20_000,
      maxPingOut: options.maxPingsOut ?? 3,
      timeout: 20_000,
      // Keep the order of NATS_URL, like the configured list says; cluster members learnt from the server come after.
      noRandomize: true,
      reconnectToServer: (pool) => {
        this.#dialling = pool[0];
        return null;
      },
      // nats.js upgrades to TLS whenever the server asks; an object here insists on it.
      ...(this.#requireTls || options.tls !== undefined ? { tls: this.#tlsOptions() as ConnectionOptions['tls'] } : {}),
    };
  }

  #tlsOptions(): NodeTlsOptions {
    return dialledServerTls(() => this.#dialling, this.#options.tls);
  }

  #reportConnectFailure(error: unknown): void {
    const stats = this.#stats;
    if (isAuthError(error)) {
      stats.authErrors++;
      stats.authError = errorMessage(error);
      this.#throttled.error('nats:auth', { err: stats.authError }, 'NATS refused the credentials (check ORG and ACCESS_TOKEN); retrying');
      return;
    }
    this.#throttled.warn('nats:connect', { servers: this.#config.servers, err: errorMessage(error) }, 'cannot connect to NATS; retrying');
  }

  /** One subscription at a time: a new one replaces (and unsubscribes) the old. */
  #subscribe(): void {
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed() || this.#stopping) return;
    clearTimeout(this.#resubscribeTimer);
    this.#resubscribeTimer = undefined;
    const old = this.#sub;
    this.#sub = undefined;
    if (old !== undefined && !old.isClosed()) old.unsubscribe();
    this.#setUnsubscribed();
    const onMessage = this.#onMessage;
    const throttled = this.#throttled;
    let sub: Subscription;
    try {
      sub = nc.subscribe(this.#config.subject, {
        ...(this.#config.queue !== undefined && this.#config.queue !== '' ? { queue: this.#config.queue } : {}),
        // Called synchronously by the client's parser for each message, in order: no queue in the
        // client to overflow, so nothing is dropped there (see docs/ARCHITECTURE.md, "Source").
        callback: (error: Error | null, msg: Msg) => {
          if (error !== null) {
            this.#onSubscriptionError(sub, error);
            return;
          }
          const data = asBuffer(msg.data);
          try {
            onMessage(msg.subject, data, 0, data.length, Date.now());
          } catch (handlerError) {
            // A bug downstream, not a NATS problem: skip the message; an exception here would stop the client's reader.
            throttled.error('nats:handler', { err: errorMessage(handlerError) }, 'handling a NATS message failed; skipped it');
          }
        },
      });
    } catch (error) {
      this.#onSubscriptionError(undefined, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#sub = sub;
    // A refusal may come only as the subscription closing with an error.
    void sub.closed.then((result) => {
      if (result instanceof Error) this.#onSubscriptionError(sub, result);
    });
    this.#confirmSubscribed(sub);
  }

  /** The server answers in order: once the PONG for a PING sent after SUB is back, a refusal would have come first. */
  #confirmSubscribed(sub: Subscription): void {
    const nc = this.#nc;
    if (nc === undefined) return;
    nc.flush().then(
      () => {
        if (this.#sub !== sub || sub.isClosed() || !this.#stats.connected) return;
        const stats = this.#stats;
        if (!stats.subscribed) {
          stats.subscribed = true;
          stats.subscribedOnce = true;
          stats.unsubscribedSince = undefined;
          stats.lastMessageAt = Date.now();
          if (stats.subscriptionError !== undefined) this.#logger.info({ subject: this.#config.subject }, 'NATS accepted the subscription');
          stats.subscriptionError = undefined;
        }
      },
      () => undefined, // disconnected before the PONG: the reconnect confirms again
    );
  }

  #onSubscriptionError(sub: Subscription | undefined, error: Error): void {
    if (sub !== undefined && this.#sub !== sub) return;
    if (this.#resubscribeTimer !== undefined || this.#stopping) return; // both the callback and `closed` report it
    this.#sub = undefined;
    const stats = this.#stats;
    this.#setUnsubscribed();
    stats.subscriptionRefusals++;
    stats.subscriptionError = errorMessage(error);
    const refused = isSubscriptionRefusal(error);
    this.#throttled.error(
      refused ? 'nats:subscription-refused' : 'nats:subscription',
      { subject: this.#config.subject, queue: this.#config.queue, err: stats.subscriptionError },
      refused ? 'NATS refused the subscription to SUBJECT (check the token’s permissions); retrying' : 'the NATS subscription failed; retrying',
    );
    this.#resubscribeTimer = setTimeout(() => {
      this.#resubscribeTimer = undefined;
      this.#subscribe();
    }, this.#options.resubscribeWaitMs ?? 5000);
    this.#resubscribeTimer.unref();
  }

  #setUnsubscribed(): void {
    const stats = this.#stats;
    if (stats.subscribed) {
      stats.subscribed = false;
      stats.unsubscribedSince = Date.now();
    }
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) this.#onStatus(status);
  }

  #onStatus(status: Status): void {
    const stats = this.#stats;
    switch (status.type) {
      case 'disconnect':
        if (this.#stopping) return;
        stats.connected = false;
        stats.disconnects++;
        stats.disconnectedSince ??= Date.now();
        this.#setUnsubscribed();
        this.#throttled.warn('nats:disconnect', { server: status.server }, 'disconnected from NATS; reconnecting');
        return;
      case 'reconnect': {
        stats.connected = true;
        stats.reconnects++;
        stats.disconnectedSince = undefined;
        stats.authError = undefined;
        this.#logger.info({ server: status.server }, 'reconnected to NATS');
        // nats.js sent the SUB again; confirm it (or subscribe now if it was refused before).
        const sub = this.#sub;
        if (sub !== undefined && !sub.isClosed()) this.#confirmSubscribed(sub);
        else if (this.#resubscribeTimer === undefined) this.#subscribe();
        return;
      }
      case 'error': {
        const error = status.error;
        if (isSubscriptionRefusal(error)) return; // reported by the subscription itself
        if (isAuthError(error)) {
          stats.authErrors++;
          stats.authError = errorMessage(error);
          this.#throttled.error('nats:auth', { err: stats.authError }, 'NATS refused the credentials (check ORG and ACCESS_TOKEN); retrying');
          return;
        }
        if (/slow consumer/i.test(error.message)) stats.slowConsumer++;
        this.#throttled.warn('nats:error', { err: errorMessage(error) }, 'NATS reported an error');
        return;
      }
      case 'slowConsumer':
        stats.slowConsumer++;
        this.#throttled.warn('nats:slow-consumer', { pending: status.pending }, 'NATS subscription is a slow consumer');
        return;
      case 'staleConnection':
        this.#throttled.warn('nats:stale', {}, 'NATS connection went stale; reconnecting');
        return;
      case 'ldm':
        this.#logger.info({ server: status.server }, 'NATS server entering lame duck mode; moving to another server when it closes the connection');
        return;
      case 'update':
        if ((status.added?.length ?? 0) > 0 || (status.deleted?.length ?? 0) > 0) {
          this.#logger.info({ added: status.added ?? [], deleted: status.deleted ?? [] }, 'NATS cluster servers changed');
        }
        return;
      default:
        return;
    }
  }
}

/** nats.js takes host:port; the scheme (nats:// or tls://) only decides whether TLS is insisted on. */
export function natsAddresses(servers: readonly string[]): string[] {
  return servers.map((s) => s.replace(/^(nats|tls):\/\//, ''));
}

/**
 * nats.js sets the TLS servername from the host name and leaves it empty for an IP address;
 * Node then checks the certificate against "localhost". Check it against the address dialled
 * (recorded by the connection's `reconnectToServer` hook), for the agent and `logferry check` alike.
 */
export function dialledServerTls(dialling: () => Server | undefined, base: NodeTlsOptions = {}): NodeTlsOptions {
  return {
    ...base,
    checkServerIdentity: (name: string, cert: PeerCertificate) => {
      const server = dialling();
      const host = server === undefined ? name : server.tlsName !== '' ? server.tlsName : isIP(server.hostname) !== 0 ? server.hostname : name;
      return checkServerIdentity(host, cert);
    },
  };
}
