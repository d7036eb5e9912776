// The incremental NATS protocol reader: one stream split at every byte boundary, byte by
// byte, and in random chunkings gives exactly the callbacks of the whole stream; payloads
// inside a chunk are handed over without a copy; malformed lines and absurd sizes end
// the stream with one protocol error, whatever the chunking.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_CONTROL_LINE_BYTES, ProtocolReader, type NatsProtocolError, type ProtocolHandler, type ServerInfo } from '../../src/source/nats-protocol.js';
import { prng } from '../support/fly-entries.js';

type Event =
  | readonly ['msg', string, number, string]
  | readonly ['info', ServerInfo]
  | readonly ['ping']
  | readonly ['pong']
  | readonly ['ok']
  | readonly ['err', string]
  | readonly ['protocolError', string, string];

/** A payload as the test compares it: hex when short, a length and hash when long. */
function describePayload(buf: Buffer, start: number, end: number): string {
  const bytes = buf.subarray(start, end);
  if (bytes.length <= 256) return bytes.toString('hex');
  return `${bytes.length}:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface Recorded {
  readonly events: Event[];
  /** For each MSG: whether its payload came as the chunk itself (no copy). */
  readonly zeroCopy: boolean[];
}

function recorder(currentChunk: () => Buffer | undefined): { handler: ProtocolHandler; recorded: Recorded } {
  const recorded: Recorded = { events: [], zeroCopy: [] };
  const handler: ProtocolHandler = {
    msg: (subject, sid, buf, start, end) => {
      recorded.events.push(['msg', subject, sid, describePayload(buf, start, end)]);
      recorded.zeroCopy.push(buf === currentChunk());
    },
    info: (info) => recorded.events.push(['info', info]),
    ping: () => recorded.events.push(['ping']),
    pong: () => recorded.events.push(['pong']),
    ok: () => recorded.events.push(['ok']),
    err: (message) => recorded.events.push(['err', message]),
    protocolError: (error: NatsProtocolError) => recorded.events.push(['protocolError', error.code, error.message]),
  };
  return { handler, recorded };
}

/** Feeds `stream` cut at `cuts` (sorted offsets) and returns the callbacks. */
function feed(stream: Buffer, cuts: readonly number[]): Recorded {
  let chunk: Buffer | undefined;
  const { handler, recorded } = recorder(() => chunk);
  const reader = new ProtocolReader(handler);
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    if (cut <= from) continue;
    // A fresh Buffer per chunk, as a socket gives, so a kept reference to an old chunk would show.
    chunk = Buffer.from(stream.subarray(from, cut));
    reader.push(chunk);
    from = cut;
  }
  return recorded;
}

function randomCuts(length: number, seed: number, maxChunk: number): number[] {
  const rand = prng(seed);
  const cuts: number[] = [];
  let at = 0;
  for (;;) {
    at += 1 + Math.floor(rand() * maxChunk);
    if (at >= length) return cuts;
    cuts.push(at);
  }
}

const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const invalidUtf8 = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff, 0xfe]);

function msg(subject: string, sid: number, payload: Buffer | string, reply?: string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from(`MSG ${subject} ${sid}${reply !== undefined ? ` ${reply}` : ''} ${body.length}\r\n`), body, Buffer.from('\r\n')]);
}

/** Every kind of line the server sends, with awkward payloads; no 1 MiB one, so every split point stays cheap. */
function smallStream(): Buffer {
  return Buffer.concat([
    Buffer.from('INFO {"server_id":"NABC","version":"2.10.0","max_payload":1048576,"headers":true,"tls_required":false}\r\n'),
    Buffer.from('+OK\r\n'),
    Buffer.from('PONG\r\n'),
    msg('logs.shop-api.ams.0e28', 1, '{"message":"hello"}'),
    msg('logs.shop-api.ams.0e28', 1, '{"message":"same subject again"}'),
    msg('logs.shop-api.ams.0e28', 1, 'payload with \r\n inside and \r\n\r\n twice', '_INBOX.reply.1'),
    msg('logs.edge.iad.77aa', 1, binary),
    msg('logs.edge.iad.77aa', 1, invalidUtf8),
    msg('logs.edge.iad.77aa', 1, ''),
    msg('logs.edge.iad.77', 1, 'a shorter subject sharing a prefix'),
    msg('logs.edge.iad.77ab', 1, 'a subject differing in its last byte'),
    Buffer.from('PING\r\n'),
    msg('logs.other.syd.1', 2, 'second sid', 'reply.to'),
    msg('logs.other.syd.1', 99, '\r\n'),
    Buffer.from('msg  logs.lower.case.1   1    4\r\nlow!\r\n'),
    Buffer.from("-ERR 'Slow Consumer'\r\n"),
    Buffer.from('INFO {"connect_urls":["10.0.0.1:4222"],"ldm":false}\r\n'),
    Buffer.from('ping\r\n'),
    msg('logs.last.one.x', 1, 'the end'),
  ]);
}

describe('ProtocolReader', () => {
  it('reads every kind of line', () => {
    const whole = feed(smallStream(), []);
    expect(whole.events).toEqual([
      ['info', { server_id: 'NABC', version: '2.10.0', max_payload: 1048576, headers: true, tls_required: false }],
      ['ok'],
      ['pong'],
      ['msg', 'logs.shop-api.ams.0e28', 1, Buffer.from('{"message":"hello"}').toString('hex')],
      ['msg', 'logs.shop-api.ams.0e28', 1, Buffer.from('{"message":"same subject again"}').toString('hex')],
      ['msg', 'logs.shop-api.ams.0e28', 1, Buffer.from('payload with \r\n inside and \r\n\r\n twice').toString('hex')],
      ['msg', 'logs.edge.iad.77aa', 1, binary.toString('hex')],
      ['msg', 'logs.edge.iad.77aa', 1, invalidUtf8.toString('hex')],
      ['msg', 'logs.edge.iad.77aa', 1, ''],
      ['msg', 'logs.edge.iad.77', 1, Buffer.from('a shorter subject sharing a prefix').toString('hex')],
      ['msg', 'logs.edge.iad.77ab', 1, Buffer.from('a subject differing in its last byte').toString('hex')],
      ['ping'],
      ['msg', 'logs.other.syd.1', 2, Buffer.from('second sid').toString('hex')],
      ['msg', 'logs.other.syd.1', 99, '0d0a'],
      ['msg', 'logs.lower.case.1', 1, Buffer.from('low!').toString('hex')],
      ['err', 'Slow Consumer'],
      ['info', { connect_urls: ['10.0.0.1:4222'], ldm: false }],
      ['ping'],
      ['msg', 'logs.last.one.x', 1, Buffer.from('the end').toString('hex')],
    ]);
    // One chunk holds every payload: each is handed over as that chunk, never copied.
    expect(whole.zeroCopy.every(Boolean)).toBe(true);
  });

  it('gives the same callbacks split at every byte boundary, in three pieces, and byte by byte', () => {
    const stream = smallStream();
    const expected = feed(stream, []).events;
    for (let cut = 1; cut < stream.length; cut++) {
      expect(feed(stream, [cut]).events, `split at ${cut}`).toEqual(expected);
    }
    for (let a = 1; a < stream.length; a += 7) {
      for (let b = a + 1; b < stream.length; b += 13) expect(feed(stream, [a, b]).events, `split at ${a} and ${b}`).toEqual(expected);
    }
    expect(feed(stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1)).events).toEqual(expected);
  });

  it('gives the same callbacks with a 1 MiB payload in random chunkings and split around it', () => {
    const big = Buffer.alloc(1024 * 1024);
    const rand = prng(7);
    for (let i = 0; i < big.length; i++) big[i] = Math.floor(rand() * 256);
    big.write('\r\n', 1000);
    big.write('\r\nMSG fake 1 3\r\n', 500_000);
    const head = smallStream();
    const bigMsg = msg('logs.big.ams.1', 1, big);
    const stream = Buffer.concat([head, bigMsg, msg('logs.after.big.1', 1, 'after'), Buffer.from('PING\r\n')]);
    const whole = feed(stream, []);
    expect(whole.events.at(-3)).toEqual(['msg', 'logs.big.ams.1', 1, describePayload(big, 0, big.length)]);
    expect(whole.events.at(-1)).toEqual(['ping']);
    for (const [seed, maxChunk] of [[1, 16], [2, 1500], [3, 65_536], [4, 200_000], [5, 3], [6, 9000]] as const) {
      expect(feed(stream, randomCuts(stream.length, seed, maxChunk)).events, `seed ${seed}, chunks up to ${maxChunk}`).toEqual(whole.events);
    }
    // Every split point around the big message's control line and its trailing CRLF.
    const bigStart = head.length;
    const bigEnd = head.length + bigMsg.length;
    for (const around of [bigStart, bigEnd]) {
      for (let cut = around - 40; cut <= around + 40; cut++) expect(feed(stream, [cut]).events, `split at ${cut}`).toEqual(whole.events);
    }
  });

  it('copies only payloads that straddle chunks', () => {
    const a = msg('logs.a.b.c', 1, 'first');
    const b = msg('logs.a.b.c', 1, 'second');
    const cut = a.length + 20; // inside b's payload
    const { zeroCopy } = feed(Buffer.concat([a, b]), [cut]);
    expect(zeroCopy).toEqual([true, false]);
  });

  it('reads an oversized INFO up to the control line limit split across chunks', () => {
    const info = Buffer.from(`INFO {"connect_urls":[${Array.from({ length: 3000 }, (_, i) => `"10.0.${i % 256}.${i}:4222"`).join(',')}]}\r\nPING\r\n`);
    const whole = feed(info, []).events;
    expect(whole.map((e) => e[0])).toEqual(['info', 'ping']);
    expect(feed(info, randomCuts(info.length, 11, 100)).events).toEqual(whole);
  });

  const malformed: ReadonlyArray<readonly [string, Buffer, RegExp]> = [
    ['an unknown operation', Buffer.from('HELLO world\r\n'), /unknown or malformed protocol line: "HELLO world"/],
    ['an empty line', Buffer.from('\r\n'), /unknown or malformed/],
    ['a bare LF', Buffer.from('PING\n'), /not ended by CRLF: "PING"/],
    ['PING with arguments', Buffer.from('PING now\r\n'), /unknown or malformed/],
    ['MSG without a size', Buffer.from('MSG logs.a 1\r\n'), /malformed MSG line/],
    ['MSG with too many fields', Buffer.from('MSG logs.a 1 reply 3 4\r\nabc\r\n'), /malformed MSG line/],
    ['MSG with a size that is not a number', Buffer.from('MSG logs.a 1 3x\r\nabc\r\n'), /size is not a number/],
    ['MSG with a negative size', Buffer.from('MSG logs.a 1 -3\r\nabc\r\n'), /size is not a number/],
    ['MSG just over 64 MiB', Buffer.from(`MSG logs.a 1 ${64 * 1024 * 1024 + 1}\r\n`), /payload size over 67108864/],
    ['MSG with an absurd size', Buffer.from('MSG logs.a 1 99999999999999999999\r\n'), /payload size over 67108864/],
    ['a payload longer than its size', Buffer.from('MSG logs.a 1 3\r\nabcd\r\nPING\r\n'), /3-byte payload of a MSG on "logs.a" is not followed by CRLF/],
    ['a payload shorter than its size', Buffer.from('MSG logs.a 1 5\r\nabc\r\nPING\r\n'), /5-byte payload .* not followed by CRLF/],
    ['INFO that is not JSON', Buffer.from('INFO {"server_id":\r\n'), /INFO is not JSON/],
    ['INFO that is not an object', Buffer.from('INFO [1,2]\r\n'), /INFO is not a JSON object/],
    ['a line over the limit', Buffer.alloc(MAX_CONTROL_LINE_BYTES + 10, 'A'), /control line longer than 1048576 bytes/],
  ];

  for (const [name, bad, message] of malformed) {
    it(`reports ${name} as one protocol error, then reads nothing more, however it is split`, () => {
      const before = Buffer.concat([Buffer.from('PING\r\n'), msg('logs.ok.x.y', 1, 'fine')]);
      const stream = Buffer.concat([before, bad, Buffer.from('PING\r\n'), msg('logs.ok.x.y', 1, 'never')]);
      const whole = feed(stream, []).events;
      const errors = whole.filter((e) => e[0] === 'protocolError');
      expect(errors).toHaveLength(1);
      expect(errors[0]![1]).toBe('NATS_PROTOCOL');
      expect(errors[0]![2]).toMatch(message);
      expect(whole.at(-1)![0]).toBe('protocolError');
      expect(whole.slice(0, 2)).toEqual([['ping'], ['msg', 'logs.ok.x.y', 1, Buffer.from('fine').toString('hex')]]);
      const step = stream.length > 4096 ? 997 : 1;
      for (let cut = 1; cut < stream.length; cut += step) expect(feed(stream, [cut]).events, `split at ${cut}`).toEqual(whole);
      expect(feed(stream, randomCuts(stream.length, 3, 7)).events).toEqual(whole);
    });
  }

  it('names every message by its own subject when thousands of subjects interleave (the recent-subject cache collides and is overwritten)', () => {
    const rand = prng(11);
    const subjects = Array.from({ length: 3000 }, (_, i) => `logs.app-${i % 97}.${['ams', 'iad', 'sjc'][i % 3]}.${i.toString(16).padStart(14, '0')}`);
    // Same length, bytes differing only late: a weak hash or a short compare would mix them up.
    subjects.push('logs.x.ams.aaaaaaaaaaaaab', 'logs.x.ams.aaaaaaaaaaaaba', 'logs.x.ams.aaaaaaaaaaaaaa');
    const order = Array.from({ length: 20_000 }, () => subjects[Math.floor(rand() * subjects.length)]!);
    const stream = Buffer.concat(order.map((subject, i) => msg(subject, 1, `{"i":${i}}`)));
    const events = feed(stream, randomCuts(stream.length, 12, 4096)).events;
    expect(events.map((e) => e[1])).toEqual(order);
  });

  it('passes sid -1 for a sid that is not a number', () => {
    expect(feed(Buffer.from('MSG logs.a.b.c abc 2\r\nhi\r\n'), []).events).toEqual([['msg', 'logs.a.b.c', -1, Buffer.from('hi').toString('hex')]]);
  });

  it('stops at stop(), even within a chunk', () => {
    const events: string[] = [];
    const reader: ProtocolReader = new ProtocolReader({
      msg: () => undefined,
      info: () => undefined,
      ping: () => {
        events.push('ping');
        reader.stop();
      },
      pong: () => events.push('pong'),
      ok: () => undefined,
      err: () => undefined,
      protocolError: () => events.push('error'),
    });
    reader.push(Buffer.from('PING\r\nPONG\r\n'));
    reader.push(Buffer.from('PONG\r\n'));
    expect(events).toEqual(['ping']);
    expect(reader.stopped).toBe(true);
  });
});
