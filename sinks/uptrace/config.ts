// Uptrace from fly-log-shipper's secrets UPTRACE_API_KEY and UPTRACE_PROJECT (both needed, as
// there). UPTRACE_ENDPOINT (logferry's) replaces https://api.uptrace.dev/api/v1/vector-logs;
// the DSN names api.uptrace.dev, as fly-log-shipper's does.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, requireSecret, shownUrl } from '../shared/vendor-config.js';

export interface UptraceConfig {
  readonly apiKey: string;
  readonly project: string;
  readonly url: URL;
  /** `https://<key>@<host>/<project>`: a secret. */
  readonly dsn: string;
}

export const UPTRACE_DEFAULT_URL = 'https://api.uptrace.dev/api/v1/vector-logs';

export function readUptraceConfig(env: EnvReader): UptraceConfig | undefined {
  const apiKey = readSecret(env, 'UPTRACE_API_KEY');
  if (apiKey === undefined) {
    requireFor(env, 'UPTRACE_API_KEY', ['UPTRACE_PROJECT', 'UPTRACE_ENDPOINT']);
    return undefined;
  }
  const project = requireSecret(env, 'UPTRACE_PROJECT', 'UPTRACE_API_KEY', 'the Uptrace project id');
  if (!/^[A-Za-z0-9_-]+$/.test(project)) throw new ConfigError('UPTRACE_PROJECT', 'expected the project id (letters, digits, "_", "-")');
  // fly-log-shipper's README lists these for its template; the only encoding it ever sent is JSON lines.
  const encoding = env.raw('UPTRACE_SINK_ENCODING');
  if (encoding !== undefined && encoding.toLowerCase() !== 'json') throw new ConfigError('UPTRACE_SINK_ENCODING', `logferry sends JSON lines only; unset it or set json, got "${encoding}"`);
  const url = readEndpoint(env, 'UPTRACE_ENDPOINT') ?? new URL(UPTRACE_DEFAULT_URL);
  return { apiKey, project, url, dsn: `https://${apiKey}@api.uptrace.dev/${project}` };
}

export function describeUptrace(config: UptraceConfig): string {
  return `uptrace → ${shownUrl(config.url)} (NDJSON, gzip, uptrace-dsn for project ${config.project})`;
}
