// The partition folder of each entry without rendering the template each time: the core
// asks for it per entry, and with the default template it changes only when the app or the
// UTC hour does. One remembered folder per app, checked against the timestamp's hour prefix.
import { LRUCache } from 'lru-cache';
import { isUtcZ, ownString, utcTimestampStartsWith, type LogEntry } from '../../src/intake/entry.js';
import type { PartitionTemplate } from '../shared/object-key.js';

// An organisation has hundreds of apps at most; past this the least recently seen app goes.
const MAX_APPS = 10_000;

/** `app`: the folder depends on the app alone; `app-hour`: on the app and the UTC hour; `render`: on more (region, instance). */
type Mode = 'app' | 'app-hour' | 'render';

interface Slot {
  /** `YYYY-MM-DDTHH` of the timestamps this folder is for ('' in `app` mode). */
  prefix: string;
  folder: string;
}

/** Same answers as `template.render(entry)`, cheaper when the same app and hour repeat. */
export class PartitionCache {
  readonly #template: PartitionTemplate;
  readonly #mode: Mode;
  readonly #byApp = new LRUCache<string, Slot>({ max: MAX_APPS });

  constructor(template: PartitionTemplate) {
    this.#template = template;
    const t = template.template;
    if (t.includes('{region}') || t.includes('{instance}')) this.#mode = 'render';
    else this.#mode = /\{(?:date|hour|year|month|day)\}/.test(t) ? 'app-hour' : 'app';
  }

  folder(entry: LogEntry): string {
    const mode = this.#mode;
    if (mode === 'render') return this.#template.render(entry);
    // The common case, checked on the entry's bytes without decoding its timestamp: same app,
    // same UTC hour as the folder remembered for it.
    const slot = this.#byApp.get(entry.app);
    if (slot !== undefined && (mode === 'app' || utcTimestampStartsWith(entry, slot.prefix))) return slot.folder;
    const ts = entry.timestamp;
    // The template takes date and hour from the first 13 characters of a UTC "...Z"
    // timestamp (utcDateHour); any other form goes through Date, so it is not cached.
    if (mode === 'app-hour' && !isUtcZ(ts)) return this.#template.render(entry);
    const folder = this.#template.render(entry);
    // Compared with every entry's timestamp: a string of its own, not a slice of this one.
    const prefix = mode === 'app' ? '' : ownString(ts.slice(0, 13));
    if (slot !== undefined) {
      slot.prefix = prefix;
      slot.folder = folder;
    } else {
      this.#byApp.set(entry.app, { prefix, folder });
    }
    return folder;
  }
}
