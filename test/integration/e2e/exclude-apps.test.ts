// EXCLUDE_APPS and the agent's own FLY_APP_NAME are dropped at the source (counted as
// excluded_app); SHIP_OWN_LOGS=true ships the agent's own app. Runs "on Fly"
// (FLY_APP_NAME set), so it also covers ORG / ACCESS_TOKEN as NATS user and password,
// with and without the "FlyV1 " prefix, and that the token never reaches the logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries, type FlyEntry } from '../../support/fly-entries.js';
import { expectExactlyOnce, startHarness, stopCleanly, waitForSettled, type Harness } from './scenario.js';

const ORG = 'acme-org';
const TOKEN = 'fm2_lJPECAAAAAAAAMQSECRETtoken+/=,part2';
const OWN_APP = 'acme-logferry';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ natsAuth: { user: ORG, pass: TOKEN } });
});
afterAll(async () => {
  await h?.close();
});

const apps = ['keep-app', 'noisy-app', 'chatty-app', OWN_APP];
const excluded = (e: FlyEntry, shipOwn: boolean): boolean => e.app === 'noisy-app' || e.app === 'chatty-app' || (!shipOwn && e.app === OWN_APP);

describe('e2e: app exclusion', () => {
  for (const shipOwn of [false, true]) {
    it(`drops EXCLUDE_APPS${shipOwn ? '' : ' and its own app'} (SHIP_OWN_LOGS=${shipOwn})`, async () => {
      h.receiver.reset();
      const agent = await h.startAgent({
        FLY_APP_NAME: OWN_APP,
        ORG,
        // fly tokens create prints "FlyV1 …"; both forms must work.
        ACCESS_TOKEN: shipOwn ? TOKEN : `FlyV1 ${TOKEN}`,
        EXCLUDE_APPS: 'noisy-app, chatty-app',
        ...(shipOwn ? { SHIP_OWN_LOGS: 'true' } : {}),
      });
      const entries = makeFlyEntries(2000, { seed: shipOwn ? 11 : 10, apps });
      const kept = entries.filter((e) => !excluded(e, shipOwn));
      const dropped = entries.length - kept.length;
      expect(dropped).toBeGreaterThan(300);
      await h.publish(entries);
      await h.receiver.waitForEntries(kept.length, 20_000);
      const a = await waitForSettled(agent, kept.length);
      expect(a).toMatchObject({ received: kept.length, delivered: kept.length, rejected: 0, dropped: 0, pending: 0 });
      expect(await agent.metric('logferry_nats_messages_received_total')).toBe(entries.length);
      expect(await agent.metric('logferry_source_dropped_total', { reason: 'excluded_app' })).toBe(dropped);

      expectExactlyOnce(h.receiver.entries(), kept);
      expect(new Set(h.receiver.entries().map((e) => (e.fly as { app: { name: string } }).app.name))).toEqual(
        new Set(shipOwn ? ['keep-app', OWN_APP] : ['keep-app']),
      );

      const counters = await stopCleanly(agent);
      expect(counters.nats.dropped).toEqual({ excluded_app: dropped });
      const output = agent.stdoutLines.join('\n') + agent.stderr();
      expect(output).not.toContain(TOKEN);
      expect(output).not.toContain('SECRETtoken');
    });
  }
});
