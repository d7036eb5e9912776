// Axiom's ingest answer is 200 with counts even when some events were refused:
// {"ingested":N,"failed":M,"failures":[{"timestamp":"…","error":"…"}],"processedBytes":…}.
// The refused ones are counted as rejected; the rest were stored.
import type { HttpAnswer } from '../shared/http-request.js';
import type { PartialAnswer } from '../shared/vendor-http.js';

export function axiomPartial(answer: HttpAnswer): PartialAnswer | undefined {
  let status: { failed?: unknown };
  try {
    status = JSON.parse(answer.body) as { failed?: unknown };
  } catch {
    // A 2xx without the status body: the request was accepted whole.
    return undefined;
  }
  const failed = typeof status?.failed === 'number' && Number.isSafeInteger(status.failed) ? status.failed : 0;
  return failed > 0 ? { rejected: failed, reason: 'axiom_failed' } : undefined;
}
