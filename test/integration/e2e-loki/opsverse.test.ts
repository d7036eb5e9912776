// OpsVerse through the agent process: fly-log-shipper's OPSVERSE_* secrets alone turn on a
// second Loki sink (named opsverse) that ships 20,000 mixed entries as logfmt lines with basic
// auth, gzip JSON pushes, each entry stored once, and the password never in the output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { startLokiReceiver, type LokiReceiver } from '../../support/loki-receiver.js';
import { connectPublisher, publishAll, startNatsServer, type NatsServer } from '../../support/nats.js';
import { startSubscribedAgent, type Agent } from '../../support/agent.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import type { NatsConnection } from '@nats-io/transport-node';

const PASSWORD = 'ops-secret-pw-5d1e';
let nats: NatsServer;
let loki: LokiReceiver;
let publisher: NatsConnection;
const agents: Agent[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  loki = await startLokiReceiver({ auth: { username: 'ops-user', password: PASSWORD } });
  publisher = await connectPublisher(nats.url);
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await publisher?.close().catch(() => undefined);
  await loki?.close();
  await nats?.stop('SIGKILL');
});

describe('e2e: OpsVerse from its fly-log-shipper secrets', () => {
  it('ships 20,000 mixed entries once each as logfmt lines to a Loki with basic auth', async () => {
    const agent = await startSubscribedAgent(nats, agents, {
      NATS_URL: nats.url,
      OPSVERSE_LOGS_ENDPOINT: loki.url,
      OPSVERSE_USERNAME: 'ops-user',
      OPSVERSE_PASSWORD: PASSWORD,
      OPSVERSE_BATCH_MAX_AGE: '300ms',
    });
    const started = agent.logs.find((l) => l.msg === 'logferry started');
    expect(started!.sinks).toEqual([expect.stringContaining('opsverse')]);

    const entries = makeFlyEntries(20_000, { seed: 4711, startMs: Date.now() - 60_000 });
    await publishAll(publisher, entries, { ratePerSec: 10_000 });
    const a = await waitForSettled(agent, entries.length, 'opsverse', 90_000);
    expect(a).toMatchObject({ received: 20_000, delivered: 20_000, rejected: 0, dropped: 0, pending: 0 });

    const stored = loki.entries();
    expect(stored).toHaveLength(20_000);
    expect(new Set(stored.map((s) => s.line)).size).toBe(20_000);
    // logfmt, not JSON: the line is key=value pairs and carries the app's name.
    for (const s of stored.slice(0, 200)) {
      expect(s.line.startsWith('{')).toBe(false);
      expect(s.line).toMatch(/(^| )fly\.app\.name=/);
    }
    expect(loki.violations()).toEqual([]);
    const pushes = loki.pushes.filter((p) => p.entries > 0);
    expect(pushes.every((p) => p.headers['content-type'] === 'application/json' && p.headers['content-encoding'] === 'gzip')).toBe(true);

    const counters = await stopCleanly(agent);
    expect(counters.sinks.opsverse).toMatchObject({ received: 20_000, delivered: 20_000, pending: 0 });
    expect(agent.tail(1000)).not.toContain(PASSWORD);
  });
});
