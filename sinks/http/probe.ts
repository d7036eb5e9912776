// The HTTP sink's start-up check: open (and for https, verify) a connection to the
// endpoint and close it again. A generic endpoint has no read-only request, and any
// request could create data, so this proves only what can be proved harmlessly: the
// name resolves, the port answers and the certificate is valid for the host.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { SinkNetworkError } from '../../src/errors.js';

export async function probeConnection(url: URL, timeoutMs: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const secure = url.protocol === 'https:';
  // URL keeps IPv6 literals bracketed; sockets want them bare.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port !== '' ? Number(url.port) : secure ? 443 : 80;
  const where = `${host}:${port}`;

  await new Promise<void>((resolve, reject) => {
    let socket: Socket;
    const fail = (why: string, cause?: unknown): void => {
      cleanup();
      socket.destroy();
      reject(new SinkNetworkError(`cannot connect to ${where}: ${why}`, { cause }));
    };
    const onError = (error: Error & { code?: string }): void => fail(error.code ? `${error.message} (${error.code})` : error.message, error);
    const onAbort = (): void => fail('aborted', signal.reason);
    const onTimeout = (): void => fail(`no connection after ${timeoutMs} ms`);
    const onConnected = (): void => {
      cleanup();
      socket.destroy();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    // rejectUnauthorized defaults to true: certificates are verified as for real requests.
    socket = secure
      ? tlsConnect({ host, port, servername: isIP(host) === 0 ? host : undefined, ALPNProtocols: ['http/1.1'] }, onConnected)
      : netConnect({ host, port }, onConnected);
    socket.once('error', onError);
    const timer = setTimeout(onTimeout, timeoutMs);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
