// Issue 3, test 1: 20,000 mixed entries from six apps, spanning an hour and a day boundary,
// go through the agent process into s3rver. Read back with a different S3 client than the
// sink's, the bucket holds every entry exactly once, byte for byte, under the documented
// Hive keys, one object per delivered batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_APPS, makeFlyEntries } from '../../support/fly-entries.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { BUCKET, expectArchive, startS3Scenario, type S3Scenario } from './s3-scenario.js';

const APPS = [...DEFAULT_APPS, 'auth', 'docs-site'];
const MACHINE = 'e2earchive7f3a';

let h: S3Scenario;
beforeAll(async () => {
  h = await startS3Scenario();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e s3: bulk archive', () => {
  it('archives 20,000 mixed entries exactly once, byte-identical, under app/dt/hour keys', async () => {
    const agent = await h.startAgent({ FLY_MACHINE_ID: MACHINE });
    const started = agent.logs.find((l) => l.msg === 'logferry started');
    expect(started, agent.tail()).toBeDefined();
    expect(started!.sinks).toEqual([expect.stringContaining(`s3 bucket "${BUCKET}"`)]);

    // Ten seconds before midnight: entries fall into two dates and two hours.
    const entries = makeFlyEntries(20_000, { seed: 3001, apps: APPS, startMs: Date.UTC(2026, 10, 26, 23, 59, 50) });
    expect(new Set(entries.map((e) => e.kind)).size).toBe(8);
    await h.publish(entries, { ratePerSec: 5000 });

    const a = await waitForSettled(agent, entries.length, 's3', 60_000);
    expect(a).toMatchObject({ received: 20_000, delivered: 20_000, rejected: 0, dropped: 0, pending: 0 });
    expect(await agent.metric('logferry_nats_messages_received_total')).toBe(20_000);

    const objects = await h.objects();
    const archive = expectArchive(objects, entries);
    expect([...archive.apps].sort()).toEqual([...APPS].sort());
    expect([...archive.hours].sort()).toEqual(['2026-11-26/23', '2026-11-27/00']);
    // One agent wrote everything, under its instance id (machine id first).
    expect([...archive.keysByAgent.keys()]).toHaveLength(1);
    expect([...archive.keysByAgent.keys()][0]!.startsWith(`${MACHINE}-`)).toBe(true);
    // Each delivered batch is its own object: none was overwritten by another.
    expect(objects.length).toBe(await agent.metric('logferry_sink_batches_total', { sink: 's3', outcome: 'delivered' }));
    // Stored as .gz files (not transparently decompressed on download).
    for (const o of objects) {
      expect(o.headers['content-type'], o.key).toBe('application/gzip');
      expect(o.headers['content-encoding'], o.key).toBeUndefined();
    }
    expect(await agent.metric('logferry_sink_retries_total', { sink: 's3' })).toBe(0);

    const counters = await stopCleanly(agent);
    expect(counters.sinks.s3).toMatchObject({ received: 20_000, delivered: 20_000, pending: 0 });
  });
});
