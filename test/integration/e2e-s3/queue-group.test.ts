// Issue 3, test 3: two agents in one NATS queue group archive into the same bucket, the same
// apps and the same hours at the same time. Each goes through its own recording proxy, so
// every PUT is attributed to its agent: the key sets are disjoint, no object was written
// twice, and together the bucket holds every entry exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { startS3Proxy, type S3Proxy } from '../../support/s3.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { BUCKET, expectArchive, parseObjectKey, startS3Scenario, type S3Scenario } from './s3-scenario.js';

const QUEUE = 'logferry-archive';

let h: S3Scenario;
let proxies: S3Proxy[] = [];
beforeAll(async () => {
  h = await startS3Scenario();
  proxies = [await startS3Proxy(h.s3.endpoint), await startS3Proxy(h.s3.endpoint)];
});
afterAll(async () => {
  await Promise.all(h?.agents.map((a) => a.kill()) ?? []);
  await Promise.all(proxies.map((p) => p.close()));
  await h?.close();
});

/** Object keys an agent uploaded successfully, from its proxy's record. */
function putKeys(proxy: S3Proxy): string[] {
  const prefix = `/${BUCKET}/`;
  return proxy.requests
    .filter((r) => r.method === 'PUT' && r.status === 200)
    .map((r) => decodeURIComponent(r.path.split('?')[0]!.slice(prefix.length)));
}

describe('e2e s3: two agents in one queue group', () => {
  it('write disjoint object keys and together archive every entry exactly once', async () => {
    const [proxyA, proxyB] = proxies as [S3Proxy, S3Proxy];
    // Both on this host: without FLY_MACHINE_ID their machine part would be the same host name.
    const first = await h.startAgent({ QUEUE, S3_ENDPOINT: proxyA.endpoint, FLY_MACHINE_ID: 'machine-a' }, { label: 'agent-a' });
    const second = await h.startAgent({ QUEUE, S3_ENDPOINT: proxyB.endpoint, FLY_MACHINE_ID: 'machine-b' }, { label: 'agent-b' });
    const subs = await h.nats.waitForSubscribers('logs.>', 2, { queue: QUEUE });
    expect(new Set(subs.map((s) => s.cid)).size).toBe(2);

    const entries = makeFlyEntries(6000, { seed: 3301 });
    await h.publish(entries, { ratePerSec: 3000 });
    const delivered = async (): Promise<number> =>
      (await first.metric('logferry_sink_entries_delivered_total', { sink: 's3' })) + (await second.metric('logferry_sink_entries_delivered_total', { sink: 's3' }));
    await waitFor(async () => (await delivered()) >= entries.length, {
      what: `${entries.length} entries delivered by the two agents together`,
      timeoutMs: 30_000,
      intervalMs: 100,
      context: async () => `delivered ${await delivered()}\n${first.tail(10)}\n${second.tail(10)}`,
    });

    const receivedA = await first.metric('logferry_nats_messages_received_total');
    const receivedB = await second.metric('logferry_nats_messages_received_total');
    expect(receivedA + receivedB).toBe(entries.length);
    // Random distribution over 6000 messages: each agent gets a real share.
    expect(receivedA).toBeGreaterThan(500);
    expect(receivedB).toBeGreaterThan(500);
    const a = await waitForSettled(first, receivedA, 's3');
    const b = await waitForSettled(second, receivedB, 's3');
    expect(a).toMatchObject({ received: receivedA, delivered: receivedA, rejected: 0, dropped: 0, pending: 0 });
    expect(b).toMatchObject({ received: receivedB, delivered: receivedB, rejected: 0, dropped: 0, pending: 0 });

    const keysA = putKeys(proxyA);
    const keysB = putKeys(proxyB);
    expect(keysA.length).toBeGreaterThan(0);
    expect(keysB.length).toBeGreaterThan(0);
    // Disjoint, and no agent wrote one key twice: every upload is still its own object.
    expect(keysA.filter((k) => keysB.includes(k))).toEqual([]);
    expect(new Set(keysA).size).toBe(keysA.length);
    expect(new Set(keysB).size).toBe(keysB.length);
    const objects = await h.objects();
    expect(objects.map((o) => o.key).sort()).toEqual([...keysA, ...keysB].sort());

    // Each agent's keys carry its own instance id; they wrote into the same folders.
    const agentOf = (keys: string[]): Set<string> => new Set(keys.map((k) => parseObjectKey(k)?.agent ?? `unparsed:${k}`));
    const idsA = agentOf(keysA);
    const idsB = agentOf(keysB);
    expect(idsA.size).toBe(1);
    expect(idsB.size).toBe(1);
    expect([...idsA][0]!.startsWith('machine-a-')).toBe(true);
    expect([...idsB][0]!.startsWith('machine-b-')).toBe(true);
    const folders = (keys: string[]): Set<string> => new Set(keys.map((k) => k.slice(0, k.lastIndexOf('/'))));
    const shared = [...folders(keysA)].filter((f) => folders(keysB).has(f));
    expect(shared.length, 'both agents wrote into the same partitions').toBeGreaterThan(0);

    const archive = expectArchive(objects, entries);
    expect(archive.keysByAgent.size).toBe(2);

    await Promise.all([stopCleanly(first), stopCleanly(second)]);
  });
});

