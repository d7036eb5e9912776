// Reading the agent's /metrics (Prometheus text exposition format) in tests.
export interface Sample {
  /** Series name as written, e.g. `logferry_sink_request_duration_seconds_bucket`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedMetrics {
  readonly samples: readonly Sample[];
  /** Metric families declared with # HELP or # TYPE (declared even before any series exists). */
  readonly families: ReadonlyMap<string, { type?: string; help?: string }>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;

export function parseMetrics(text: string): ParsedMetrics {
  const samples: Sample[] = [];
  const families = new Map<string, { type?: string; help?: string }>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (m) {
        const f = families.get(m[2]!) ?? {};
        if (m[1] === 'TYPE') f.type = m[3];
        else f.help = m[3];
        families.set(m[2]!, f);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    samples.push({ name: m[1]!, labels: m[3] !== undefined ? parseLabels(m[3], line) : {}, value: parseValue(m[4]!, line) });
  }
  return { samples, families };
}

function parseValue(text: string, line: string): number {
  // prom-client writes NaN as "Nan"; accept any case.
  const l = text.toLowerCase();
  if (l === '+inf' || l === 'inf') return Number.POSITIVE_INFINITY;
  if (l === '-inf') return Number.NEGATIVE_INFINITY;
  if (l === 'nan') return Number.NaN;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`bad sample value in metrics line: ${line}`);
  return n;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (i >= text.length) break;
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') throw new Error(`bad labels in metrics line: ${line}`);
    const key = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        j++;
        const c = text[j];
        value += c === 'n' ? '\n' : (c ?? '');
      } else {
        value += text[j];
      }
    }
    if (j >= text.length) throw new Error(`unterminated label value in metrics line: ${line}`);
    labels[key] = value;
    i = j + 1;
  }
  return labels;
}

function familyOf(name: string, families: ReadonlyMap<string, unknown>): boolean {
  if (families.has(name)) return true;
  for (const suffix of ['_bucket', '_count', '_sum', '_total', '_created']) {
    if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length))) return true;
  }
  return false;
}

function matches(sample: Sample, name: string, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (sample.name !== name) return false;
  if (labels === undefined) return true;
  for (const [k, v] of Object.entries(labels)) if (sample.labels[k] !== v) return false;
  return true;
}

/** Every series of `name` whose labels include `labels`. */
export function metricSeries(text: string | ParsedMetrics, name: string, labels?: Readonly<Record<string, string>>): Sample[] {
  const parsed = typeof text === 'string' ? parseMetrics(text) : text;
  return parsed.samples.filter((s) => matches(s, name, labels));
}

/**
 * Sum over the series of `name` whose labels include `labels` (0 when the metric is
 * declared but has no such series yet, as a labelled counter before its first increment).
 * Throws when the metric does not exist at all, so a misspelt name fails loudly.
 */
export function metricValue(text: string | ParsedMetrics, name: string, labels?: Readonly<Record<string, string>>): number {
  const parsed = typeof text === 'string' ? parseMetrics(text) : text;
  let sum = 0;
  let found = false;
  for (const s of parsed.samples) {
    if (matches(s, name, labels)) {
      sum += s.value;
      found = true;
    }
  }
  if (!found && !familyOf(name, parsed.families) && !parsed.samples.some((s) => s.name === name)) {
    const prefix = name.split('_').slice(0, 2).join('_');
    const known = [...new Set(parsed.samples.map((s) => s.name).filter((n) => n.startsWith(prefix)))].slice(0, 40);
    throw new Error(`metric ${name} is not exported; known ${prefix}* series: ${known.join(', ') || '(none)'}`);
  }
  return sum;
}

export interface SinkAccounting {
  readonly received: number;
  readonly delivered: number;
  readonly rejected: number;
  readonly dropped: number;
  readonly pending: number;
}

/** The per-sink counters whose invariant is received = delivered + rejected + dropped + pending. */
export function sinkAccounting(text: string | ParsedMetrics, sink: string): SinkAccounting {
  const parsed = typeof text === 'string' ? parseMetrics(text) : text;
  const l = { sink };
  return {
    received: metricValue(parsed, 'logferry_sink_entries_received_total', l),
    delivered: metricValue(parsed, 'logferry_sink_entries_delivered_total', l),
    rejected: metricValue(parsed, 'logferry_sink_entries_rejected_total', l),
    dropped: metricValue(parsed, 'logferry_sink_entries_dropped_total', l),
    pending: metricValue(parsed, 'logferry_sink_entries_pending', l),
  };
}

export function accountingBalances(a: SinkAccounting): boolean {
  return a.received === a.delivered + a.rejected + a.dropped + a.pending;
}
