// fly-log-shipper's remap for Logflare: `.level = .log.level`, so Logflare can filter on it.
import { parseLine } from '../shared/vendor-http.js';

export function logflareLine(raw: string): string {
  const entry = parseLine(raw);
  const log = entry.log as { level?: unknown } | undefined;
  // VRL sets null when there is no log.level; so does this.
  entry.level = log !== null && typeof log === 'object' && log.level !== undefined ? log.level : null;
  return JSON.stringify(entry);
}
