// A core-NATS subscriber connection, purpose-built for one subscription at a high message
// rate: socket, optional TLS upgrade, CONNECT/PING handshake, keepalive pings with stale
// detection, reconnect forever across the configured servers, resubscribe and drain.
// Messages go from the socket's data handler straight to one callback (see ProtocolReader);
// nothing is allocated per message here. What happens to the connection is reported
// through NatsClientStatus; the caller turns it into stats and log lines.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from 'node:tls';
import { LogferryError, errorMessage } from '../errors.js';
import { ProtocolReader, type NatsProtocolError, type ProtocolHandler, type ServerInfo } from './nats-protocol.js';

/**
 * Receives every message: its payload is `buf[start, end)`, valid only during the call (copy
 * what you keep); `receivedAtMs` is when the socket read that held it arrived.
 */
export type MessageHandler = (subject: string, buf: Buffer, start: number, end: number, receivedAtMs: number) => void;

export type NatsClientErrorCode =
  /** A connection attempt failed: refused, DNS, TLS, timeout, closed during the handshake. */
  | 'NATS_CONNECT'
  /** The server refused the credentials (Authorization Violation, authentication errors). */
  | 'NATS_AUTH'
  /** Any other -ERR from the server (Slow Consumer, Stale Connection, Permissions Violation…). */
  | 'NATS_SERVER_ERROR'
  /** The server sent bytes that are not NATS; the client reconnects. */
  | 'NATS_PROTOCOL'
  /** Pings went unanswered; the client reconnects. */
  | 'NATS_STALE'
  /** The message handler threw; the message is skipped. */
  | 'NATS_HANDLER'
  /** A server URL the client cannot use. */
  | 'NATS_BAD_SERVER';

export class NatsClientError extends LogferryError {
  declare readonly code: NatsClientErrorCode;
  /** The server (URL without credentials) the error concerns, when one does. */
  readonly server: string | undefined;
  constructor(code: NatsClientErrorCode, message: string, options?: { cause?: unknown; server?: string | undefined }) {
    super(code, message, options);
    this.server = options?.server;
  }
}

/** How the client tells its owner what happens to the connection. Called synchronously; must not throw. */
export interface NatsClientStatus {
  /** The first connection is up (handshake done, SUB sent). */
  connect(server: string): void;
  /** A connection is up again after a disconnect. */
  reconnect(server: string): void;
  /** An established connection was lost (not by drain/close); the client is reconnecting. */
  disconnect(server: string, cause: NatsClientError | undefined): void;
  /** Something went wrong; the client carries on (retrying, reconnecting or skipping). */
  error(error: NatsClientError): void;
  /** Too many pings unanswered: the client drops the connection and reconnects. */
  stale(server: string): void;
}

export interface NatsClientOptions {
  /** `nats://host:port` or `tls://host:port` (port 4222 by default; IPv6 as `[addr]:port`). */
  readonly servers: readonly string[];
  /** Credentials; without them a server URL's `user:pass@` is used. */
  readonly user?: string | undefined;
  readonly pass?: string | undefined;
  readonly subject: string;
  readonly queue?: string | undefined;
  /** Connection name the server shows in its monitoring. */
  readonly name?: string;
  /** Extra TLS options (a `ca` for a private CA, client certificates); certificates are always verified. */
  readonly tls?: TlsOptions;
  /** Keepalive PING interval (default 20 s). */
  readonly pingIntervalMs?: number;
  /** Unanswered pings that make the connection stale (default 3). */
  readonly maxPingsOut?: number;
  /** Wait between connection attempts: this plus a random 0..jitter (defaults 1000 + 1000 ms). */
  readonly reconnectWaitMs?: number;
  readonly reconnectJitterMs?: number;
  /** TCP connect + TLS + handshake must finish within this (default 20 s). */
  readonly connectTimeoutMs?: number;
  /** drain() closes anyway when its PONG has not come back by then (default 10 s). */
  readonly drainTimeoutMs?: number;
}

/** Sent in CONNECT; the server shows it in monitoring. Kept in step with package.json by hand. */
export const CLIENT_VERSION = '0.1.0';
export const DEFAULT_PORT = 4222;

