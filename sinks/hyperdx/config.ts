// HyperDX from fly-log-shipper's secret HYPERDX_API_KEY. HYPERDX_ENDPOINT (logferry's) replaces
// https://in.hyperdx.io?hdx_platform=flyio, e.g. for a self-hosted HyperDX or a test.
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, shownUrl } from '../shared/vendor-config.js';

export interface HyperdxConfig {
  readonly apiKey: string;
  readonly url: URL;
}

export const HYPERDX_DEFAULT_URL = 'https://in.hyperdx.io/?hdx_platform=flyio';

export function readHyperdxConfig(env: EnvReader): HyperdxConfig | undefined {
  const apiKey = readSecret(env, 'HYPERDX_API_KEY');
  if (apiKey === undefined) {
    requireFor(env, 'HYPERDX_API_KEY', ['HYPERDX_ENDPOINT']);
    return undefined;
  }
  return { apiKey, url: readEndpoint(env, 'HYPERDX_ENDPOINT') ?? new URL(HYPERDX_DEFAULT_URL) };
}

export function describeHyperdx(config: HyperdxConfig): string {
  return `hyperdx → ${shownUrl(config.url)} (JSON array, bearer auth)`;
}
