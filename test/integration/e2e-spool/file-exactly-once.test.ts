// Issue 15, the file sink: the state a kill -9 leaves when it strikes between "the file sink
// wrote a batch" and "the spool recorded its acknowledgement" is set up with the real spool and
// the real file sink (a spool holding batches of an earlier run, some of them already written
// to DATA_DIR, plus a record in the spool format before keys were kept), then the agent
// starts as a child process on that spool and DATA_DIR. Every entry ends up in DATA_DIR
// exactly once: a replay replaces the file its earlier attempt wrote, and says so in /metrics.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { parseFlyMessage, type LogEntry } from '../../../src/intake/entry.js';
import { makeBatch } from '../../../src/pipeline/batch.js';
import type { Batch } from '../../../src/pipeline/sink.js';
import { Spool } from '../../../src/spool/spool.js';
import { encodeNdjsonRecord, segmentFileName } from '../../../src/spool/spool-format.js';
import { readFileSinkConfig } from '../../../sinks/file/config.js';
import { listFileSinkFiles, readFileSinkFile } from '../../../sinks/file/read.js';
import { FileSink } from '../../../sinks/file/sink.js';
import { startSubscribedAgent, type Agent } from '../../support/agent.js';
import { idOf, makeFlyEntries } from '../../support/fly-entries.js';
import { startNatsServer, type NatsServer } from '../../support/nats.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';

let nats: NatsServer;
const agents: Agent[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'logferry-e2e-file-once-'));
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await nats?.stop('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function entriesOf(payloads: ReadonlyArray<{ subject: string; payload: string }>): LogEntry[] {
  return payloads.map(({ subject, payload }) => {
    const parsed = parseFlyMessage(subject, Buffer.from(payload, 'utf8'), Date.UTC(2026, 10, 26, 21));
    if (parsed.kind !== 'entry') throw new Error('test entry did not parse');
    return parsed.entry;
  });
}

describe('e2e file sink: exactly once after a crash between write and acknowledgement', () => {
  it('replays every spooled batch; those already written replace their own file, none is there twice', async () => {
    const dataDir = join(tmp, 'data');
    const spoolDir = join(tmp, 'spool');
    const sinkSpool = join(spoolDir, 'file');
    const sink = new FileSink(readFileSinkConfig(new EnvReader({ DATA_DIR: dataDir }))!, { agentInstanceId: 'earlier-run' });

    const fly = makeFlyEntries(3000, { seed: 1504, apps: ['shop-api', 'edge-cache'] });
    const entries = entriesOf(fly);
    // The earlier run's batches: per partition, 150 entries each, keyed as its batcher keys them.
    const batches: Batch[] = [];
    const byPartition = new Map<string, LogEntry[]>();
    for (const e of entries.slice(200)) {
      const p = sink.partitionKey(e);
      byPartition.set(p, [...(byPartition.get(p) ?? []), e]);
    }
    for (const [partition, group] of byPartition) {
      for (let i = 0; i < group.length; i += 150) {
        const id = batches.length + 1;
        batches.push(makeBatch(id, partition, group.slice(i, i + 150), `machine-e-0a1b2c3d4e5f-${String(id).padStart(6, '0')}`));
      }
    }
    // A record as logferry wrote them before keys were kept (format version 1), for the first 200 entries.
    const old = entries.slice(0, 200);
    const oldNdjson = Buffer.from(old.map((e) => `${e.line}\n`).join(''), 'utf8');
    mkdirSync(sinkSpool, { recursive: true });
    writeFileSync(join(sinkSpool, segmentFileName(1)), encodeNdjsonRecord(1, sink.partitionKey(old[0]!), oldNdjson, old.length, { key: '' }, 1));

    const spool = await Spool.open({ dir: sinkSpool, maxBytes: 64 * 1024 * 1024, onFull: 'drop_oldest' });
    for (const b of batches) expect((await spool.appendNdjson(b.partition, b.ndjson, b.count, b)).stored).toBe(true);
    await spool.close();
    // The earlier run wrote every third batch, and died before the spool recorded any acknowledgement.
    const written = batches.filter((_, i) => i % 3 === 0);
    for (const b of written) await sink.send(await sink.encode(b), b, new AbortController().signal);
    expect((await listFileSinkFiles(dataDir)).length).toBe(written.length);

    const agent = await startSubscribedAgent(nats, agents, { NATS_URL: nats.url, DATA_DIR: dataDir, SPOOL_DIR: spoolDir, FLY_MACHINE_ID: 'machine-f' }, { label: 'after-crash' });
    const a = await waitForSettled(agent, entries.length, 'file', 30_000);
    expect(a).toMatchObject({ received: entries.length, delivered: entries.length, rejected: 0, dropped: 0, pending: 0 });
    expect(await agent.metric('logferry_archive_overwrites_total', { sink: 'file' })).toBe(written.length);

    // Read DATA_DIR back: every entry once, every batch in the file named by its key.
    const files = await listFileSinkFiles(dataDir);
    const count = new Map<string, number>();
    for (const f of files) {
      const { lines, torn } = await readFileSinkFile(join(dataDir, f));
      expect(torn, f).toBe(false);
      for (const line of lines) {
        const id = idOf(JSON.parse(line))!;
        count.set(id, (count.get(id) ?? 0) + 1);
      }
    }
    expect(count.size).toBe(fly.length);
    expect([...count].filter(([, n]) => n !== 1)).toEqual([]);
    expect(files.length).toBe(batches.length + 1);
    for (const b of batches) expect(files.some((f) => f.endsWith(`-${b.key}.ndjson.gz`)), b.key).toBe(true);
    expect(files.filter((f) => /-spool-[0-9a-f]{16}\.ndjson\.gz$/.test(f))).toHaveLength(1);
    // No temporary file is left behind.
    expect(files.every((f) => !f.includes('.tmp'))).toBe(true);
    await stopCleanly(agent);
  });
});
