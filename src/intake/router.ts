// Message → entry → every sink's pipeline. The per-message path: one subject lookup
// (cached), an exclusion check, one in-place scan of the payload, one accept per sink
// (which copies the bytes into its open batch). Nothing per message is allocated here.
import { EntryView, intake, parseSubject } from './entry.js';
import type { ThrottledLog } from '../ops/logger.js';
import type { SinkPipeline } from '../pipeline/sink-pipeline.js';
import { bump, type SourceStats } from '../ops/stats.js';

export class EntryRouter {
  readonly #pipelines: readonly SinkPipeline[];
  readonly #excluded: ReadonlySet<string>;
  readonly #stats: SourceStats;
  readonly #throttled: ThrottledLog;
  // One view for every message: pipelines copy what they keep before the next arrives.
  readonly #view = new EntryView();
  #accepting = true;

  constructor(pipelines: readonly SinkPipeline[], excluded: ReadonlySet<string>, stats: SourceStats, throttled: ThrottledLog) {
    this.#pipelines = pipelines;
    this.#excluded = excluded;
    this.#stats = stats;
    this.#throttled = throttled;
  }

  /** After shutdown's deadline, late messages are counted rather than buffered. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** One NATS message: its payload is `buf[start, end)`, valid only during the call. */
  readonly handle = (subject: string, buf: Buffer, start: number, end: number, receivedAtMs: number): void => {
    const stats = this.#stats;
    stats.messagesReceived++;
    if (!this.#accepting) {
      bump(stats.dropped, 'shutdown');
      return;
    }
    const excluded = this.#excluded;
    const parts = parseSubject(subject);
    const subjectApp = parts.app;
    if (subjectApp !== '' && excluded.has(subjectApp)) {
      bump(stats.dropped, 'excluded_app');
      return;
    }
    const entry = this.#view;
    const outcome = intake(parts, buf, start, end, receivedAtMs, entry);
    if (outcome === 'empty_payload') {
      bump(stats.dropped, outcome);
      this.#throttled.warn(`source:${outcome}`, { reason: outcome }, 'message dropped');
      return;
    }
    if (subjectApp === '' && excluded.size > 0 && excluded.has(entry.app)) {
      bump(stats.dropped, 'excluded_app');
      return;
    }
    if (outcome !== 'entry') {
      bump(stats.malformed, outcome);
      this.#throttled.warn(`source:malformed:${outcome}`, { reason: outcome, subject }, 'message is not a Fly JSON entry; shipping it with its raw text');
    }
    const pipelines = this.#pipelines;
    for (let i = 0; i < pipelines.length; i++) pipelines[i]!.accept(entry);
  };
}
