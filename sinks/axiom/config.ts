// Axiom from fly-log-shipper's secrets AXIOM_TOKEN and AXIOM_DATASET (Vector's `axiom` sink).
// AXIOM_URL (Vector's name for it) points it elsewhere: a URL without a path gets
// /v1/datasets/<dataset>/ingest appended, one with a path is used as it is.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, requireSecret, shownUrl, withPath } from '../shared/vendor-config.js';

export interface AxiomConfig {
  readonly token: string;
  readonly dataset: string;
  /** The ingest URL. */
  readonly url: URL;
}

export const AXIOM_CLOUD_URL = 'https://api.axiom.co';

export function readAxiomConfig(env: EnvReader): AxiomConfig | undefined {
  const token = readSecret(env, 'AXIOM_TOKEN');
  if (token === undefined) {
    requireFor(env, 'AXIOM_TOKEN', ['AXIOM_DATASET', 'AXIOM_URL']);
    return undefined;
  }
  const dataset = requireSecret(env, 'AXIOM_DATASET', 'AXIOM_TOKEN', 'the name of the Axiom dataset to ingest into');
  // Dataset names are path segments; a slash would address another API.
  if (dataset.includes('/')) throw new ConfigError('AXIOM_DATASET', 'must not contain "/"');
  const base = readEndpoint(env, 'AXIOM_URL');
  const ingestPath = `v1/datasets/${encodeURIComponent(dataset)}/ingest`;
  const url = base === undefined ? withPath(new URL(AXIOM_CLOUD_URL), ingestPath) : base.pathname === '/' || base.pathname === '' ? withPath(base, ingestPath) : base;
  return { token, dataset, url };
}

export function describeAxiom(config: AxiomConfig): string {
  return `axiom → ${shownUrl(config.url)} (NDJSON, gzip, bearer auth)`;
}