interface ServerAddress {
  /** For logs and status: scheme, host and port, never credentials. */
  readonly display: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly user: string | undefined;
  readonly pass: string | undefined;
}

/** Parses `nats://[user:pass@]host[:port]` / `tls://…`; a bare `host:port` means nats://. */
export function parseServer(server: string): ServerAddress {
  let url: URL;
  try {
    url = new URL(server.includes('://') ? server : `nats://${server}`);
  } catch (cause) {
    throw new NatsClientError('NATS_BAD_SERVER', `not a NATS server URL: ${server.replace(/\/\/[^/@]*@/, '//***@')}`, { cause });
  }
  if ((url.protocol !== 'nats:' && url.protocol !== 'tls:') || url.hostname === '') {
    throw new NatsClientError('NATS_BAD_SERVER', `expected nats://host:port or tls://host:port, got ${url.protocol}//${url.host}`);
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    display: `${url.protocol}//${shownHost}:${port}`,
    host,
    port,
    tls: url.protocol === 'tls:',
    user: url.username !== '' ? decodeURIComponent(url.username) : undefined,
    pass: url.password !== '' ? decodeURIComponent(url.password) : undefined,
  };
}

/** Whether a server's -ERR means the credentials are refused. */
export function isAuthError(message: string): boolean {
  return /authorization violation|authentication|credentials have been revoked/i.test(message);
}

type Phase = 'handshake' | 'connected' | 'draining';

/** One connection attempt and, if it succeeds, the connection: its socket, reader and pings. */
class Connection {
  readonly server: ServerAddress;
  /** The TCP socket, or the TLS socket over it after the upgrade. */
  socket: Socket;
  reader: ProtocolReader;
  phase: Phase = 'handshake';
  /** One entry per PING in flight, in order: what to do when its PONG arrives. */
  readonly pongs: Array<(() => void) | undefined> = [];
  infoSeen = false;
  /** Why it ended, when we know better than the socket does. */
  failure: NatsClientError | undefined;
  /** The socket's own error, if any. */
  socketError: Error | undefined;
  /** The handshake's (or drain's) deadline. */
  timer: NodeJS.Timeout | undefined;
  /** When the read being handled arrived: one clock read per read, not per message (a read holds ~100). */
  readAtMs = 0;
  pinger: NodeJS.Timeout | undefined;

  constructor(server: ServerAddress, socket: Socket, handlerFor: (conn: Connection) => ProtocolHandler) {
    this.server = server;
    this.socket = socket;
    this.reader = new ProtocolReader(handlerFor(this));
  }
}

export class NatsClient {
  readonly #servers: readonly ServerAddress[];
  readonly #options: NatsClientOptions;
  readonly #onMessage: MessageHandler;
  readonly #status: NatsClientStatus;
  readonly #pingIntervalMs: number;
  readonly #maxPingsOut: number;
  readonly #reconnectWaitMs: number;
  readonly #reconnectJitterMs: number;
  readonly #connectTimeoutMs: number;
  readonly #drainTimeoutMs: number;
  #conn: Connection | undefined;
  #nextServer = 0;
  #lastAttemptAt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #started = false;
  #everConnected = false;
  #closing = false;
  #closed = false;
  /** The current subscription id; MSGs carrying another (an old subscription's) are ignored. */
  #sid = 1;
  #firstConnect: { resolve: (connected: boolean) => void; promise: Promise<boolean> } | undefined;
  readonly #closeWaiters: Array<() => void> = [];
  // One connection reads at a time and each read is handled before the next: one buffer serves all.
  readonly #readBuffer = Buffer.allocUnsafe(256 * 1024);

