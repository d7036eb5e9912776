// S3_COMPRESSION=zstd through the agent process: mixed entries land in s3rver as
// .ndjson.zst objects (application/zstd, no Content-Encoding), which a different client
// reads back with zlib's zstd: every entry exactly once, byte for byte, under the Hive keys.
import { zstdDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { getObject } from '../../support/s3.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { BUCKET, expectArchive, startS3Scenario, type S3Scenario } from './s3-scenario.js';

let h: S3Scenario;
beforeAll(async () => {
  h = await startS3Scenario();
});
afterAll(async () => {
  await h?.close();
});

describe('e2e s3: zstd objects', () => {
  it('archives 5,000 mixed entries as zstd NDJSON, exactly once and byte-identical', async () => {
    const agent = await h.startAgent({ S3_COMPRESSION: 'zstd' });
    const started = agent.logs.find((l) => l.msg === 'logferry started');
    expect(started, agent.tail()).toBeDefined();
    expect(JSON.stringify(started!.sinks)).toContain('zstd level 1');

    const entries = makeFlyEntries(5000, { seed: 4242, startMs: Date.UTC(2026, 10, 26, 20, 59, 55) });
    await h.publish(entries, { ratePerSec: 5000 });
    const a = await waitForSettled(agent, entries.length, 's3', 60_000);
    expect(a).toMatchObject({ received: 5000, delivered: 5000, rejected: 0, dropped: 0, pending: 0 });

    const objects = await h.objects();
    expect(objects.length).toBeGreaterThan(0);
    expectArchive(objects, entries, '', '.ndjson.zst');
    for (const o of objects) {
      expect(o.headers['content-type'], o.key).toBe('application/zstd');
      expect(o.headers['content-encoding'], o.key).toBeUndefined();
      const raw = await getObject(h.s3.endpoint, BUCKET, o.key);
      expect(raw.body.readUInt32LE(0), o.key).toBe(0xfd2fb528);
      expect(zstdDecompressSync(raw.body).toString('utf8')).toBe(o.lines.map((l) => `${l}\n`).join(''));
    }
    await stopCleanly(agent);
  });
});
