// Better Stack (formerly Logtail) from fly-log-shipper's secrets: BETTER_STACK_SOURCE_TOKEN, or
// LOGTAIL_TOKEN when that is not set, and BETTER_STACK_INGESTING_HOST (default
// in.logs.betterstack.com), used as https://<host>. A value with a scheme (http://host:port/)
// is taken as the whole URL (logferry's addition, for a receiver of one's own or a test).
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, shownUrl } from '../shared/vendor-config.js';

export interface BetterStackConfig {
  readonly sourceToken: string;
  /** Which secret the token came from (for the start-up log). */
  readonly tokenVariable: 'BETTER_STACK_SOURCE_TOKEN' | 'LOGTAIL_TOKEN';
  readonly url: URL;
}

export const BETTER_STACK_DEFAULT_HOST = 'in.logs.betterstack.com';

export function readBetterStackConfig(env: EnvReader): BetterStackConfig | undefined {
  const tokenVariable = env.has('BETTER_STACK_SOURCE_TOKEN') ? 'BETTER_STACK_SOURCE_TOKEN' : 'LOGTAIL_TOKEN';
  const sourceToken = readSecret(env, tokenVariable);
  if (sourceToken === undefined) {
    requireFor(env, 'BETTER_STACK_SOURCE_TOKEN', ['BETTER_STACK_INGESTING_HOST']);
    return undefined;
  }
  return { sourceToken, tokenVariable, url: readHost(env) };
}

function readHost(env: EnvReader): URL {
  const host = env.raw('BETTER_STACK_INGESTING_HOST');
  if (host === undefined) return new URL(`https://${BETTER_STACK_DEFAULT_HOST}/`);
  if (host.includes('://')) return readEndpoint(env, 'BETTER_STACK_INGESTING_HOST')!;
  // A host name (and optional port) only, as Better Stack shows it on the source's page.
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(host)) throw new ConfigError('BETTER_STACK_INGESTING_HOST', `expected a host name such as ${BETTER_STACK_DEFAULT_HOST}, got "${host}"`);
  return new URL(`https://${host}/`);
}

export function describeBetterStack(config: BetterStackConfig): string {
  return `betterstack → ${shownUrl(config.url)} (JSON array, "dt" as the time field, bearer auth from ${config.tokenVariable})`;
}
