// Issue 5, test 5: a spool directory the agent cannot use. Tests run as root, where chmod
// does not stop writes, so SPOOL_DIR points below a regular file (ENOTDIR). The agent says
// so loudly, runs memory-only for the sink, /health and /metrics show the spool degraded,
// and entries are still delivered.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { expectExactlyOnce, expectFieldsIntact, stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { spoolGauges, startSpoolHarness, type SpoolHarness } from './spool-scenario.js';

let h: SpoolHarness;
beforeAll(async () => {
  h = await startSpoolHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e spool: unusable SPOOL_DIR', () => {
  it('runs memory-only, says so in the log and /health, and keeps delivering', async () => {
    const file = join(h.tmp, 'not-a-directory');
    await writeFile(file, 'a regular file\n');
    const spoolDir = join(file, 'spool');
    await h.sinkUp();
    // Memory-only now: give it the default 32 MiB buffer so nothing is dropped for memory.
    const agent = await h.startAgent({ SPOOL_DIR: spoolDir, HTTP_BUFFER_MAX_BYTES: '32MiB' });

    const line = await agent.waitForLog((l) => l.msg === 'spool unavailable (SPOOL_DIR); running memory-only for this sink', 'the spool-unavailable line');
    expect(line).toMatchObject({ level: 'error', sink: 'http', dir: join(spoolDir, 'http') });
    expect(String(line.err)).toMatch(/ENOTDIR/);

    const health = await agent.health();
    expect(health.status).toBe(200);
    expect(health.body.sinks.http.spool).toMatchObject({ state: 'degraded' });
    expect(String(health.body.sinks.http.spool.error)).toMatch(/ENOTDIR/);
    const metrics = await agent.metrics();
    expect(metrics).toMatch(/^logferry_spool_up\{sink="http"\} 0$/m);

    const entries = makeFlyEntries(5000, { seed: 5009 });
    await h.publish(entries, { ratePerSec: 5000 });
    await h.receiver!.waitForEntries(entries.length, 30_000);
    const a = await waitForSettled(agent, entries.length);
    expect(a).toMatchObject({ received: entries.length, delivered: entries.length, dropped: 0, rejected: 0, pending: 0 });
    expectExactlyOnce(h.entries(), entries);
    expectFieldsIntact(h.entries(), entries);
    const g = await spoolGauges(agent);
    expect(g).toMatchObject({ spoolEntries: 0, up: 0 });
    expect((await agent.health()).body.sinks.http).toMatchObject({ state: 'ok', spool: { state: 'degraded' } });

    const counters = await stopCleanly(agent);
    expect(counters.sinks.http).toMatchObject({ received: entries.length, delivered: entries.length, pending: 0, spool: 'degraded' });
  });
});
