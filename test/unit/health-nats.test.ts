// The NATS part of /health: subscribed or not (and why), connection loss past the
// threshold, and the fields that say so.
import { describe, expect, it } from 'vitest';
import { healthReport } from '../../src/ops/health.js';
import { SourceStats } from '../../src/ops/stats.js';
import { subscribedSource } from '../support/source-stats.js';

const NOW = 1_000_000;
const report = (source: SourceStats) => healthReport({ source, sinks: [], failAfterMs: 60_000, stallTimeoutMs: 300_000 }, NOW);

const connectedSource = (): SourceStats => subscribedSource(NOW);

describe('healthReport: NATS subscription', () => {
  it('is 503 before the first subscription exists, even when connected', () => {
    const s = new SourceStats();
    s.connected = true;
    s.disconnectedSince = undefined;
    s.lastMessageAt = NOW;
    const r = report(s);
    expect(r.httpStatus).toBe(503);
    expect(r.body.nats).toMatchObject({ connected: true, subscribed: false });
  });

  it('is 200 once subscribed, and says so', () => {
    const r = report(connectedSource());
    expect(r.httpStatus).toBe(200);
    expect(r.body.nats).toMatchObject({ connected: true, subscribed: true, slowConsumer: 0 });
    expect(r.body.nats).not.toHaveProperty('subscriptionError');
  });

  it('is 503 at once while the server refuses the subscription, with its reason', () => {
    const s = connectedSource();
    s.subscribed = false;
    s.unsubscribedSince = NOW - 10;
    s.subscriptionError = 'Permissions Violation for Subscription to "logs.>"';
    const r = report(s);
    expect(r.httpStatus).toBe(503);
    expect(r.body.nats).toMatchObject({ subscribed: false, subscriptionError: 'Permissions Violation for Subscription to "logs.>"' });
  });

  it('tolerates a short gap between subscriptions (reconnect, resubscribe), not one past HEALTH_FAIL_AFTER', () => {
    const s = connectedSource();
    s.subscribed = false;
    s.unsubscribedSince = NOW - 59_999;
    expect(report(s).httpStatus).toBe(200);
    s.unsubscribedSince = NOW - 60_000;
    expect(report(s).httpStatus).toBe(503);
  });

  it('shows refused credentials while they apply', () => {
    const s = new SourceStats();
    s.disconnectedSince = NOW - 1000;
    s.authError = 'Authorization Violation';
    const r = report(s);
    expect(r.httpStatus).toBe(503);
    expect(r.body.nats).toMatchObject({ connected: false, subscribed: false, authError: 'Authorization Violation' });
  });
});
