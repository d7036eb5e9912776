// Highlight from fly-log-shipper's secret HIGHLIGHT_PROJECT_ID. HIGHLIGHT_ENDPOINT (logferry's)
// replaces https://pub.highlight.io/v1/logs/json, e.g. for a self-hosted Highlight or a test.
import { ConfigError } from '../../src/errors.js';
import type { EnvReader } from '../../src/config/env.js';
import { readEndpoint, readSecret, requireFor, shownUrl } from '../shared/vendor-config.js';

export interface HighlightConfig {
  readonly projectId: string;
  readonly url: URL;
}

export const HIGHLIGHT_DEFAULT_URL = 'https://pub.highlight.io/v1/logs/json';

export function readHighlightConfig(env: EnvReader): HighlightConfig | undefined {
  const projectId = readSecret(env, 'HIGHLIGHT_PROJECT_ID');
  if (projectId === undefined) {
    requireFor(env, 'HIGHLIGHT_PROJECT_ID', ['HIGHLIGHT_ENDPOINT']);
    return undefined;
  }
  if (!/^[A-Za-z0-9_-]+$/.test(projectId)) throw new ConfigError('HIGHLIGHT_PROJECT_ID', 'expected the project id shown in Highlight (letters, digits, "_", "-")');
  return { projectId, url: readEndpoint(env, 'HIGHLIGHT_ENDPOINT') ?? new URL(HIGHLIGHT_DEFAULT_URL) };
}

export function describeHighlight(config: HighlightConfig): string {
  return `highlight → ${shownUrl(config.url)} (NDJSON, gzip, x-highlight-project)`;
}
