// The one HTTP listener: /metrics (Prometheus text) and /health (JSON). Dual-stack on
// [::] so Fly's IPv6 6PN and IPv4 scrapers both reach it.
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import type { HealthReport } from './health.js';
import type { Logger } from './logger.js';

// Required, not imported: an ES import of node:http reads every export, and its WebSocket
// getters load Node's bundled undici (fetch and all): ~2.4 MiB of heap and ~12 MiB resident
// for nothing (docs/ARCHITECTURE.md, "Where the resident memory is").
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export interface OpsServerOptions {
  readonly port: number;
  readonly registry: Registry;
  readonly health: () => HealthReport;
  readonly logger: Logger;
}

export function startOpsServer(opts: OpsServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => {
          opts.logger.error({ err }, 'could not render metrics');
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (path === '/health' || path === '/') {
      const report = opts.health();
      res.writeHead(report.httpStatus, { 'content-type': 'application/json' }).end(JSON.stringify(report.body));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n');
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      // Machines without IPv6 cannot bind [::]; fall back to IPv4 rather than not serving at all.
      if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL') {
        server.listen(opts.port, '0.0.0.0');
        return;
      }
      reject(err);
    };
    server.once('error', onError);
    server.listen({ port: opts.port, host: '::', ipv6Only: false }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}
