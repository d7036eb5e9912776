// AppSignal from fly-log-shipper's secret APPSIGNAL_PUSH_API_KEY (Vector's `appsignal` sink).
// APPSIGNAL_ENDPOINT (logferry's) points it elsewhere, e.g. a test receiver.
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, shownUrl } from '../shared/vendor-config.js';

export interface AppsignalConfig {
  readonly pushApiKey: string;
  /** Base URL; batches go to `<endpoint>/vector/events`. */
  readonly endpoint: URL;
}

export const APPSIGNAL_DEFAULT_ENDPOINT = 'https://appsignal-endpoint.net';

export function readAppsignalConfig(env: EnvReader): AppsignalConfig | undefined {
  const pushApiKey = readSecret(env, 'APPSIGNAL_PUSH_API_KEY');
  if (pushApiKey === undefined) {
    requireFor(env, 'APPSIGNAL_PUSH_API_KEY', ['APPSIGNAL_ENDPOINT']);
    return undefined;
  }
  return { pushApiKey, endpoint: readEndpoint(env, 'APPSIGNAL_ENDPOINT') ?? new URL(APPSIGNAL_DEFAULT_ENDPOINT) };
}

export function describeAppsignal(config: AppsignalConfig): string {
  return `appsignal → ${shownUrl(config.endpoint)} (JSON array of {"log": entry}, gzip, bearer auth)`;
}
