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
