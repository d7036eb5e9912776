// SigNoz from fly-log-shipper's secrets SIGNOZ_INGESTION_KEY and SIGNOZ_URI (default
// https://ingest.us.signoz.cloud/logs/vector; regions us, eu, in).
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, shownUrl } from '../shared/vendor-config.js';

export interface SignozConfig {
  readonly ingestionKey: string;
  readonly url: URL;
}

export const SIGNOZ_DEFAULT_URI = 'https://ingest.us.signoz.cloud/logs/vector';

export function readSignozConfig(env: EnvReader): SignozConfig | undefined {
  const ingestionKey = readSecret(env, 'SIGNOZ_INGESTION_KEY');
  if (ingestionKey === undefined) {
    requireFor(env, 'SIGNOZ_INGESTION_KEY', ['SIGNOZ_URI']);
    return undefined;
  }
  return { ingestionKey, url: readEndpoint(env, 'SIGNOZ_URI') ?? new URL(SIGNOZ_DEFAULT_URI) };
}

export function describeSignoz(config: SignozConfig): string {
  return `signoz → ${shownUrl(config.url)} (JSON array, signoz-access-token)`;
}
