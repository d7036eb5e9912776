// What /health says. Fly's health check gates `fly deploy`, so the status code answers one
// question: should this agent be rolled out (or kept)? 503 only for what a restart or a
// new version cannot fix by waiting: NATS or a sink refusing our configuration or
// credentials, no subscription, or nowhere left to hold entries (spool unusable or off, and
// the memory buffer full). A sink that is merely down, with room to hold entries, is the
// agent doing its job: 200, with the sink's full state in the body, /metrics and the alerts.
import type { SinkStats, SourceStats } from './stats.js';

/** What /health shows of a sink's disk spool. */
export interface SpoolFacts {
  readonly dir?: string;
  readonly bytes: number;
  readonly maxBytes: number;
}

export type SinkState = 'ok' | 'retrying' | 'failing' | 'auth_failed' | 'unhealthy';

export interface HealthInputs {
  readonly source: SourceStats;
  readonly sinks: ReadonlyArray<{ readonly name: string; readonly stats: SinkStats; readonly spool?: (() => SpoolFacts) | undefined }>;
  readonly failAfterMs: number;
  readonly stallTimeoutMs: number;
}

export interface HealthReport {
  readonly httpStatus: 200 | 503;
  readonly body: {
    status: 'ok' | 'degraded' | 'failing';
    /** Why the answer is 503 (or, with status degraded, what is wrong but still fine to deploy). */
    problems?: string[];
    nats: Record<string, unknown>;
    sinks: Record<string, Record<string, unknown>>;
  };
}

// The memory buffer counts as full from here: an entry of a few KiB no longer fits.
const MEMORY_FULL_FRACTION = 0.95;

export function sinkState(stats: SinkStats, failAfterMs: number, now = Date.now()): SinkState {
  if (stats.authFailed) return 'auth_failed';
  if (stats.failingSince !== undefined) return now - stats.failingSince >= failAfterMs ? 'failing' : 'retrying';
  if (stats.healthcheckError !== undefined) return 'unhealthy';
  return 'ok';
}

/** Delivering, or retrying for less than HEALTH_FAIL_AFTER (logferry_sink_up). */
export function isSinkHealthy(state: SinkState): boolean {
  return state === 'ok' || state === 'retrying';
}

function spoolFacts(read: (() => SpoolFacts) | undefined): Record<string, unknown> {
  if (read === undefined) return {};
  const f = read();
  return { ...(f.dir !== undefined ? { dir: f.dir } : {}), bytes: f.bytes, maxBytes: f.maxBytes, full: f.maxBytes > 0 ? Math.round((f.bytes / f.maxBytes) * 1000) / 1000 : 0 };
}

/** No room for more entries: the spool is off or unusable and the memory buffer is full. */
export function sinkHasNoRoom(stats: SinkStats): boolean {
  if (stats.spoolState === 'ok') return false;
  // A shared budget is full when all its sinks together fill it; this sink holds some of it.
  const used = stats.bufferBudget?.usedBytes ?? stats.bufferedBytes;
  const max = stats.bufferBudget?.limitBytes ?? stats.bufferMaxBytes;
  return max > 0 && stats.bufferedBytes > 0 && used >= MEMORY_FULL_FRACTION * max;
}

/** Why this sink should stop a deploy, or undefined when it should not. */
function sinkBlocksDeploy(name: string, stats: SinkStats): string | undefined {
  if (stats.authFailed) return `sink ${name}: credentials refused`;
  if (stats.healthcheckRefused && stats.healthcheckError !== undefined) return `sink ${name}: configuration refused by the sink`;
  if (sinkHasNoRoom(stats)) return `sink ${name}: memory buffer full and ${stats.spoolState === 'off' ? 'no spool' : 'spool unusable'}: entries are being dropped`;
  return undefined;
}

/** Why NATS should stop a deploy, or undefined when it should not. */
function natsBlocksDeploy(source: SourceStats, failAfterMs: number, now: number): string | undefined {
  if (source.authError !== undefined) return 'nats: credentials refused (ORG / ACCESS_TOKEN)';
  if (source.connected && source.subscriptionError !== undefined) return 'nats: subscription refused (SUBJECT not permitted)';
  if (!source.subscribed && !source.subscribedOnce) return 'nats: not subscribed yet';
  const unsubscribedFor = source.unsubscribedSince === undefined ? 0 : now - source.unsubscribedSince;
  if (!source.subscribed && source.subscribedOnce && unsubscribedFor >= failAfterMs) return 'nats: not subscribed';
  // Short disconnections are NATS's business (the client reconnects); a long one means not subscribed.
  const downFor = source.disconnectedSince === undefined ? 0 : now - source.disconnectedSince;
  if (!source.connected && downFor >= failAfterMs) return 'nats: not connected, so not subscribed';
  return undefined;
}

export function healthReport(inputs: HealthInputs, now = Date.now()): HealthReport {
  const { source, failAfterMs } = inputs;
  const downFor = source.disconnectedSince === undefined ? 0 : now - source.disconnectedSince;
  const silentFor = now - source.lastMessageAt;
  const problems: string[] = [];
  const warnings: string[] = [];
  const natsProblem = natsBlocksDeploy(source, failAfterMs, now);
  if (natsProblem !== undefined) problems.push(natsProblem);
  else if (!source.connected) warnings.push('nats: reconnecting');
  if (source.stalled) warnings.push('nats: stalled (no message for STALL_TIMEOUT; the watchdog resubscribes)');
  const sinks: Record<string, Record<string, unknown>> = {};
  for (const s of inputs.sinks) {
    const state = sinkState(s.stats, failAfterMs, now);
    const blocks = sinkBlocksDeploy(s.name, s.stats);
    if (blocks !== undefined) problems.push(blocks);
    else if (state !== 'ok') warnings.push(`sink ${s.name}: ${state}, holding entries`);
    sinks[s.name] = {
      state,
      pending: s.stats.pending,
      bufferedBytes: s.stats.bufferedBytes,
      bufferMaxBytes: s.stats.bufferMaxBytes,
      delivered: s.stats.delivered,
      ...(s.stats.failingSince !== undefined ? { failingForMs: now - s.stats.failingSince } : {}),
      ...(s.stats.lastError !== undefined && state !== 'ok' ? { lastError: s.stats.lastError } : {}),
      ...(s.stats.healthcheckError !== undefined ? { healthcheckError: s.stats.healthcheckError } : {}),
      ...(s.stats.spoolState !== 'off'
        ? { spool: { state: s.stats.spoolState, entries: s.stats.spooledEntries, ...spoolFacts(s.spool), ...(s.stats.spoolError !== undefined ? { error: s.stats.spoolError } : {}) } }
        : {}),
    };
  }
  const failing = problems.length > 0;
  return {
    httpStatus: failing ? 503 : 200,
    body: {
      status: failing ? 'failing' : warnings.length > 0 ? 'degraded' : 'ok',
      ...(failing || warnings.length > 0 ? { problems: [...problems, ...warnings] } : {}),
      nats: {
        connected: source.connected,
        ...(source.connected ? {} : { disconnectedForMs: downFor }),
        subscribed: source.subscribed,
        ...(source.subscriptionError !== undefined ? { subscriptionError: source.subscriptionError } : {}),
        ...(source.authError !== undefined ? { authError: source.authError } : {}),
        slowConsumer: source.slowConsumer,
        lastMessageAgoMs: silentFor,
        stalled: source.stalled,
        stalls: source.stalls,
        reconnects: source.reconnects,
      },
      sinks,
    },
  };
}
