// Axiom's ingest answer is 200 with counts even when some events were refused:
// {"ingested":N,"failed":M,"failures":[{"timestamp":"…","error":"…"}, …],"processedBytes":…}.
// The refused ones are counted as rejected; the rest were stored. `failures` has one item per
// refused event, so a large refusal outgrows the 64 KiB of an answer the transport keeps: the
// count is then read from the head of the body, where Axiom puts it.
import type { HttpAnswer } from '../shared/http-request.js';
import type { PartialAnswer } from '../shared/vendor-http.js';

const FAILED_COUNT = /^\s*\{[^[{]*?"failed"\s*:\s*(\d+)/;

export function axiomPartial(answer: HttpAnswer): PartialAnswer | undefined {
  let failed = 0;
  try {
    const status = JSON.parse(answer.body) as { failed?: unknown };
    if (typeof status?.failed === 'number' && Number.isSafeInteger(status.failed)) failed = status.failed;
  } catch {
    // Cut short (or not JSON): the top-level count, if it is there before any nested value.
    const m = FAILED_COUNT.exec(answer.body);
    if (m) failed = Number(m[1]);
  }
  return failed > 0 ? { rejected: failed, reason: 'axiom_failed' } : undefined;
}
