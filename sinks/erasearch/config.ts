// EraSearch settings, as fly-log-shipper reads them: ERASEARCH_URL (the Elasticsearch-
// compatible endpoint), ERASEARCH_INDEX, and ERASEARCH_AUTH, the whole Authorization value
// ("Bearer <api key>" for cloud.era.co, "Basic <base64>" otherwise; optional). The
// destination is on when ERASEARCH_URL and ERASEARCH_INDEX are set, as there.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { BULK_FILTER_PATH } from '../shared/es-bulk.js';
import { readEndpoint, requireFor, withPath } from '../shared/vendor-config.js';

export interface EraSearchConfig {
  readonly bulkUrl: URL;
  readonly index: string;
  readonly authorization: string | undefined;
}

// Elasticsearch index names: lower case, none of \ / * ? " < > | , # : or space, not starting with - _ +.
const INDEX = /^[^-_+A-Z\\/*?"<>|,#: ][^A-Z\\/*?"<>|,#: ]*$/;

export function readEraSearchConfig(env: EnvReader): EraSearchConfig | undefined {
  const url = readEndpoint(env, 'ERASEARCH_URL', { bare: true });
  if (url === undefined) {
    requireFor(env, 'ERASEARCH_URL', ['ERASEARCH_INDEX', 'ERASEARCH_AUTH']);
    return undefined;
  }
  const index = env.required('ERASEARCH_INDEX', 'the index to write to');
  if (!INDEX.test(index) || Buffer.byteLength(index) > 255) throw new ConfigError('ERASEARCH_INDEX', `is not a valid index name (lower case, no spaces or \\ / * ? " < > | , # :), got "${index}"`);
  const authorization = env.raw('ERASEARCH_AUTH');
  if (authorization !== undefined && /[\r\n\0]/.test(authorization)) throw new ConfigError('ERASEARCH_AUTH', 'must not contain line breaks or NUL characters (value not shown)');
  const bulkUrl = withPath(url, '/_bulk');
  bulkUrl.searchParams.set('filter_path', BULK_FILTER_PATH);
  return { bulkUrl, index, authorization };
}

export function describeEraSearch(c: EraSearchConfig): string {
  return `erasearch → ${c.bulkUrl.protocol}//${c.bulkUrl.host}${c.bulkUrl.pathname} (index ${c.index}, ${c.authorization === undefined ? 'no auth' : `${c.authorization.split(' ')[0]} auth`})`;
}
