// Papertrail: octet-counted RFC 5424 syslog over one kept-open TLS connection. A send
// writes the batch's frames and resolves once the socket has taken them (the write
// callback); a connection that fails is dropped and the next send opens a new one.
//
// Delivery guarantee (at least once, not exactly once): syslog over TCP has no
// application-level acknowledgement, and a written byte may still sit in the kernel's
// buffers when the connection drops. So the sink keeps the last REPLAY_WINDOW_BYTES it
// wrote, and after a connection closes it writes them again first on the next one: a drop
// loses nothing that was written within that window, and its entries may appear twice in
// Papertrail. A batch whose own write failed is not in the window: the core retries it.
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { classifyFailure, SinkNetworkError, type FailureAction } from '../../src/errors.js';
import type { Batch, EncodedBatch, Sink } from '../../src/pipeline/sink.js';
import type { PapertrailConfig } from './config.js';
import { buildSyslogFrames } from './encode.js';

/** More than loopback and typical WAN socket buffers hold between a write and its delivery. */
export const REPLAY_WINDOW_BYTES = 8 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;

export interface PapertrailSinkOptions {
  /** Extra CA certificates (tests; the agent trusts its CAs through NODE_EXTRA_CA_CERTS). */
  readonly ca?: string | Buffer;
}

export class PapertrailSink implements Sink {
  readonly name = 'papertrail';
  readonly kind = 'papertrail' as const;
  readonly #c: PapertrailConfig;
  readonly #options: PapertrailSinkOptions;
  #socket: TLSSocket | undefined;
  #connecting: Promise<TLSSocket> | undefined;
  // Bodies written lately (newest last) and their total size.
  #window: Buffer[] = [];
  #windowBytes = 0;
  #replayPending = false;
  #closed = false;
  /** Connections opened and replays made (tests and logs). */
  readonly counters = { connections: 0, replays: 0, replayedBytes: 0 };

  constructor(config: PapertrailConfig, options: PapertrailSinkOptions = {}) {
    this.#c = config;
    this.#options = options;
  }

  encode(batch: Batch): EncodedBatch {
    const built = buildSyslogFrames(batch, this.#c.codec);
    return { body: built.plain, entryCount: built.entryCount, ...(Object.keys(built.adjusted ?? {}).length > 0 ? { adjusted: built.adjusted } : {}) };
  }

  async send(encoded: EncodedBatch, _batch: Batch, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (encoded.entryCount === 0) return;
    const socket = await this.#connected(signal);
    if (this.#replayPending) {
      this.#replayPending = false;
      const replay = this.#window.slice();
      this.counters.replays++;
      for (const body of replay) {
        await write(socket, body, this.#where());
        this.counters.replayedBytes += body.length;
      }
    }
    // The body is the sink's own buffer (encode made it): keeping it does not hold the core's batch.
    const body = Buffer.from(encoded.body.buffer, encoded.body.byteOffset, encoded.body.length);
    await write(socket, body, this.#where());
    this.#remember(body);
  }

  #remember(body: Buffer): void {
    this.#window.push(body);
    this.#windowBytes += body.length;
    while (this.#windowBytes > REPLAY_WINDOW_BYTES && this.#window.length > 1) this.#windowBytes -= this.#window.shift()!.length;
  }

  #where(): string {
    return `${this.#c.host}:${this.#c.port}`;
  }

  #connected(signal: AbortSignal): Promise<TLSSocket> {
    if (this.#closed) return Promise.reject(new SinkNetworkError('papertrail: the sink is closed'));
    if (this.#socket !== undefined && !this.#socket.destroyed) return Promise.resolve(this.#socket);
    this.#connecting ??= this.#open(signal).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  #open(signal: AbortSignal): Promise<TLSSocket> {
    const { host, port } = this.#c;
    return new Promise<TLSSocket>((resolve, reject) => {
      // Certificates are verified (rejectUnauthorized defaults to true).
      const socket = connect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ...(this.#options.ca !== undefined ? { ca: this.#options.ca } : {}) });
      const fail = (why: string, cause?: unknown): void => {
        cleanup();
        socket.destroy();
        reject(new SinkNetworkError(`papertrail: cannot connect to ${this.#where()}: ${why}`, { cause }));
      };
      const onError = (e: Error & { code?: string }): void => fail(e.code ? `${e.message} (${e.code})` : e.message, e);
      const onAbort = (): void => fail('aborted', signal.reason);
      const timer = setTimeout(() => fail(`no connection after ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS);
      timer.unref();
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        signal.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('secureConnect', () => {
        cleanup();
        this.counters.connections++;
        this.#socket = socket;
        socket.setKeepAlive(true, 30_000);
        // Papertrail sends nothing back; reading keeps a half-closed peer from going unnoticed.
        socket.on('data', () => undefined);
        socket.on('error', () => undefined);
        socket.once('close', () => {
          if (this.#socket === socket) this.#socket = undefined;
          // What was written lately may not have arrived: write it again on the next connection.
          if (this.#window.length > 0) this.#replayPending = true;
        });
        resolve(socket);
      });
    });
  }

  classify(error: unknown): FailureAction {
    return classifyFailure(error);
  }

  /** Opens the connection (and verifies the certificate); it is kept for the first batch. */
  async healthcheck(signal: AbortSignal): Promise<void> {
    await this.#connected(signal);
  }

  close(): Promise<void> {
    this.#closed = true;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined || socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 2000).unref();
    });
  }
}

/** Writes `body` and resolves once the socket has taken it; rejects when the connection fails first. */
function write(socket: TLSSocket, body: Buffer, where: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (socket.destroyed || !socket.writable) {
      reject(new SinkNetworkError(`papertrail: the connection to ${where} is closed`));
      return;
    }
    const onClose = (): void => reject(new SinkNetworkError(`papertrail: the connection to ${where} closed while writing`));
    socket.once('close', onClose);
    socket.write(body, (error) => {
      socket.off('close', onClose);
      if (error) reject(new SinkNetworkError(`papertrail: writing to ${where} failed: ${error.message}`, { cause: error }));
      else resolve();
    });
  });
}
