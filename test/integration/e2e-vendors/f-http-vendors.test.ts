// End to end through the agent process: 20,000 mixed Fly entries to all twelve HTTP/JSON
// destinations from fly-log-shipper and Slack alerts at once, each behind a receiver that
// checks that vendor's API, with the vendors misbehaving the way they do (429 with
// Retry-After, 503, partial refusals in Axiom's and OpenObserve's answers). Every entry is
// accounted for per destination, stored exactly once where the vendor acknowledged it, with
// every field as Fly sent it; one slow or failing destination holds up none of the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSubscribedAgent, type Agent } from '../../support/agent.js';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer } from '../../support/nats.js';
import { waitFor } from '../../support/poll.js';
import { PROFILES, startVendorReceiver, type Rec, type VendorReceiver } from '../../support/vendor-receivers/http-vendors.js';
import { VENDOR_CASES } from '../../support/vendor-receivers/http-vendor-cases.js';
import { expectExactlyOnce, expectFieldsIntact, stopCleanly, waitForSettled } from '../e2e/scenario.js';

const N = 20_000;
const SLACK_HOOK = '/services/T0E2E/B0E2E/slack-hook-e2e-secret';
const SLACK_KEYWORD = /webhook rejected/;
// Axiom and OpenObserve refuse every entry whose id ends in 7 (a tenth), inside a 200.
const refusedId = (r: Rec): string | undefined => (/7$/.test(idOf(r) ?? '') ? 'field limit exceeded' : undefined);

let nats: NatsServer;
let publisher: NatsConnection;
const agents: Agent[] = [];
const receivers = new Map<string, VendorReceiver>();

beforeAll(async () => {
  nats = await startNatsServer();
  publisher = await connectPublisher(nats.url);
  for (const c of VENDOR_CASES) receivers.set(c.kind, await startVendorReceiver(c.profile));
  receivers.set('slack', await startVendorReceiver(PROFILES.slack({ path: SLACK_HOOK })));
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await publisher?.close().catch(() => undefined);
  for (const rx of receivers.values()) await rx.close();
  await nats?.stop('SIGKILL');
});

