// Issue 15: exactly once in the archive, even across kill -9. The agent (a child process with
// a disk spool) is killed -9 at three points of a delivery from the spool to the store (before
// the request, with the upload at the store's door, and after the store stored the object but
// before the agent got the answer and acknowledged the record), then restarted on the same
// spool. Reading the whole bucket back with the independent reader finds every entry exactly
// once. Then two agents in one queue group, each with its own spool, are killed once each
// mid-drain: every entry once in the bucket, and no key written by both.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../support/agent.js';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { waitFor } from '../../support/poll.js';
import { startS3Proxy, type RecordedRequest, type S3Proxy } from '../../support/s3.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { readSegments, spoolGauges, waitForNatsReceived } from '../e2e-spool/spool-scenario.js';
import { BUCKET, expectArchive, parseObjectKey, startS3Scenario, type S3Scenario } from './s3-scenario.js';

let h: S3Scenario;
let tmp: string;
const extraProxies: S3Proxy[] = [];
beforeAll(async () => {
  h = await startS3Scenario({ proxy: true });
  tmp = await mkdtemp(join(tmpdir(), 'logferry-e2e-exactly-once-'));
});
// An agent a failed test left running would archive the next test's entries too.
afterEach(async () => {
  await Promise.all(h?.agents.map((a) => a.kill()) ?? []);
});
afterAll(async () => {
  await Promise.all(h?.agents.map((a) => a.kill()) ?? []);
  await Promise.all(extraProxies.map((p) => p.close()));
  await h?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Small batches, so a drain is many records; the spool under `spoolDir`. */
function agentEnv(spoolDir: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { SPOOL_DIR: spoolDir, S3_BATCH_MAX_ENTRIES: '400', FLY_MACHINE_ID: 'machine-x', ...extra };
}

const keyOf = (r: RecordedRequest): string => decodeURIComponent(r.path.split('?')[0]!.slice(`/${BUCKET}/`.length));
const puts = (proxy: S3Proxy): RecordedRequest[] => proxy.requests.filter((r) => r.method === 'PUT');

/** Waits until every entry the agent holds is in its spool (pending = spooled = `n`). */
async function waitAllSpooled(agent: Agent, n: number): Promise<void> {
  await waitFor(
    async () => {
      const g = await spoolGauges(agent, 's3');
      return g.accounting.pending === n && g.spoolEntries === n;
    },
    { what: `${agent.label}: all ${n} entries in the spool`, timeoutMs: 30_000, intervalMs: 100, context: async () => `${JSON.stringify(await spoolGauges(agent, 's3'))}\n${agent.tail(10)}` },
  );
}

/** Waits for a PUT held at the proxy in the given way (and, for answers, stored by the store) that came after `from`. */
async function waitHeld(proxy: S3Proxy, how: 'request' | 'answer', from: number, agent: Agent): Promise<RecordedRequest> {
  return waitFor(
    () => proxy.requests.slice(from).find((r) => r.method === 'PUT' && r.held === how && (how === 'request' || r.upstreamStatus === 200)) ?? false,
    { what: `${agent.label}: a PUT held at the proxy (${how})`, timeoutMs: 30_000, intervalMs: 20, context: () => `${proxy.requests.length} requests\n${agent.tail(10)}` },
  );
}

describe('e2e s3: exactly once across kill -9', () => {
  it('kill -9 before the request, during the upload, and after the store answered but before the ack: every entry once in the bucket', async () => {
    const proxy = h.proxy!;
    const spoolDir = join(tmp, 'one');
    const N = 6000;
    const entries = makeFlyEntries(N, { seed: 1501, apps: ['shop-api', 'edge-cache', 'billing-worker'] });

    // 1. Store unreachable: every batch fails (or goes straight) to the spool. Kill -9 before any request got through.
    await proxy.down();
    const first = await h.startAgent(agentEnv(spoolDir), { label: 'first' });
    await h.publish(entries, { ratePerSec: 4000 });
    await waitForNatsReceived(first, N);
    await waitAllSpooled(first, N);
    const records = (await readSegments(join(spoolDir, 's3'))).flatMap((s) => s.records).length;
    expect(records, 'many records to drain').toBeGreaterThan(10);
    expect((await first.kill()).signal).toBe('SIGKILL');

    // 2. The store is back, but uploads are held at its door: kill -9 with one under way.
    await proxy.up();
    proxy.hold('requests');
    let mark = proxy.requests.length;
    const second = await h.startAgent(agentEnv(spoolDir), { label: 'second' });
    const atDoor = await waitHeld(proxy, 'request', mark, second);
    await second.kill();
    await waitFor(() => atDoor.abandoned === true, { what: 'the held upload to be abandoned by the killed agent' });
    proxy.hold('none');
    expect(atDoor.upstreamStatus, 'the store never saw the upload cut off by the kill').toBeUndefined();

    // 3. The store stores the object, but its answer is held: kill -9 before the agent can acknowledge the record.
    proxy.hold('answers');
    mark = proxy.requests.length;
    const third = await h.startAgent(agentEnv(spoolDir), { label: 'third' });
    const storedUnacked = await waitHeld(proxy, 'answer', mark, third);
    await third.kill();
    proxy.hold('none');
    const storedKey = keyOf(storedUnacked);

    // 4. A normal run drains the rest. The record stored at the third kill is replayed under the same key.
    mark = proxy.requests.length;
    const fourth = await h.startAgent(agentEnv(spoolDir), { label: 'fourth' });
    const recovered = (await fourth.accounting('s3')).received;
    expect(recovered).toBeGreaterThan(0);
    const a = await waitForSettled(fourth, recovered, 's3', 60_000);
    expect(a).toMatchObject({ delivered: recovered, rejected: 0, dropped: 0, pending: 0 });
    const again = puts(proxy).slice(0).filter((r) => proxy.requests.indexOf(r) >= mark && keyOf(r) === storedKey);
    expect(again.map((r) => r.status), 'the replay PUT the same key again').toEqual([200]);
    const head = proxy.requests.slice(mark).find((r) => r.method === 'HEAD' && keyOf(r) === storedKey);
    expect(head?.status, 'the replay looked the object up first').toBe(200);
    expect(await fourth.metric('logferry_archive_overwrites_total', { sink: 's3' })).toBe(1);

    // The whole bucket, read back with the independent reader: every entry exactly once.
    const objects = await h.objects();
    const summary = expectArchive(objects, entries);
    // All keys come from the first agent's run (the one that made the batches), whoever uploaded them.
    expect(summary.keysByAgent.size).toBe(1);
    // Nothing is left in the spool.
    expect((await readSegments(join(spoolDir, 's3'))).flatMap((s) => s.records)).toEqual([]);
    console.log(
      `exactly once across kill -9: ${N} entries, ${records} spool records, ${objects.length} objects; ${puts(proxy).filter((r) => r.upstreamStatus === 200).length} PUTs stored, 1 of them replaced by its replay`,
    );
    await stopCleanly(fourth);
  });

  it('the measured case: 30,000 entries spooled, the store back with half-second answers, the agent killed -9 three times while draining: none twice', async () => {
    const proxy = h.proxy!;
    const spoolDir = join(tmp, 'slow');
    const N = 30_000;
    const entries = makeFlyEntries(N, { seed: 1503, idPrefix: 'slow-', apps: ['shop-api', 'edge-cache', 'billing-worker', 'docs'] });
    const before = new Set((await h.objects()).map((o) => o.key));
    await proxy.down();
    let agent = await h.startAgent(agentEnv(spoolDir, { S3_BATCH_MAX_ENTRIES: '1000' }), { label: 'slow-0' });
    await h.publish(entries, { ratePerSec: 10_000 });
    await waitForNatsReceived(agent, N);
    await waitAllSpooled(agent, N);
    const records = (await readSegments(join(spoolDir, 's3'))).flatMap((s) => s.records).length;

    await proxy.up();
    proxy.slowAnswers(500);
    let overwrites = 0;
    const storedAtKill = new Set<string>();
    for (let kill = 1; kill <= 3; kill++) {
      const mark = proxy.requests.length;
      // Kill while an upload is in flight, after the run has stored a few: the store may or may not have it.
      const inFlight = await waitFor(
        () => {
          const mine = proxy.requests.slice(mark).filter((r) => r.method === 'PUT');
          const open = mine.filter((r) => r.status === undefined);
          return mine.length >= 1 + kill && open.length === 1 && open[0]!;
        },
        { what: `slow-${kill - 1}: the drain under way with an upload in flight`, timeoutMs: 30_000, intervalMs: 10, context: () => agent.tail(10) },
      );
      // The drain is sequential: with this upload open, nothing else can complete before the kill.
      overwrites += await agent.metric('logferry_archive_overwrites_total', { sink: 's3' });
      await agent.kill();
      // An upload whose body reached the store's door is stored even though its agent is gone.
      await waitFor(() => inFlight.upstreamStatus !== undefined || (inFlight.abandoned === true && inFlight.received !== true), {
        what: 'the store to finish with the upload in flight at the kill',
      });
      if (inFlight.upstreamStatus === 200) storedAtKill.add(keyOf(inFlight));
      agent = await h.startAgent(agentEnv(spoolDir, { S3_BATCH_MAX_ENTRIES: '1000' }), { label: `slow-${kill}` });
    }
    proxy.slowAnswers(0);
    const recovered = (await agent.accounting('s3')).received;
    expect(await waitForSettled(agent, recovered, 's3', 90_000)).toMatchObject({ delivered: recovered, rejected: 0, dropped: 0, pending: 0 });
    overwrites += await agent.metric('logferry_archive_overwrites_total', { sink: 's3' });

    const objects = (await h.objects()).filter((o) => !before.has(o.key));
    const lines = objects.reduce((n, o) => n + o.lines.length, 0);
    console.log(
      `measured case: ${N} entries in ${records} spool records, 3 kills -9 mid-drain with 500 ms answers (${storedAtKill.size} batches stored without their answer reaching the agent); bucket: ${objects.length} objects, ${lines} lines, ${lines - N} duplicates; ${overwrites} replays replaced their own copy`,
    );
    expectArchive(objects, entries);
    // Each batch the store had when its agent died was replaced once by the replay that finally got through, and counted.
    expect(overwrites).toBe(storedAtKill.size);
    await stopCleanly(agent);
  });

  it('two agents in one queue group, each with its own spool and each killed once mid-drain: every entry once, no key written by both', async () => {
    const QUEUE = 'logferry-exactly-once';
    const proxyA = await startS3Proxy(h.s3.endpoint);
    const proxyB = await startS3Proxy(h.s3.endpoint);
    extraProxies.push(proxyA, proxyB);
    const envA = agentEnv(join(tmp, 'a'), { QUEUE, S3_ENDPOINT: proxyA.endpoint, FLY_MACHINE_ID: 'machine-a' });
    const envB = agentEnv(join(tmp, 'b'), { QUEUE, S3_ENDPOINT: proxyB.endpoint, FLY_MACHINE_ID: 'machine-b' });
    const before = new Set((await h.objects()).map((o) => o.key));

    await proxyA.down();
    await proxyB.down();
    const a1 = await h.startAgent(envA, { label: 'a1' });
    const b1 = await h.startAgent(envB, { label: 'b1' });
    await h.nats.waitForSubscribers('logs.>', 2, { queue: QUEUE });
    const N = 8000;
    const entries = makeFlyEntries(N, { seed: 1502, idPrefix: 'qg-', apps: ['shop-api', 'edge-cache'] });
    await h.publish(entries, { ratePerSec: 4000 });
    const receivedBy = async (agent: Agent): Promise<number> => agent.metric('logferry_nats_messages_received_total');
    await waitFor(async () => (await receivedBy(a1)) + (await receivedBy(b1)) === N, { what: 'the two agents to receive every entry', timeoutMs: 30_000 });
    const nA = await receivedBy(a1);
    const nB = await receivedBy(b1);
    expect(nA).toBeGreaterThan(500);
    expect(nB).toBeGreaterThan(500);
    await waitAllSpooled(a1, nA);
    await waitAllSpooled(b1, nB);

    // Both stores come back; each agent drains until an object of its is stored and the answer held, then it is killed.
    for (const p of [proxyA, proxyB]) {
      await p.up();
      p.hold('answers');
    }
    await Promise.all([waitHeld(proxyA, 'answer', 0, a1), waitHeld(proxyB, 'answer', 0, b1)]);
    await a1.kill();
    await b1.kill();
    proxyA.hold('none');
    proxyB.hold('none');

    const a2 = await h.startAgent(envA, { label: 'a2' });
    const b2 = await h.startAgent(envB, { label: 'b2' });
    for (const agent of [a2, b2]) {
      const recovered = (await agent.accounting('s3')).received;
      expect(recovered).toBeGreaterThan(0);
      expect(await waitForSettled(agent, recovered, 's3', 60_000)).toMatchObject({ delivered: recovered, rejected: 0, dropped: 0, pending: 0 });
    }

    const stored = (p: S3Proxy): Set<string> => new Set(puts(p).filter((r) => r.upstreamStatus === 200).map(keyOf));
    const keysA = stored(proxyA);
    const keysB = stored(proxyB);
    expect(keysA.size).toBeGreaterThan(1);
    expect(keysB.size).toBeGreaterThan(1);
    expect([...keysA].filter((k) => keysB.has(k)), 'keys written by both agents').toEqual([]);
    // Each side's keys name its own machine only.
    const machines = (keys: Set<string>): Set<string> => new Set([...keys].map((k) => parseObjectKey(k)?.agent.split('-').slice(0, 2).join('-') ?? `unparsed:${k}`));
    expect(machines(keysA)).toEqual(new Set(['machine-a']));
    expect(machines(keysB)).toEqual(new Set(['machine-b']));
    // One replay per agent found its object stored already and replaced it.
    expect(await a2.metric('logferry_archive_overwrites_total', { sink: 's3' })).toBe(1);
    expect(await b2.metric('logferry_archive_overwrites_total', { sink: 's3' })).toBe(1);

    const objects = (await h.objects()).filter((o) => !before.has(o.key));
    expect(objects.map((o) => o.key).sort()).toEqual([...keysA, ...keysB].sort());
    expectArchive(objects, entries);
    await stopCleanly(a2);
    await stopCleanly(b2);
  });
});
