import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { releaseBody } from '../../../src/pipeline/body-pool.js';
import { snappyBody } from '../../../sinks/loki/snappy.js';
import { makeFlyEntries, prng } from '../../support/fly-entries.js';
import { snappyUncompress } from '../../support/loki-protobuf.js';

/** A push body made by snappyjs into a pooled buffer, read back by the `snappy` package (an independent implementation). */
function roundTrip(input: Buffer): Buffer {
  const body = snappyBody(input);
  try {
    return Buffer.from(snappyUncompress(body));
  } finally {
    releaseBody(body);
  }
}

describe('snappy push body compression (snappyjs into pooled buffers)', () => {
  it('round-trips through an independent decoder: empty, tiny, runs, random, log lines, across 64 KiB blocks', () => {
    const lines = Buffer.from(`${makeFlyEntries(3000, { seed: 21 }).map((e) => e.payload).join('\n')}\n`);
    const inputs = [
      Buffer.alloc(0),
      Buffer.from('a'),
      Buffer.from('abcdabcdabcdabc'),
      Buffer.from('abcdabcdabcdabcdabcdabcdabcd'),
      Buffer.alloc(200_000, 7), // one long run: copies of 64, across blocks
      randomBytes(150_000), // incompressible: literals of every length encoding
      lines,
      lines.subarray(0, 65_537), // a block boundary one byte in
      Buffer.concat([randomBytes(70_000), Buffer.alloc(100, 1), lines.subarray(0, 100_000)]),
    ];
    for (const input of inputs) expect(roundTrip(input).equals(input), `${input.length} bytes`).toBe(true);
    // Log lines compress (a broken matcher would still round-trip as all literals).
    const body = snappyBody(lines);
    expect(body.length).toBeLessThan(lines.length * 0.7);
    releaseBody(body);
  });

  it('round-trips random mixtures of repeats and noise at every length and offset class', () => {
    const random = prng(77);
    for (let i = 0; i < 300; i++) {
      const parts: Buffer[] = [];
      let size = 0;
      const target = Math.floor(random() * 140_000);
      while (size < target) {
        const r = random();
        const len = 1 + Math.floor(random() * (r < 0.5 ? 20 : 3000));
        // Either noise, or a repeat of something earlier (near or far: 1- and 2-byte offsets).
        const earlier = Buffer.concat(parts);
        const part = r < 0.4 || earlier.length < len ? randomBytes(len) : earlier.subarray(Math.floor(random() * (earlier.length - len + 1))).subarray(0, len);
        parts.push(Buffer.from(part));
        size += len;
      }
      const input = Buffer.concat(parts);
      expect(roundTrip(input).equals(input), `case ${i}, ${input.length} bytes`).toBe(true);
    }
  });
});

describe('snappy push bodies', () => {
  it('reuse the buffer of a body given back, and never one still out', () => {
    const body = Buffer.from(`${makeFlyEntries(500, { seed: 22 }).map((e) => e.payload).join('\n')}\n`);
    const first = snappyBody(body);
    expect(snappyUncompress(first).equals(body)).toBe(true);
    // Not given back yet: the next body gets other memory.
    const second = snappyBody(body);
    expect(second.buffer).not.toBe(first.buffer);
    releaseBody(first);
    const third = snappyBody(body);
    expect(third.buffer).toBe(first.buffer);
    expect(snappyUncompress(third).equals(body)).toBe(true);
    // Given back twice, or something never lent: ignored, so one buffer never serves two bodies.
    releaseBody(third);
    releaseBody(third);
    releaseBody(Buffer.alloc(64 * 1024));
    const a = snappyBody(body);
    const b = snappyBody(body);
    expect(a.buffer).toBe(first.buffer);
    expect(b.buffer).not.toBe(first.buffer);
    expect(snappyUncompress(a).equals(body) && snappyUncompress(b).equals(body)).toBe(true);
    releaseBody(second);
  });
});
