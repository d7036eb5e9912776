// The spool's contract (BatchSpool) in memory, for pipeline unit tests.
import type { BatchSpool } from '../../src/pipeline/sink-pipeline.js';
import type { Batch } from '../../src/pipeline/sink.js';

/** An in-memory stand-in for src/spool/spool.ts with the same contract. */
export class MemorySpool implements BatchSpool {
  readonly records: Array<{ seq: number; partition: string; key: string; receivedAtMs: number; lines: readonly string[]; out: boolean; acked: boolean }> = [];
  recoveredEntries = 0;
  failWrites = false;
  #seq = 0;
  async appendNdjson(partition: string, ndjson: Buffer, count: number, batch: Pick<Batch, 'key' | 'receivedAtMs'>, onWritten?: () => void) {
    if (this.failWrites) throw new Error('EROFS: read-only file system');
    const lines = count === 0 ? [] : ndjson.toString('utf8', 0, ndjson.length - 1).split('\n');
    this.records.push({ seq: ++this.#seq, partition, key: batch.key, receivedAtMs: batch.receivedAtMs, lines, out: false, acked: false });
    onWritten?.();
    return { stored: true, evictedEntries: 0 };
  }
  async next() {
    const r = this.records.find((x) => !x.out && !x.acked);
    if (r === undefined) return undefined;
    r.out = true;
    return { seq: r.seq, partition: r.partition, key: r.key, receivedAtMs: r.receivedAtMs, lines: r.lines };
  }
  async ack(seq: number) {
    this.records.find((x) => x.seq === seq)!.acked = true;
  }
  release(seq: number) {
    this.records.find((x) => x.seq === seq)!.out = false;
  }
  async close() {}
  get unacked(): number {
    return this.records.filter((r) => !r.acked).reduce((n, r) => n + r.lines.length, 0);
  }
}
