// What /health says: NATS connection, subscription and stall state, and each sink's state.
// 503 before the subscription exists or while the server refuses it, when NATS has been
// down or stalled past the threshold, or a sink has failed every attempt
// for longer than it (or refuses our credentials, or failed its start-up check).
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
    status: 'ok' | 'failing';
    nats: Record<string, unknown>;
    sinks: Record<string, Record<string, unknown>>;
  };
}

export function sinkState(stats: SinkStats, failAfterMs: number, now = Date.now()): SinkState {
  if (stats.authFailed) return 'auth_failed';
  if (stats.failingSince !== undefined) return now - stats.failingSince >= failAfterMs ? 'failing' : 'retrying';
  if (stats.healthcheckError !== undefined) return 'unhealthy';
  return 'ok';
}

export function isSinkHealthy(state: SinkState): boolean {
  return state === 'ok' || state === 'retrying';
}

function spoolFacts(read: (() => SpoolFacts) | undefined): Record<string, unknown> {
  if (read === undefined) return {};
  const f = read();
  return { ...(f.dir !== undefined ? { dir: f.dir } : {}), bytes: f.bytes, maxBytes: f.maxBytes, full: f.maxBytes > 0 ? Math.round((f.bytes / f.maxBytes) * 1000) / 1000 : 0 };
}

export function healthReport(inputs: HealthInputs, now = Date.now()): HealthReport {
  const { source, failAfterMs } = inputs;
  const downFor = source.disconnectedSince === undefined ? 0 : now - source.disconnectedSince;
  const silentFor = now - source.lastMessageAt;
  const unsubscribedFor = source.unsubscribedSince === undefined ? 0 : now - source.unsubscribedSince;
  // Not subscribed: failing before the first subscription, while the server refuses it, or past the threshold.
  const notSubscribed = !source.subscribed && (!source.subscribedOnce || source.subscriptionError !== undefined || unsubscribedFor >= failAfterMs);
  const natsFailing = notSubscribed || (!source.connected && downFor >= failAfterMs) || (source.stalled && silentFor >= Math.min(failAfterMs, inputs.stallTimeoutMs));
  const sinks: Record<string, Record<string, unknown>> = {};
  let sinksFailing = false;
  for (const s of inputs.sinks) {
    const state = sinkState(s.stats, failAfterMs, now);
    if (!isSinkHealthy(state)) sinksFailing = true;
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
  const failing = natsFailing || sinksFailing;
  return {
    httpStatus: failing ? 503 : 200,
    body: {
      status: failing ? 'failing' : 'ok',
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
