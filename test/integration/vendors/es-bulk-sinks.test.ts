// EraSearch and Sematext (Elasticsearch `_bulk`) against a receiver that answers as
// Elasticsearch does, per document.
import { afterEach, describe, expect, test } from 'vitest';
import { EnvReader } from '../../../src/config/env.js';
import { readEraSearchConfig } from '../../../sinks/erasearch/config.js';
import { createEraSearchSink } from '../../../sinks/erasearch/sink.js';
import { readSematextConfig } from '../../../sinks/sematext/config.js';
import { createSematextSink } from '../../../sinks/sematext/sink.js';
import { BulkRetryError } from '../../../sinks/shared/es-bulk.js';
import { startEsBulkReceiver, type EsBulkReceiver } from '../../support/vendor-receivers/es-bulk.js';
import { without } from '../../support/vendor-receivers/base.js';
import { freePort } from '../../support/ports.js';
import { configured } from '../../support/config-error.js';
import { makeBatch, sampleEntries, sinkContractSuite } from '../../support/sink-contract.js';

const ERA_AUTH = 'Bearer era-api-key-0123456789';
const ERA_INDEX = 'fly-logs';
const SEMATEXT_TOKEN = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

function eraSink(url: string) {
  return createEraSearchSink(configured(readEraSearchConfig(new EnvReader({ ERASEARCH_URL: url, ERASEARCH_AUTH: ERA_AUTH, ERASEARCH_INDEX: ERA_INDEX }))), 2);
}
function sematextSink(url: string) {
  return createSematextSink(configured(readSematextConfig(new EnvReader({ SEMATEXT_TOKEN, SEMATEXT_REGION: 'eu', SEMATEXT_ENDPOINT: url }))), 2);
}

/** fly-log-shipper's EraSearch transform, written out here: a JSON-object message is merged in and removed. */
function expectedEraDoc(original: Record<string, unknown>): Record<string, unknown> {
  const m = original.message;
  if (typeof m === 'string' && m.startsWith('{')) {
    try {
      const fields: unknown = JSON.parse(m);
      if (fields !== null && typeof fields === 'object' && !Array.isArray(fields)) return { ...without(original, ['message']), ...(fields as Record<string, unknown>) };
    } catch {
      // not JSON: kept as is
    }
  }
  return original;
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}

// EraSearch stores the merged document, which cannot be turned back into the entry: the
// harness maps each stored document to the sample entry whose expected document it equals
// exactly (a document matching none is returned as stored, failing the suite).
sinkContractSuite('erasearch', async () => {
  const rx = await startEsBulkReceiver({ index: ERA_INDEX, authorization: ERA_AUTH });
  const sink = eraSink(rx.url);
  const byDoc = new Map(sampleEntries().map((e) => {
    const original = JSON.parse(e.line) as Record<string, unknown>;
    return [canonical(expectedEraDoc(original)), original] as const;
  }));
  return {
    sink,
    stored: async () => rx.docs.map((d) => byDoc.get(canonical(d)) ?? d),
    failNext: (status) => rx.failNext(status),
    refusedSink: async () => eraSink(`http://127.0.0.1:${await freePort()}`),
    close: async () => {
      await sink.close();
      await rx.close();
    },
  };
});

sinkContractSuite('sematext', async () => {
  const rx = await startEsBulkReceiver({ index: SEMATEXT_TOKEN });
  const sink = sematextSink(rx.url);
  return {
    sink,
    stored: async () => rx.docs.map((d) => without(d, ['@timestamp'])),
    failNext: (status) => rx.failNext(status),
    refusedSink: async () => sematextSink(`http://127.0.0.1:${await freePort()}`),
    close: async () => {
      await sink.close();
      await rx.close();
    },
  };
});

describe('elasticsearch _bulk answers', () => {
  let rx: EsBulkReceiver | undefined;
  afterEach(async () => {
    await rx?.close();
  });

  test('EraSearch merges a JSON message into the document, as fly-log-shipper does', async () => {
    rx = await startEsBulkReceiver({ index: ERA_INDEX, authorization: ERA_AUTH });
    const sink = eraSink(rx.url);
    const batch = makeBatch(sampleEntries());
    await sink.send(await sink.encode(batch), batch, new AbortController().signal);
    await sink.close();
    expect(rx.violations).toEqual([]);
    const merged = rx.docs.find((d) => d.msg === 'payment provider timeout');
    expect(merged).toMatchObject({ level: 'error', order_id: 48211, latency_ms: 30012 });
    expect(merged).not.toHaveProperty('message');
  });

  test('documents refused per item (400) are rejected, the rest delivered; Sematext adds @timestamp', async () => {
    rx = await startEsBulkReceiver({ index: SEMATEXT_TOKEN, refuse: (d) => String(d.message).startsWith('{') });
    const sink = sematextSink(rx.url);
    const entries = sampleEntries();
    const jsonMessages = entries.filter((e) => String((JSON.parse(e.line) as { message: unknown }).message).startsWith('{')).length;
    expect(jsonMessages).toBeGreaterThan(0);
    const batch = makeBatch(entries);
    const result = await sink.send(await sink.encode(batch), batch, new AbortController().signal);
    expect(result).toEqual({ rejectedEntries: jsonMessages, rejectReason: 'es_mapper_parsing_exception' });
    expect(rx.docs).toHaveLength(entries.length - jsonMessages);
    for (const d of rx.docs) expect(d['@timestamp']).toBe(d.timestamp);
    await sink.close();
  });

  test('items throttled (429) make the batch retried; the retry stores each document exactly once (same _id: replaced, not added)', async () => {
    rx = await startEsBulkReceiver({ index: SEMATEXT_TOKEN });
    const sink = sematextSink(rx.url);
    const entries = sampleEntries();
    const batch = makeBatch(entries);
    const encoded = await sink.encode(batch);
    const first = await sink.send(encoded, batch, new AbortController().signal);
    expect(first).toBeUndefined();
    expect(rx.docs).toHaveLength(entries.length);

    // A second attempt at the same batch (as after a lost answer) stores nothing twice.
    await sink.send(encoded, batch, new AbortController().signal);
    expect(rx.docs).toHaveLength(entries.length);

    // Now the first 2 items of the next request are throttled: the other documents are stored at once.
    const other = makeBatch(sampleEntries());
    rx.docs.length = 0;
    rx.ids.clear();
    rx.throttleItems(2);
    const error = await sink.send(await sink.encode(other), other, new AbortController().signal).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BulkRetryError);
    expect(sink.classify(error)).toBe('retry');
    expect(rx.docs).toHaveLength(entries.length - 2);
    await sink.send(await sink.encode(other), other, new AbortController().signal);
    expect(rx.docs).toHaveLength(entries.length);
    expect(new Set(rx.docs.map((d) => canonical(d))).size).toBe(entries.length);
    await sink.close();
  });
});
