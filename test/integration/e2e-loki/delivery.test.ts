// Issue 4, test 1: 20,000 mixed entries from six apps go through the agent process to a Loki
// receiver that requires basic auth and a tenant. Loki stores each exactly once with
// fly-log-shipper's labels (level from the app's JSON when it logs JSON), the entry's JSON
// as the line and Fly's timestamp to the nanosecond; pushes are Loki's native snappy protobuf
// (the default) on the documented path, one stream per label set, and nothing Loki would
// refuse is ever sent. (push-format-json.test.ts: the same with LOKI_PUSH_FORMAT=json.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_APPS, makeFlyEntries } from '../../support/fly-entries.js';
import { LOKI_PUSH_PATH } from '../../support/loki-receiver.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { expectStoredExactlyOnce, startLokiScenario, type LokiScenario } from './loki-scenario.js';

const APPS = [...DEFAULT_APPS, 'auth', 'docs-site'];
const USER = '123456';
const PASSWORD = 'glc_e2e-loki-password-never-logged';
const TENANT = 'fly-org';

let h: LokiScenario;
beforeAll(async () => {
  h = await startLokiScenario({ auth: { username: USER, password: PASSWORD }, tenant: TENANT });
});
afterAll(async () => {
  await h?.close();
});

describe('e2e loki: bulk delivery', () => {
  it('delivers 20,000 mixed entries exactly once with the right labels, lines and timestamps', async () => {
    const agent = await h.startAgent({ LOKI_USERNAME: USER, LOKI_PASSWORD: PASSWORD, LOKI_TENANT: TENANT });
    const started = agent.logs.find((l) => l.msg === 'logferry started');
    expect(started!.sinks).toEqual([expect.stringContaining(`loki → ${h.loki.pushUrl}, basic auth, tenant ${TENANT}`)]);
    expect(started!.sinks).toEqual([expect.stringContaining('push protobuf+snappy')]);
    // The start-up check passed: /ready, then an empty push with the credentials.
    expect(h.loki.requests.some((r) => r.path === '/ready')).toBe(true);
    // (Loki 3.2+ answers an empty push 422 "no streams", older Loki 204: either proves the credentials.)
    expect(h.loki.pushes[0]!.entries).toBe(0);
    expect([204, 422]).toContain(h.loki.pushes[0]!.status);
    expect((await agent.health()).body.sinks.loki.state).toBe('ok');

    const entries = makeFlyEntries(20_000, { seed: 4001, apps: APPS });
    expect(new Set(entries.map((e) => e.kind)).size).toBe(8);
    await h.publish(entries, { ratePerSec: 5000 });

    const a = await waitForSettled(agent, entries.length, 'loki', 60_000);
    expect(a).toMatchObject({ received: 20_000, delivered: 20_000, rejected: 0, dropped: 0, pending: 0 });
    expect(await agent.metric('logferry_nats_messages_received_total')).toBe(20_000);
    expect(await agent.metric('logferry_sink_retries_total', { sink: 'loki' })).toBe(0);
    // Nothing needed fixing: Fly's lines are well within Loki's limits.
    expect(await agent.metric('logferry_sink_entries_adjusted_total', { sink: 'loki' })).toBe(0);

    expect(h.loki.violations()).toEqual([]);
    const stored = h.loki.entries();
    expectStoredExactlyOnce(stored, entries);

    const pushes = h.loki.pushes.filter((p) => p.entries > 0);
    expect(pushes.length).toBeGreaterThan(1);
    for (const p of pushes) {
      expect(p).toMatchObject({ method: 'POST', path: LOKI_PUSH_PATH, status: 204 });
      expect(p.headers['content-type']).toBe('application/x-protobuf');
      expect(p.headers['content-encoding']).toBeUndefined();
      expect(p.headers['x-scope-orgid']).toBe(TENANT);
    }
    // Grouped by label set: within a push, one stream per distinct label set, never one per line.
    const labelSetsPerPush = new Map<number, Set<string>>();
    for (const s of stored) {
      const set = labelSetsPerPush.get(s.push) ?? new Set<string>();
      set.add(JSON.stringify(s.labels, Object.keys(s.labels).sort()));
      labelSetsPerPush.set(s.push, set);
    }
    for (const p of pushes) expect(p.streams, `streams in push ${p.index} of ${p.entries} entries`).toBe(labelSetsPerPush.get(p.index)?.size);
    expect(pushes.reduce((n, p) => n + p.streams, 0)).toBeLessThan(entries.length / 10);

    const counters = await stopCleanly(agent);
    expect(counters.sinks.loki).toMatchObject({ received: 20_000, delivered: 20_000, pending: 0 });
    expect(agent.stdoutLines.join('\n') + agent.stderr()).not.toContain(PASSWORD);
  });
});
