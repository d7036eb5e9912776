// Humio / Falcon LogScale settings, as fly-log-shipper reads them: HUMIO_TOKEN (an ingest
// token) and HUMIO_ENDPOINT (optional; Vector's default https://cloud.humio.com).
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, withPath } from '../shared/vendor-config.js';

export interface HumioConfig {
  readonly token: string;
  readonly hecUrl: URL;
  readonly statusUrl: URL;
}

export function readHumioConfig(env: EnvReader): HumioConfig | undefined {
  const token = readSecret(env, 'HUMIO_TOKEN');
  if (token === undefined) {
    requireFor(env, 'HUMIO_TOKEN', ['HUMIO_ENDPOINT']);
    return undefined;
  }
  const base = readEndpoint(env, 'HUMIO_ENDPOINT', { bare: true }) ?? new URL('https://cloud.humio.com');
  return { token, hecUrl: withPath(base, '/api/v1/ingest/hec'), statusUrl: withPath(base, '/api/v1/status') };
}

export function describeHumio(c: HumioConfig): string {
  return `humio → ${c.hecUrl.protocol}//${c.hecUrl.host}${c.hecUrl.pathname} (HEC, gzip)`;
}
