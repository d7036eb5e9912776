// Free loopback ports for servers that must be told their port up front (nats-server,
// the agent's metrics listener). Ports handed out in this process are never handed out
// again, so two helpers asking at once cannot collide with each other.
import { createServer } from 'node:net';

const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      // Bind on all interfaces: the agent listens on [::], nats-server on 127.0.0.1.
      server.listen({ port: 0, host: '::', ipv6Only: false }, () => {
        const address = server.address();
        const p = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: no free port found after 50 attempts');
}

/**
 * Keeps `port` bound while a test's server is "down", so no other process (tests run in
 * parallel workers) can take it meanwhile: another test's server answering there would be
 * taken for the sink. Every connection is reset at once, which to a client is a server that
 * is down. Returns the release, to call just before the real server listens again.
 */
export async function holdPort(port: number): Promise<() => Promise<void>> {
  const server = createServer((socket) => socket.resetAndDestroy());
  // A held port never keeps a test process alive.
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '::', ipv6Only: false }, () => resolve());
  });
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
