// /health's answer (issue 18): 503 only for what should stop a Fly deploy (refused
// credentials or configuration, not subscribed, no room left for entries); 200 while a sink
// is merely down with room to hold entries, its state in the body.
import { describe, expect, it } from 'vitest';
import { healthReport } from '../../src/ops/health.js';
import { SinkStats, SourceStats } from '../../src/ops/stats.js';
import { subscribedSource } from '../support/source-stats.js';

const NOW = 1_800_000_000_000;
const FAIL_AFTER = 60_000;

const connected = (): SourceStats => subscribedSource(NOW - 1000);

function sink(over: Partial<SinkStats> = {}): SinkStats {
  const s = new SinkStats();
  s.bufferMaxBytes = 1_000_000;
  return Object.assign(s, over);
}

function report(source: SourceStats, stats: SinkStats) {
  return healthReport({ source, sinks: [{ name: 'loki', stats }], failAfterMs: FAIL_AFTER, stallTimeoutMs: 300_000 }, NOW);
}

describe('/health for deploys', () => {
  it('200 ok when everything works', () => {
    const r = report(connected(), sink());
    expect(r.httpStatus).toBe(200);
    expect(r.body.status).toBe('ok');
    expect(r.body.nats).toMatchObject({ connected: true, subscribed: true });
  });

  it('200 while a sink has failed for longer than HEALTH_FAIL_AFTER but memory has room', () => {
    const r = report(connected(), sink({ failingSince: NOW - 10 * 60_000, lastError: 'sink answered HTTP 503', bufferedBytes: 500_000, pending: 900 }));
    expect(r.httpStatus).toBe(200);
    expect(r.body.status).toBe('degraded');
    expect(r.body.sinks.loki).toMatchObject({ state: 'failing', pending: 900, lastError: 'sink answered HTTP 503', failingForMs: 600_000 });
    expect(r.body.problems).toEqual(['sink loki: failing, holding entries']);
  });

  it('200 while a sink is down with a working spool, even with memory full', () => {
    const r = report(connected(), sink({ failingSince: NOW - 10 * 60_000, bufferedBytes: 1_000_000, spoolState: 'ok' }));
    expect(r.httpStatus).toBe(200);
  });

  it('503 when memory is full and the spool is unusable (or off): entries are being dropped', () => {
    for (const spoolState of ['degraded', 'off'] as const) {
      const r = report(connected(), sink({ failingSince: NOW - 1000, bufferedBytes: 990_000, spoolState }));
      expect(r.httpStatus).toBe(503);
      expect(r.body.problems?.[0]).toMatch(/memory buffer full/);
    }
  });

  it('200 when the spool is unusable but memory has room', () => {
    expect(report(connected(), sink({ bufferedBytes: 100, spoolState: 'degraded' })).httpStatus).toBe(200);
  });

  it('503 when a sink refused the credentials', () => {
    const r = report(connected(), sink({ authFailed: true, lastError: 'HTTP 401' }));
    expect(r.httpStatus).toBe(503);
    expect(r.body.sinks.loki!.state).toBe('auth_failed');
    expect(r.body.problems).toEqual(['sink loki: credentials refused']);
  });

  it('503 when the start-up healthcheck was refused (configuration), 200 when the sink was only unreachable', () => {
    const refused = report(connected(), sink({ healthcheckError: 'bucket "x" does not exist', healthcheckRefused: true }));
    expect(refused.httpStatus).toBe(503);
    expect(refused.body.sinks.loki!.state).toBe('unhealthy');
    const unreachable = report(connected(), sink({ healthcheckError: 'cannot connect', healthcheckRefused: false }));
    expect(unreachable.httpStatus).toBe(200);
  });

  it('503 at once when NATS refuses the credentials or the subscription', () => {
    const auth = connected();
    auth.connected = false;
    auth.disconnectedSince = NOW - 1000;
    auth.authError = "NATS server said: 'Authorization Violation'";
    let r = report(auth, sink());
    expect(r.httpStatus).toBe(503);
    expect(r.body.problems?.[0]).toMatch(/credentials refused/);
    expect(r.body.nats.authError).toMatch(/Authorization Violation/);

    const sub = connected();
    sub.subscriptionError = "Permissions Violation for Subscription to \"logs.>\"";
    sub.subscribed = false;
    sub.unsubscribedSince = NOW - 1000;
    r = report(sub, sink());
    expect(r.httpStatus).toBe(503);
    expect(r.body.nats).toMatchObject({ connected: true, subscribed: false });
    expect(r.body.problems?.[0]).toMatch(/subscription refused/);
  });

  it('NATS disconnected: 200 while reconnecting, 503 once it lasts HEALTH_FAIL_AFTER', () => {
    const s = connected();
    s.connected = false;
    s.disconnectedSince = NOW - 5000;
    expect(report(s, sink()).httpStatus).toBe(200);
    s.disconnectedSince = NOW - FAIL_AFTER;
    expect(report(s, sink()).httpStatus).toBe(503);
  });

  it('a stall is reported but does not block a deploy', () => {
    const s = connected();
    s.stalled = true;
    s.lastMessageAt = NOW - 600_000;
    const r = report(s, sink());
    expect(r.httpStatus).toBe(200);
    expect(r.body.nats.stalled).toBe(true);
    expect(r.body.status).toBe('degraded');
  });
});
