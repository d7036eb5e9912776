// Message → entry → every sink's pipeline. The per-message path: one subject lookup
// (cached), an exclusion check, one parse, one accept per sink.
import { parseFlyPayload, parseSubject } from './entry.js';
import type { ThrottledLog } from './logger.js';
import type { SinkPipeline } from './sink-pipeline.js';
import { bump, type SourceStats } from './stats.js';

export class EntryRouter {
  readonly #pipelines: readonly SinkPipeline[];
  readonly #excluded: ReadonlySet<string>;
  readonly #stats: SourceStats;
  readonly #throttled: ThrottledLog;
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

  readonly handle = (subject: string, data: Uint8Array): void => {
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
    const result = parseFlyPayload(parts, data, Date.now());
    if (result.kind === 'dropped') {
      bump(stats.dropped, result.reason);
      this.#throttled.warn(`source:${result.reason}`, { reason: result.reason }, 'message dropped');
      return;
    }
    const entry = result.entry;
    if (subjectApp === '' && excluded.size > 0 && excluded.has(entry.app)) {
      bump(stats.dropped, 'excluded_app');
      return;
    }
    if (result.malformed !== undefined) {
      bump(stats.malformed, result.malformed);
      this.#throttled.warn(`source:malformed:${result.malformed}`, { reason: result.malformed, subject }, 'message is not a Fly JSON entry; shipping it with its raw text');
    }
    for (const p of this.#pipelines) p.accept(entry);
  };
}
