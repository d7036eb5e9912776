// Stands in for a Papertrail log destination: a TLS syslog server (certificate made with
// openssl for the test: CN localhost, SAN localhost and 127.0.0.1) that parses octet-counted
// frames (RFC 6587 §3.4.1) and checks each is an RFC 5424 message; a frame cut short by a
// closed connection is discarded, as a syslog server does. On demand it drops a connection
// mid-stream: after N more frames it destroys the socket, discarding whatever followed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  readonly dir: string;
  readonly certPath: string;
  readonly cert: string;
  readonly key: string;
  remove(): void;
}

/** A self-signed certificate for localhost / 127.0.0.1 (it is its own CA). */
export function makeTestCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'logferry-papertrail-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
  return { dir, certPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SyslogFrame {
  readonly pri: number;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly msg: string;
}

export interface PapertrailReceiver {
  readonly port: number;
  readonly endpoint: string;
  readonly frames: SyslogFrame[];
  readonly violations: string[];
  /** Connections accepted so far. */
  connections: number;
  /** Drops the current connection after `n` more complete frames. */
  dropAfter(n: number): void;
  /** Entries parsed from the frames' messages (codec json). */
  entries(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) (-|\[.*?\]) ?([\s\S]*)$/;

export async function startPapertrailReceiver(cert: TestCertificate): Promise<PapertrailReceiver> {
  const frames: SyslogFrame[] = [];
  const violations: string[] = [];
  const sockets = new Set<TLSSocket>();
  let dropIn: number | undefined;
  const state = { connections: 0 };

  const server: Server = createServer({ key: cert.key, cert: cert.cert }, (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const space = pending.indexOf(0x20);
        if (space === -1) break;
        const lenText = pending.toString('ascii', 0, space);
        if (!/^[1-9]\d{0,8}$/.test(lenText)) {
          violations.push(`bad frame length "${lenText.slice(0, 20)}"`);
          socket.destroy();
          return;
        }
        const len = Number(lenText);
        if (pending.length < space + 1 + len) break;
        const text = pending.toString('utf8', space + 1, space + 1 + len);
        pending = pending.subarray(space + 1 + len);
        const m = RFC5424.exec(text);
        if (!m) violations.push(`not RFC 5424: ${text.slice(0, 80)}`);
        else frames.push({ pri: Number(m[1]), timestamp: m[2]!, hostname: m[3]!, appName: m[4]!, msg: m[8]! });
        if (dropIn !== undefined && --dropIn <= 0) {
          dropIn = undefined;
          // Everything after this frame (in this chunk and in flight) is lost with the connection.
          socket.destroy();
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    endpoint: `127.0.0.1:${port}`,
    frames,
    violations,
    get connections() {
      return state.connections;
    },
    dropAfter(n) {
      dropIn = n;
    },
    entries: () => frames.map((f) => JSON.parse(f.msg) as Record<string, unknown>),
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
