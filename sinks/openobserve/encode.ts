// OpenObserve answers 200 with per-stream counts even when some records were refused:
// {"code":200,"status":[{"name":"<stream>","successful":N,"failed":M,"error":"…"}]}.
// The failed ones are counted as rejected; the rest were stored.
import type { HttpAnswer } from '../shared/http-request.js';
import type { PartialAnswer } from '../shared/vendor-http.js';

export function openobservePartial(answer: HttpAnswer): PartialAnswer | undefined {
  let parsed: { status?: unknown };
  try {
    parsed = JSON.parse(answer.body) as { status?: unknown };
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed?.status)) return undefined;
  let failed = 0;
  for (const stream of parsed.status as Array<{ failed?: unknown }>) {
    if (typeof stream?.failed === 'number' && Number.isSafeInteger(stream.failed) && stream.failed > 0) failed += stream.failed;
  }
  return failed > 0 ? { rejected: failed, reason: 'openobserve_failed' } : undefined;
}
