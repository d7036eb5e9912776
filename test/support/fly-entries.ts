// Fly-shaped log entries for tests and benchmarks, deterministic from a seed. The shape is
// exactly what Fly's NATS stream carries (see test/fixtures/fly-log-samples.ndjson): keys
// event, fly, host, log, message, timestamp (RFC3339 with 9 fractional digits), published
// on `logs.<app>.<region>.<instance>`. Every message carries a unique id (`req_id`) that
// idOf() recovers from the entry a sink delivered, so tests can check exactly-once.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type FlyEntryKind = 'access' | 'json' | 'stack' | 'unicode' | 'ansi' | 'large' | 'proxy' | 'quoted';

export interface FlyEntry {
  readonly id: string;
  readonly subject: string;
  /** The JSON text published (one line). */
  readonly payload: string;
  readonly app: string;
  readonly region: string;
  readonly instance: string;
  readonly kind: FlyEntryKind;
}

export interface FlyEntryOptions {
  readonly apps?: readonly string[];
  readonly seed?: number;
  /** Prefix of every id (default `s<seed>-`); give waves of one test different prefixes. */
  readonly idPrefix?: string;
  /** Timestamp of the first entry, ms since epoch. */
  readonly startMs?: number;
  /** Only these kinds (default: the realistic mix). */
  readonly kinds?: readonly FlyEntryKind[];
}

export const DEFAULT_APPS: readonly string[] = ['shop-api', 'terrateam-app-production', 'edge-cache', 'billing-worker'];

const REGIONS = ['ams', 'iad', 'sjc', 'fra', 'syd', 'nrt', 'gru', 'lhr'] as const;

// Cumulative weights of the realistic mix (out of 1000): ~2 % are 8 KiB lines.
const MIX: ReadonlyArray<readonly [FlyEntryKind, number]> = [
  ['access', 400],
  ['json', 600],
  ['stack', 680],
  ['unicode', 780],
  ['ansi', 870],
  ['proxy', 920],
  ['quoted', 980],
  ['large', 1000],
];

/** mulberry32: small, fast, good enough for test data, and stable across Node versions. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Instance {
  readonly app: string;
  readonly id: string;
  readonly region: string;
  readonly zone: string | undefined;
  readonly host: string;
  readonly processGroup: string | undefined;
}

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

const PATHS = ['/api/v1/items', '/api/v1/orders', '/healthz', '/static/app.js', '/graphql', '/login'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const STATUSES = [200, 200, 200, 201, 204, 301, 404, 500, 503];
const LEVELS = ['info', 'info', 'warn', 'error', 'debug'];
const UNICODE = ['ünïcødé “quotes” 🚀', '日本語のログ行 ✅', 'Ελληνικά — ñandú 🦀', 'emoji 👩‍💻🔥 and zwj', 'مرحبا بالعالم'];
const LARGE_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ';

function message(kind: FlyEntryKind, id: string, rand: () => number, nowMs: number): { text: string; level: string; provider: string } {
  const n = Math.floor(rand() * 100_000);
  switch (kind) {
    case 'access': {
      const ip = `10.${n % 256}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`;
      return {
        text: `${ip} - - "${pick(rand, METHODS)} ${pick(rand, PATHS)}/${n} HTTP/1.1" ${pick(rand, STATUSES)} ${Math.floor(rand() * 50_000)} ${Math.floor(rand() * 900)}ms req_id=${id}`,
        level: 'info',
        provider: 'app',
      };
    }
    case 'json':
      return {
        text: JSON.stringify({ level: pick(rand, LEVELS), time: nowMs, msg: 'payment provider timeout', req_id: id, order_id: n, latency_ms: Math.floor(rand() * 30_000) }),
        level: 'info',
        provider: 'app',
      };
    case 'stack':
      return {
        text: `Error: webhook rejected req_id=${id}\n    at handle (/app/src/server.js:88:13)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n    at async Router.dispatch (/app/node_modules/router/index.js:${n % 500}:7)`,
        level: 'error',
        provider: 'app',
      };
    case 'unicode':
      return { text: `${pick(rand, UNICODE)} \\ backslash \t tab req_id=${id}`, level: 'info', provider: 'app' };
    case 'ansi':
      return { text: `\u001b[32mINFO\u001b[0m  [jobs] processed ${n} jobs in ${(rand() * 5).toFixed(1)}s \u001b[1;31mreq_id=${id}\u001b[0m`, level: 'info', provider: 'app' };
    case 'proxy':
      return { text: `could not find a good candidate within ${n % 90} attempts at load balancing req_id=${id}`, level: 'error', provider: 'proxy' };
    case 'quoted':
      return { text: `<div class="x">'single' & "double"</div>\r\nCRLF line, NUL-free \u0007 bell req_id=${id}`, level: 'warn', provider: 'app' };
    case 'large': {
      const head = `req_id=${id} dump=`;
      let body = '';
      while (head.length + body.length < 8192) body += LARGE_CHARS[Math.floor(rand() * LARGE_CHARS.length)];
      return { text: head + body, level: 'debug', provider: 'app' };
    }
  }
}

/** `2026-11-26T20:34:37.000412877Z`: the millisecond part from `ms`, six more digits of nanoseconds. */
function flyTimestamp(ms: number, subMs: number): string {
  return `${new Date(ms).toISOString().slice(0, -1)}${String(subMs).padStart(6, '0')}Z`;
}

