// Issue 2, test 7: payloads that are not Fly JSON (invalid JSON, non-UTF-8 bytes, empty, a
// JSON array, a bare string, one just under NATS's 1 MiB payload limit) never crash the
// agent, each is accounted for, and good entries keep flowing afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import type { ParsedEntry } from '../../support/http-receiver.js';
import { waitFor } from '../../support/poll.js';
import { expectExactlyOnce, startHarness, stopCleanly, sum, waitForSettled, type Harness } from './scenario.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const SUBJECT = 'logs.garbage-app.fra.0a1b2c3d4e5f60';
const NATS_MAX_PAYLOAD = 1024 * 1024;

function hugeFlyPayload(): string {
  const shell = {
    event: { provider: 'app' },
    fly: { app: { instance: '0a1b2c3d4e5f60', name: 'garbage-app' }, region: 'fra' },
    host: 'ab12',
    log: { level: 'info' },
    message: '',
    timestamp: '2026-11-26T20:34:37.000412877Z',
  };
  const room = NATS_MAX_PAYLOAD - 64 - JSON.stringify(shell).length;
  shell.message = `huge req_id=huge-1 ${'z'.repeat(room - 20)}`;
  return JSON.stringify(shell);
}

interface Flagged extends ParsedEntry {
  message?: unknown;
  logferry?: { malformed?: string; raw_base64?: string };
  fly?: { app?: { name?: string; instance?: string }; region?: string };
}

describe('e2e: garbage payloads', () => {
  it('accounts for every bad payload and keeps shipping', async () => {
    const agent = await h.startAgent();
    const binary = Uint8Array.from([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x22, 0x7d]); // {"m":"<invalid>"}
    const huge = hugeFlyPayload();
    expect(Buffer.byteLength(huge)).toBeLessThanOrEqual(NATS_MAX_PAYLOAD);
    expect(Buffer.byteLength(huge)).toBeGreaterThan(NATS_MAX_PAYLOAD - 1024);
    const garbage = [
      { subject: SUBJECT, data: '{"message": "unterminated' }, // invalid_json
      { subject: SUBJECT, data: binary }, // invalid_utf8
      { subject: SUBJECT, data: '' }, // empty_payload (dropped)
      { subject: SUBJECT, data: '[1,2,3]' }, // not_an_object
      { subject: SUBJECT, data: '"just a string"' }, // not_an_object
      { subject: SUBJECT, data: 'plain text, not JSON at all' }, // invalid_json
      { subject: SUBJECT, data: '{"hello":"world"}' }, // valid object without Fly fields: filled from the subject
      { subject: SUBJECT, data: huge }, // delivered, or dropped with a counted reason
    ];
    await h.publish(garbage);
    await waitFor(async () => (await agent.metric('logferry_nats_messages_received_total')) === garbage.length, {
      what: 'every garbage message to reach the agent',
      context: () => agent.tail(10),
    });
    expect(agent.isRunning()).toBe(true);

    // Good entries after the garbage still arrive.
    const good = makeFlyEntries(500, { seed: 7 });
    await h.publish(good);
    const a = await waitForSettled(agent, garbage.length - 1 + good.length);
    expect(agent.isRunning(), agent.tail()).toBe(true);

    expect(await agent.metric('logferry_nats_messages_received_total')).toBe(garbage.length + good.length);
    expect(await agent.metric('logferry_source_dropped_total', { reason: 'empty_payload' })).toBe(1);
    expect(await agent.metric('logferry_source_dropped_total')).toBe(1);
    expect(await agent.metric('logferry_entries_malformed_total', { reason: 'invalid_json' })).toBe(2);
    expect(await agent.metric('logferry_entries_malformed_total', { reason: 'not_an_object' })).toBe(2);
    expect(await agent.metric('logferry_entries_malformed_total', { reason: 'invalid_utf8' })).toBe(1);
    expect(a.received).toBe(garbage.length - 1 + good.length);
    expect(a.rejected).toBe(0);

    const received = h.receiver.entries() as Flagged[];
    const fromGarbage = received.filter((e) => e.fly?.app?.name === 'garbage-app');
    const flagged = (reason: string): Flagged[] => fromGarbage.filter((e) => e.logferry?.malformed === reason);

    // Malformed payloads arrive as flagged entries carrying the raw text, routed from the subject.
    expect(flagged('invalid_json').map((e) => e.message).sort()).toEqual(['plain text, not JSON at all', '{"message": "unterminated']);
    expect(flagged('not_an_object').map((e) => e.message).sort()).toEqual(['"just a string"', '[1,2,3]']);
    const [utf8] = flagged('invalid_utf8');
    expect(utf8, 'the non-UTF-8 payload arrives flagged').toBeDefined();
    expect(typeof utf8!.message).toBe('string');
    expect(Buffer.from(utf8!.logferry!.raw_base64!, 'base64').equals(Buffer.from(binary))).toBe(true);
    for (const e of fromGarbage.filter((x) => x.logferry !== undefined)) {
      expect(e.fly).toMatchObject({ app: { name: 'garbage-app', instance: '0a1b2c3d4e5f60' }, region: 'fra' });
    }

    // An object without Fly's fields keeps its own and gets app/region/instance from the subject.
    const hello = fromGarbage.find((e) => e.hello === 'world');
    expect(hello).toMatchObject({ hello: 'world', fly: { app: { name: 'garbage-app', instance: '0a1b2c3d4e5f60' }, region: 'fra' } });
    expect(hello!.logferry).toBeUndefined();

    // The near-limit entry: delivered intact, or dropped and counted with a reason.
    const hugeArrived = fromGarbage.filter((e) => typeof e.message === 'string' && e.message.startsWith('huge req_id=huge-1'));
    if (hugeArrived.length === 1) {
      expect(hugeArrived[0]).toEqual(JSON.parse(huge));
      expect(a.dropped).toBe(0);
    } else {
      expect(hugeArrived).toHaveLength(0);
      expect(a.dropped, 'the huge entry, if not delivered, is counted as dropped').toBe(1);
    }
    expect(fromGarbage).toHaveLength(7 - (hugeArrived.length === 1 ? 0 : 1));

    expectExactlyOnce(received.filter((e) => e.fly?.app?.name !== 'garbage-app'), good);

    const counters = await stopCleanly(agent);
    expect(counters.nats.dropped).toEqual({ empty_payload: 1 });
    expect(counters.nats.malformed).toEqual({ invalid_json: 2, not_an_object: 2, invalid_utf8: 1 });
    expect(sum(counters.sinks.http!.rejected)).toBe(0);
  });
});
