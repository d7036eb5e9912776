// Object and file names for the archive sinks (s3, file): Hive-style partition folders
// from a template, and file names that sort by time and never collide between agents.
import { ConfigError } from '../../src/errors.js';
import { utcDateHour, type LogEntry } from '../../src/intake/entry.js';

export const DEFAULT_PARTITION_TEMPLATE = 'app={app}/dt={date}/hour={hour}';

const FIELDS = ['app', 'region', 'instance', 'date', 'hour', 'year', 'month', 'day'] as const;
type Field = (typeof FIELDS)[number];
type Part = { readonly text: string } | { readonly field: Field };

// Keys stay portable across S3, R2, MinIO and local file systems.
function safeSegment(value: string): string {
  if (value === '') return 'unknown';
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned === '.' || cleaned === '..' ? '_' : cleaned;
}

/** A partition folder template such as `app={app}/dt={date}/hour={hour}`. */
export class PartitionTemplate {
  readonly template: string;
  readonly #parts: readonly Part[];
  readonly #needsTime: boolean;

  /** `variable` names the setting in the error when the template is invalid. */
  constructor(template: string, variable: string) {
    this.template = template.replace(/^\/+|\/+$/g, '');
    const parts: Part[] = [];
    const re = /\{([^}]*)\}/g;
    let last = 0;
    for (let m = re.exec(this.template); m !== null; m = re.exec(this.template)) {
      if (m.index > last) parts.push({ text: this.template.slice(last, m.index) });
      const name = m[1] as Field;
      if (!FIELDS.includes(name)) {
        throw new ConfigError(variable, `unknown placeholder {${m[1]}}; use ${FIELDS.map((f) => `{${f}}`).join(', ')}`);
      }
      parts.push({ field: name });
      last = re.lastIndex;
    }
    if (last < this.template.length) parts.push({ text: this.template.slice(last) });
    if (/[{}]/.test(parts.map((p) => ('text' in p ? p.text : '')).join(''))) {
      throw new ConfigError(variable, 'has an unbalanced { or }');
    }
    this.#parts = parts;
    this.#needsTime = parts.some((p) => 'field' in p && ['date', 'hour', 'year', 'month', 'day'].includes(p.field));
  }

  /** The folder (no leading or trailing slash) an entry belongs in. Called per entry: keep it cheap. */
  render(entry: LogEntry): string {
    const t = this.#needsTime ? utcDateHour(entry.timestamp, entry.receivedAtMs) : undefined;
    let out = '';
    for (const p of this.#parts) {
      if ('text' in p) {
        out += p.text;
        continue;
      }
      switch (p.field) {
        case 'app': out += safeSegment(entry.app); break;
        case 'region': out += safeSegment(entry.region); break;
        case 'instance': out += safeSegment(entry.instance); break;
        case 'date': out += t!.date; break;
        case 'hour': out += t!.hour; break;
        case 'year': out += t!.date.slice(0, 4); break;
        case 'month': out += t!.date.slice(5, 7); break;
        case 'day': out += t!.date.slice(8, 10); break;
      }
    }
    return out;
  }
}

/**
 * `20261126T203437.253Z-<agent>-000042.ndjson.gz`: sorts by the time of the batch's first
 * entry, then carries the batch's key (Batch.key: agent instance id and batch number), which
 * keeps two agents, two runs and two batches apart, and is the same on every replay of the
 * batch, so a replay replaces its own earlier copy instead of adding one.
 */
export function objectFileName(firstEntryMs: number, batchKey: string, extension = '.ndjson.gz'): string {
  const stamp = new Date(firstEntryMs).toISOString().replace(/[-:]/g, '');
  return `${stamp}-${safeSegment(batchKey)}${extension}`;
}