  constructor(options: NatsClientOptions, onMessage: MessageHandler, status: NatsClientStatus) {
    if (options.servers.length === 0) throw new NatsClientError('NATS_BAD_SERVER', 'no NATS server configured');
    this.#servers = options.servers.map(parseServer);
    this.#options = options;
    this.#onMessage = onMessage;
    this.#status = status;
    this.#pingIntervalMs = options.pingIntervalMs ?? 20_000;
    this.#maxPingsOut = options.maxPingsOut ?? 3;
    this.#reconnectWaitMs = options.reconnectWaitMs ?? 1000;
    this.#reconnectJitterMs = options.reconnectJitterMs ?? 1000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 20_000;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  }

  /** The server of the current connection (display form), if connected. */
  get server(): string | undefined {
    return this.#conn?.phase === 'connected' ? this.#conn.server.display : undefined;
  }

  get connected(): boolean {
    return this.#conn?.phase === 'connected';
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts connecting. Resolves true once the first connection is up and subscribed, however
   * long that takes (refused credentials are retried too), or false if close()/drain() came first.
   */
  connect(): Promise<boolean> {
    if (this.#firstConnect !== undefined) return this.#firstConnect.promise;
    let resolve!: (connected: boolean) => void;
    const promise = new Promise<boolean>((r) => (resolve = r));
    this.#firstConnect = { resolve, promise };
    if (this.#closing) resolve(false);
    else if (!this.#started) {
      this.#started = true;
      this.#attempt();
    }
    return promise;
  }

  /** Replaces the subscription with a new one (new sid); messages still arriving for the old one are ignored. */
  resubscribe(): void {
    const old = this.#sid;
    this.#sid++;
    const conn = this.#conn;
    if (conn?.phase === 'connected') this.#write(conn, `UNSUB ${old}\r\n${this.#subLine()}`);
  }

  /** Drops the connection now and connects again (to the next server). */
  reconnect(): void {
    const conn = this.#conn;
    if (conn === undefined || this.#closing) return;
    this.#lastAttemptAt = 0; // asked for: no need to wait
    this.#drop(conn, undefined);
  }

  /**
   * Stops the subscription and closes once every message the server sent before it is
   * handled (UNSUB, then PING and its PONG). Disconnected: just closes. Resolves when closed.
   */
  async drain(): Promise<void> {
    const conn = this.#conn;
    if (this.#closing) return this.#whenClosed();
    if (conn?.phase !== 'connected') return this.close();
    this.#closing = true;
    this.#settleFirstConnect(false);
    this.#clearRetry();
    conn.phase = 'draining';
    clearInterval(conn.pinger);
    conn.timer = setTimeout(() => this.#drop(conn, undefined), this.#drainTimeoutMs);
    conn.timer.unref();
    conn.pongs.push(() => this.#drop(conn, undefined));
    this.#write(conn, `UNSUB ${this.#sid}\r\nPING\r\n`);
    return this.#whenClosed();
  }

  /** Closes now, dropping whatever is in flight. Resolves when the socket is closed. */
  close(): Promise<void> {
    this.#closing = true;
    this.#settleFirstConnect(false);
    this.#clearRetry();
    const conn = this.#conn;
    if (conn !== undefined) this.#drop(conn, undefined);
    return this.#whenClosed();
  }

  #whenClosed(): Promise<void> {
    if (this.#conn === undefined) {
      this.#closed = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  #settleFirstConnect(connected: boolean): void {
    const first = this.#firstConnect;
    if (first === undefined) return;
    this.#firstConnect = { resolve: () => undefined, promise: first.promise };
    first.resolve(connected);
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #subLine(): string {
    const queue = this.#options.queue;
    return `SUB ${this.#options.subject}${queue !== undefined && queue !== '' ? ` ${queue}` : ''} ${this.#sid}\r\n`;
  }

  /** Attempts are at least reconnectWait (+ jitter) apart, counted from the previous attempt's start. */
  #scheduleAttempt(): void {
    if (this.#closing) return;
    const wait = this.#lastAttemptAt + this.#reconnectWaitMs + Math.random() * this.#reconnectJitterMs - Date.now();
    if (wait <= 0) {
      this.#attempt();
      return;
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#attempt();
    }, wait);
    this.#retryTimer.unref();
  }

  #attempt(): void {
    if (this.#closing) return;
    const server = this.#servers[this.#nextServer % this.#servers.length]!;
    this.#nextServer = (this.#nextServer + 1) % this.#servers.length;
    this.#lastAttemptAt = Date.now();
    let conn: Connection | undefined;
    const socket = netConnect({
      host: server.host,
      port: server.port,
      // Every read lands in one reused buffer (the reader copies what it keeps), so reading
      // tens of MB/s allocates nothing: a fresh Buffer per read was most of the agent's GC work.
      onread: {
        buffer: this.#readBuffer,
        callback: (bytes: number, buf: Uint8Array): boolean => {
          if (conn !== undefined) this.#read(conn, socket, (buf as Buffer).subarray(0, bytes));
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    conn = new Connection(server, socket, (c) => this.#protocolHandler(c));
    this.#conn = conn;
    this.#listen(conn, socket, false);
    conn.timer = setTimeout(() => {
      this.#drop(conn, new NatsClientError('NATS_CONNECT', `connecting to ${server.display} timed out after ${this.#connectTimeoutMs} ms`, { server: server.display }));
    }, this.#connectTimeoutMs);
    conn.timer.unref();
  }

  /** Feeds bytes to the connection's reader. */
  #read(conn: Connection, socket: Socket, chunk: Buffer): void {
    if (conn.socket !== socket) return;
    conn.readAtMs = Date.now();
    try {
      conn.reader.push(chunk);
    } catch (error) {
      // A bug in the reader must not take the agent down: treat it as a broken stream.
      this.#protocolFailure(conn, new NatsClientError('NATS_PROTOCOL', `reading from ${conn.server.display} failed: ${errorMessage(error)}`, { cause: error, server: conn.server.display }));
    }
  }

  /** Notices the socket closing and, for a TLS socket (which has no reused read buffer), feeds its data events to the reader. */
  #listen(conn: Connection, socket: Socket, dataEvents: boolean): void {
    if (dataEvents) socket.on('data', (chunk: Buffer) => this.#read(conn, socket, chunk));
    socket.on('error', (error: Error) => {
      conn.socketError ??= error;
    });
    socket.on('close', () => {
      if (conn.socket === socket) this.#closedConnection(conn);
    });
  }

  #protocolHandler(conn: Connection): ProtocolHandler {
    const onMessage = this.#onMessage;
    return {
      msg: (subject, sid, buf, start, end) => {
        if (sid !== this.#sid) return;
        try {
          onMessage(subject, buf, start, end, conn.readAtMs);
        } catch (error) {
          this.#status.error(new NatsClientError('NATS_HANDLER', `message handler failed on ${subject}: ${errorMessage(error)}`, { cause: error, server: conn.server.display }));
        }
      },
      info: (info) => this.#onInfo(conn, info),
      ping: () => this.#write(conn, 'PONG\r\n'),
      pong: () => {
        const then = conn.pongs.shift();
        if (then !== undefined) then();
      },
      ok: () => undefined,
      err: (message) => this.#onServerError(conn, message),
      protocolError: (error: NatsProtocolError) => {
        this.#protocolFailure(conn, new NatsClientError('NATS_PROTOCOL', `${error.message} (from ${conn.server.display})`, { cause: error, server: conn.server.display }));
      },
    };
  }

  #onInfo(conn: Connection, info: ServerInfo): void {
    // Later INFOs (cluster changes, lame duck mode) carry nothing this client acts on.
    if (conn.infoSeen) return;
    conn.infoSeen = true;
    if (conn.server.tls || info.tls_required === true) this.#upgradeToTls(conn);
    else this.#sendConnect(conn, false);
  }

  #upgradeToTls(conn: Connection): void {
    const raw = conn.socket;
    // The server waits for our ClientHello after INFO, so nothing else is in this chunk.
    conn.reader.stop();
    conn.reader = new ProtocolReader(this.#protocolHandler(conn));
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const host = conn.server.host;
    const secure = tlsConnect({ ...this.#options.tls, socket: raw, ...(isIP(host) === 0 ? { servername: host } : {}) });
    conn.socket = secure;
    this.#listen(conn, secure, true);
    secure.once('secureConnect', () => {
      if (conn.socket === secure) this.#sendConnect(conn, true);
    });
  }

  #sendConnect(conn: Connection, tls: boolean): void {
    const user = this.#options.user ?? conn.server.user;
    const pass = this.#options.user !== undefined ? this.#options.pass : conn.server.pass;
    const connect = {
      verbose: false,
      pedantic: false,
      tls_required: tls,
      name: this.#options.name ?? 'logferry',
      lang: 'node',
      version: CLIENT_VERSION,
      protocol: 1,
      headers: false,
      no_responders: false,
      echo: true,
      ...(user !== undefined ? { user, pass: pass ?? '' } : {}),
    };
    conn.pongs.push(() => this.#handshakeDone(conn));
    this.#write(conn, `CONNECT ${JSON.stringify(connect)}\r\nPING\r\n`);
  }

  #handshakeDone(conn: Connection): void {
    if (conn.phase !== 'handshake' || this.#conn !== conn) return;
    clearTimeout(conn.timer);
    conn.timer = undefined;
    conn.phase = 'connected';
    this.#write(conn, this.#subLine());
    conn.pinger = setInterval(() => this.#keepalive(conn), this.#pingIntervalMs);
    conn.pinger.unref();
    const server = conn.server.display;
    if (this.#everConnected) this.#status.reconnect(server);
    else {
      this.#everConnected = true;
      this.#status.connect(server);
    }
    this.#settleFirstConnect(true);
  }

  #keepalive(conn: Connection): void {
    if (conn.phase !== 'connected') return;
    if (conn.pongs.length >= this.#maxPingsOut) {
      this.#status.stale(conn.server.display);
      this.#drop(conn, new NatsClientError('NATS_STALE', `${conn.pongs.length} pings to ${conn.server.display} unanswered; reconnecting`, { server: conn.server.display }));
      return;
    }
    conn.pongs.push(undefined);
    this.#write(conn, 'PING\r\n');
  }

  #onServerError(conn: Connection, message: string): void {
    const server = conn.server.display;
    const auth = isAuthError(message);
    const error = new NatsClientError(auth ? 'NATS_AUTH' : 'NATS_SERVER_ERROR', `NATS server ${server} said: ${message}`, { server });
    if (conn.phase === 'handshake') {
      // Before the handshake's PONG any -ERR is a refused connection; the server closes it.
      conn.failure = error;
      this.#status.error(error);
      this.#drop(conn, error);
      return;
    }
    // After it, the server closes the connection itself when the error is fatal (slow consumer, stale, expired credentials).
    this.#status.error(error);
    if (auth) conn.failure ??= error;
  }

  #protocolFailure(conn: Connection, error: NatsClientError): void {
    if (this.#conn !== conn) return;
    conn.failure ??= error;
    this.#status.error(error);
    this.#drop(conn, error);
  }

  #write(conn: Connection, text: string): void {
    const socket = conn.socket;
    if (!socket.destroyed && socket.writable) socket.write(text);
  }

  /** Ends the connection now; the socket's 'close' does the rest. */
  #drop(conn: Connection, failure: NatsClientError | undefined): void {
    if (failure !== undefined) conn.failure ??= failure;
    conn.reader.stop();
    clearTimeout(conn.timer);
    clearInterval(conn.pinger);
    conn.socket.destroy();
  }

  #closedConnection(conn: Connection): void {
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    conn.reader.stop();
    clearTimeout(conn.timer);
    clearInterval(conn.pinger);
    const server = conn.server.display;
    if (this.#closing) {
      this.#closed = true;
      for (const resolve of this.#closeWaiters.splice(0)) resolve();
      return;
    }
    if (conn.phase === 'connected') {
      const cause =
        conn.failure ??
        (conn.socketError !== undefined ? new NatsClientError('NATS_CONNECT', `connection to ${server} failed: ${conn.socketError.message}`, { cause: conn.socketError, server }) : undefined);
      this.#status.disconnect(server, cause);
    } else if (conn.failure === undefined || conn.failure.code === 'NATS_CONNECT') {
      // Failures reported as they happened (refused credentials, protocol errors) are not reported twice.
      const why = conn.failure?.message ?? `cannot connect to ${server}: ${conn.socketError?.message ?? 'connection closed during the handshake'}`;
      this.#status.error(new NatsClientError('NATS_CONNECT', why, { cause: conn.socketError, server }));
    }
    this.#scheduleAttempt();
  }
}