describe('e2e: the fly-log-shipper HTTP destinations at once', () => {
  it(`delivers ${N} mixed entries to each, every one accounted for, exactly once where acknowledged`, async () => {
    const env: Record<string, string> = {
      NATS_URL: nats.url,
      // Default buffers: all the sinks draw on the one memory budget (split equally, it dropped
      // entries here as buffer_full while the spool had room).
      RETRY_INITIAL_BACKOFF: '100ms',
      RETRY_MAX_BACKOFF: '2s',
      SLACK_WEBHOOK_URL: `${receivers.get('slack')!.url}${SLACK_HOOK}`,
      SLACK_ALERT_KEYWORDS: "[r'webhook rejected']",
    };
    for (const c of VENDOR_CASES) Object.assign(env, c.env(receivers.get(c.kind)!.url));

    const agent = await startSubscribedAgent(nats, agents, env, { label: 'vendors' });
    const started = agent.logs.find((l) => l.msg === 'logferry started');
    expect(started, agent.tail()).toBeDefined();
    for (const kind of [...receivers.keys()]) expect(JSON.stringify(started!.sinks), kind).toContain(kind);
    // One memory budget for all thirteen, not thirteen shares of it.
    expect(started!.memory).toMatchObject({ bufferSharedBy: 'all sinks' });
    expect((started!.memory as { bufferBytes: number }).bufferBytes).toBe(await agent.metric('logferry_buffer_budget_bytes'));
    // Start-up checks that send a request: AppSignal's GET and LogDNA's empty POST.
    await waitFor(() => receivers.get('appsignal')!.healthchecks() === 1 && receivers.get('logdna')!.healthchecks() === 1, { what: 'AppSignal and LogDNA start-up checks', timeoutMs: 10_000 });
    expect(agent.logs.filter((l) => String(l.msg).includes('healthcheck failed')), agent.tail()).toEqual([]);

    // Vendors misbehaving (set after the start-up checks, which would take the scripted answers): rate limits with Retry-After, outages, partial refusals.
    receivers.get('axiom')!.refuse(refusedId);
    receivers.get('openobserve')!.refuse(refusedId);
    receivers.get('betterstack')!.failNext(429, { retryAfter: 1 });
    receivers.get('honeybadger')!.failNext(429, { retryAfter: 1, times: 2 });
    receivers.get('logdna')!.failNext(503, { times: 3 });
    receivers.get('signoz')!.failNext(500, { times: 2 });
    receivers.get('appsignal')!.failNext(429, { retryAfter: 2 });

    const entries = makeFlyEntries(N, { seed: 1717 });
    await publishAll(publisher, entries, { ratePerSec: 5000 });

    const refused = entries.filter((e) => /7$/.test(e.id));
    const kept = entries.filter((e) => !/7$/.test(e.id));
    for (const c of VENDOR_CASES) {
      const partial = c.kind === 'axiom' || c.kind === 'openobserve';
      const a = await waitForSettled(agent, N, c.kind, 120_000);
      const rx = receivers.get(c.kind)!;
      expect(rx.problems, c.kind).toEqual([]);
      const dropLines = JSON.stringify(agent.logs.filter((l) => l.msg === 'entries dropped' || String(l.msg).includes('spool')));
      const stored = rx.stored();
      if (partial) {
        expect(a, `${c.kind} ${dropLines}`).toMatchObject({ received: N, delivered: kept.length, rejected: refused.length, dropped: 0, pending: 0 });
        expect(await agent.metric('logferry_sink_entries_rejected_total', { sink: c.kind, reason: `${c.kind}_failed` })).toBe(refused.length);
        expect(rx.refusedCount(), c.kind).toBe(refused.length);
        expectExactlyOnce(stored, kept);
      } else {
        expect(a, `${c.kind} ${dropLines}`).toMatchObject({ received: N, delivered: N, rejected: 0, dropped: 0, pending: 0 });
        expectExactlyOnce(stored, entries);
      }
      expectFieldsIntact(stored, entries);
    }
    // The scripted failures were met and retried (not given up on).
    expect(receivers.get('logdna')!.http.requests.filter((r) => r.status === 503)).toHaveLength(3);
    expect(await agent.metric('logferry_sink_retries_total', { sink: 'honeybadger' })).toBeGreaterThanOrEqual(2);

    // Slack: matching entries posted (at most one message a second) or dropped as alert_rate_limit
    // when a second held more than a message can; the rest counted as filtered. Nothing unaccounted.
    const slack = await waitForSettled(agent, N, 'slack', 120_000);
    const slackRx = receivers.get('slack')!;
    expect(slackRx.problems).toEqual([]);
    const matching = entries.filter((e) => SLACK_KEYWORD.test((JSON.parse(e.payload) as { message: string }).message));
    expect(matching.length).toBeGreaterThan(100);
    const posted = slackRx.stored();
    const rateDropped = await agent.metric('logferry_sink_entries_dropped_total', { sink: 'slack', reason: 'alert_rate_limit' });
    expect(slack).toMatchObject({ received: N, rejected: 0, pending: 0 });
    expect(slack.dropped).toBe(rateDropped);
    expect(posted.length + rateDropped).toBe(matching.length);
    expect(await agent.metric('logferry_sink_entries_adjusted_total', { sink: 'slack', reason: 'filtered' })).toBe(N - matching.length);
    // Each posted alert is a matching entry, posted once.
    const postedIds = posted.map((p) => idOf(p));
    expect(new Set(postedIds).size).toBe(posted.length);
    const matchingIds = new Set(matching.map((e) => e.id));
    expect(postedIds.every((id) => id !== undefined && matchingIds.has(id))).toBe(true);
    const at = slackRx.http.requests.map((r) => r.at);
    // One message a second at most: over the whole run (the agent paces the sends; arrivals
    // may jitter by the event loop's delay, 200 ms here), and never back to back (the receiver
    // answers those 429, a problem above).
    expect(at.length).toBeLessThanOrEqual(Math.floor((at.at(-1)! - at[0]! + 200) / 1000) + 1);

    await stopCleanly(agent);
    // No secret in anything the agent printed.
    const output = agent.stdoutLines.join('\n') + agent.stderr();
    for (const c of VENDOR_CASES) for (const secret of c.secrets) expect(output, c.kind).not.toContain(secret);
    expect(output).not.toContain('slack-hook-e2e-secret');
  }, 300_000);
});

