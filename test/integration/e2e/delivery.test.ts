// Issue 2, test 1: 20,000 Fly-shaped mixed entries (JSON-in-message, multi-line, unicode,
// ANSI, 8 KiB lines) all arrive at a real HTTP endpoint, each exactly once, byte-identical.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { expectExactlyOnce, expectFieldsIntact, startHarness, stopCleanly, waitForSettled, type Harness } from './scenario.js';

const TOKEN = 'e2e-bearer-token-7f3a9c';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e: bulk delivery', () => {
  it('delivers 20,000 mixed entries exactly once with every field intact', async () => {
    const agent = await h.startAgent({ HTTP_COMPRESSION: 'gzip', HTTP_TOKEN: TOKEN });
    const started = agent.logs.find((l) => l.msg === 'logferry started');
    expect(started, agent.tail()).toBeDefined();
    expect(JSON.stringify(started!.sinks)).toContain('http');

    const entries = makeFlyEntries(20_000, { seed: 2024 });
    expect(new Set(entries.map((e) => e.kind)).size).toBe(8);
    await h.publish(entries, { ratePerSec: 5000 });

    const received = await h.receiver.waitForEntries(entries.length, 60_000);
    // Anything still in flight would show up as duplicates: wait until the agent is idle.
    const a = await waitForSettled(agent, entries.length);
    expect(a).toMatchObject({ received: 20_000, delivered: 20_000, rejected: 0, dropped: 0, pending: 0 });
    expect(await agent.metric('logferry_nats_messages_received_total')).toBe(20_000);

    expectExactlyOnce(h.receiver.entries(), entries);
    expectFieldsIntact(received, entries);

    // Byte-identical: every NDJSON line on the wire is exactly a published payload.
    const published = new Set(entries.map((e) => e.payload));
    let lines = 0;
    for (const req of h.receiver.accepted()) {
      expect(req.headers['content-encoding']).toBe('gzip');
      expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
      const text = gunzipSync(req.body).toString('utf8');
      expect(text.endsWith('\n')).toBe(true);
      for (const line of text.slice(0, -1).split('\n')) {
        expect(published.has(line), `line on the wire is a published payload: ${line.slice(0, 120)}`).toBe(true);
        lines++;
      }
    }
    expect(lines).toBe(entries.length);

    const counters = await stopCleanly(agent);
    expect(counters.sinks.http).toMatchObject({ received: 20_000, delivered: 20_000, pending: 0 });
    // The bearer token never reaches the agent's own logs.
    expect(agent.stdoutLines.join('\n') + agent.stderr()).not.toContain(TOKEN);
  });
});
