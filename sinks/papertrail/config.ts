// Papertrail settings, as fly-log-shipper reads them: PAPERTRAIL_ENDPOINT (`host:port` of
// your log destination) and PAPERTRAIL_ENCODING_CODEC (json, the default: the entry's
// JSON as the syslog message; text: only its message).
import { isIP } from 'node:net';
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';

export type PapertrailCodec = 'json' | 'text';

export interface PapertrailConfig {
  readonly host: string;
  readonly port: number;
  readonly codec: PapertrailCodec;
}

export function readPapertrailConfig(env: EnvReader): PapertrailConfig | undefined {
  const endpoint = env.raw('PAPERTRAIL_ENDPOINT');
  if (endpoint === undefined) {
    if (env.has('PAPERTRAIL_ENCODING_CODEC')) throw new ConfigError('PAPERTRAIL_ENDPOINT', 'is required when PAPERTRAIL_ENCODING_CODEC is set');
    return undefined;
  }
  // host:port, a bracketed IPv6 literal allowed; a scheme in front (as some copy it) is tolerated.
  const m = /^(?:[a-z]+:\/\/)?(\[[0-9a-f:.]+\]|[^\s:/[\]]+):(\d{1,5})\/?$/i.exec(endpoint);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw new ConfigError('PAPERTRAIL_ENDPOINT', `expected host:port such as logs3.papertrailapp.com:12345, got "${endpoint}"`);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  if (m[1]!.startsWith('[') && isIP(host) !== 6) throw new ConfigError('PAPERTRAIL_ENDPOINT', `has an invalid IPv6 address, got "${endpoint}"`);
  return { host, port, codec: env.oneOf('PAPERTRAIL_ENCODING_CODEC', ['json', 'text'] as const, 'json') };
}

export function describePapertrail(c: PapertrailConfig): string {
  return `papertrail → ${c.host}:${c.port} (syslog RFC 5424 over TLS, ${c.codec} messages)`;
}