export function makeFlyEntries(n: number, options: FlyEntryOptions = {}): FlyEntry[] {
  const seed = options.seed ?? 1;
  const rand = prng(seed);
  const apps = options.apps ?? DEFAULT_APPS;
  const prefix = options.idPrefix ?? `s${seed}-`;
  const kinds = options.kinds;
  const startMs = options.startMs ?? Date.UTC(2026, 10, 26, 20, 0, 0);

  // A few machines per app, like a real org.
  const instances: Instance[] = [];
  for (const app of apps) {
    for (let k = 0; k < 3; k++) {
      const region = pick(rand, REGIONS);
      const zoneful = rand() < 0.7;
      const zone = zoneful ? hex(rand, 4) : undefined;
      instances.push({
        app,
        id: hex(rand, 14),
        region,
        zone,
        host: zone ?? hex(rand, 4),
        processGroup: rand() < 0.8 ? pick(rand, ['app', 'app', 'worker']) : undefined,
      });
    }
  }

  const out: FlyEntry[] = [];
  let ms = startMs;
  const width = String(Math.max(n - 1, 0)).length;
  for (let i = 0; i < n; i++) {
    const inst = instances[Math.floor(rand() * instances.length)]!;
    let kind: FlyEntryKind;
    if (kinds !== undefined) {
      kind = kinds[i % kinds.length]!;
    } else {
      const r = rand() * 1000;
      kind = MIX.find(([, upTo]) => r < upTo)![0];
    }
    ms += Math.floor(rand() * 4);
    const id = `${prefix}${String(i).padStart(width, '0')}`;
    const m = message(kind, id, rand, ms);
    const flyApp: Record<string, string> = { instance: inst.id, name: inst.app };
    if (inst.processGroup !== undefined) flyApp.process_group = inst.processGroup;
    const fly: Record<string, unknown> = { app: flyApp, region: inst.region };
    if (inst.zone !== undefined) fly.zone = inst.zone;
    const body = {
      event: { provider: m.provider },
      fly,
      host: inst.host,
      log: { level: m.level },
      message: m.text,
      timestamp: flyTimestamp(ms, Math.floor(rand() * 1_000_000)),
    };
    out.push({
      id,
      subject: `logs.${inst.app}.${inst.region}.${inst.id}`,
      payload: JSON.stringify(body),
      app: inst.app,
      region: inst.region,
      instance: inst.id,
      kind,
    });
  }
  return out;
}

const ID = /req_id(?:=|":")([A-Za-z0-9_-]+)/;

/** The id of a delivered entry (parsed JSON object), from its message; undefined when it has none. */
export function idOf(entry: unknown): string | undefined {
  if (entry === null || typeof entry !== 'object') return undefined;
  const m = (entry as { message?: unknown }).message;
  if (typeof m !== 'string') return undefined;
  return ID.exec(m)?.[1];
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SAMPLE_FIXTURE = join(ROOT, 'test', 'fixtures', 'fly-log-samples.ndjson');
const SHARED_SAMPLES = '/work/shared/fly-log-samples.ndjson';

/** The real Fly sample lines (one JSON object per line) from test/fixtures. */
export function loadSampleLines(): string[] {
  if (!existsSync(SAMPLE_FIXTURE) && existsSync(SHARED_SAMPLES)) {
    mkdirSync(dirname(SAMPLE_FIXTURE), { recursive: true });
    copyFileSync(SHARED_SAMPLES, SAMPLE_FIXTURE);
  }
  return readFileSync(SAMPLE_FIXTURE, 'utf8').split('\n').filter((l) => l.trim() !== '');
}
