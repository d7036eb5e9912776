// The native gzip encoder (native/): every member must inflate back to its input with
// zlib, whatever the input's shape, and the check it runs must catch a damaged member.
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { makeFlyEntries, prng } from '../support/fly-entries.js';
import { loadNativeGzip, type NativeGzip } from '../../src/codec/native-gzip.js';

const load = loadNativeGzip();

function encoder(): NativeGzip {
  // npm ci builds the addon; a checkout where it did not build must fail here, not skip.
  expect(load.error).toBeUndefined();
  return load.encoder!;
}

async function zip(input: Uint8Array, room?: number): Promise<Buffer> {
  const gz = encoder();
  const out = Buffer.alloc(room ?? gz.gzipBound(input.length));
  const n = await gz.gzipInto(input, out);
  return out.subarray(0, n);
}

async function roundTrips(input: Uint8Array): Promise<Buffer> {
  const member = await zip(input);
  expect(gunzipSync(member).equals(Buffer.from(input.buffer, input.byteOffset, input.length))).toBe(true);
  return member;
}

/** Bytes over an alphabet of `symbols` values, some runs, some repeats from far back. */
function shaped(length: number, seed: number, symbols: number): Buffer {
  const rand = prng(seed);
  const b = Buffer.alloc(length);
  let i = 0;
  while (i < length) {
    const r = rand();
    if (r < 0.1 && i > 0) {
      // A repeat at a random distance, up to and past the 32 KiB window.
      const distance = 1 + Math.floor(rand() * Math.min(i, 40_000));
      const count = Math.min(length - i, 3 + Math.floor(rand() * 300));
      for (let k = 0; k < count; k++, i++) b[i] = b[i - distance]!;
    } else if (r < 0.15) {
      const count = Math.min(length - i, Math.floor(rand() * 600));
      const v = Math.floor(rand() * symbols);
      for (let k = 0; k < count; k++) b[i++] = v;
    } else {
      b[i++] = Math.floor(rand() * symbols);
    }
  }
  return b;
}

/** Uniformly random bytes: incompressible. */
function noise(length: number, seed: number): Buffer {
  const rand = prng(seed);
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

describe('native gzip', () => {
  it('round-trips empty, tiny and boundary-sized inputs', async () => {
    for (const length of [0, 1, 2, 3, 4, 5, 7, 8, 9, 257, 258, 259, 4095, 32_767, 32_768, 32_769, 65_535, 65_536, 65_537]) {
      await roundTrips(shaped(length, length + 1, 256));
      await roundTrips(Buffer.alloc(length, 0x61));
    }
  });

  it('round-trips the benchmark mix of Fly entries, as a batch of lines', async () => {
    const lines = makeFlyEntries(5_000, { seed: 3, startMs: Date.UTC(2026, 10, 26) }).map((e) => `${e.payload}\n`);
    const batch = Buffer.from(lines.join(''));
    const member = await roundTrips(batch);
    // Within a few percent of zlib level 3 (these entries include 8 KiB lines of random text).
    expect(member.length).toBeLessThan(gzipSync(batch, { level: 3 }).length * 1.05);
  });

  it('round-trips inputs of every shape: random bytes, small alphabets, runs, far repeats, views into larger buffers', async () => {
    const rand = prng(42);
    for (let round = 0; round < 60; round++) {
      const length = Math.floor(rand() ** 3 * 400_000);
      const symbols = [2, 3, 16, 64, 200, 256][round % 6]!;
      const data = shaped(length + 17, 1000 + round, symbols);
      // An odd offset: the encoder reads unaligned words.
      await roundTrips(data.subarray(round % 13, round % 13 + length));
    }
  });

  it('builds complete Huffman codes within the length limit, optimal when the limit does not bind', () => {
    const gz = encoder();
    const kraft = (lengths: Uint8Array): number => lengths.reduce((sum, l) => sum + (l === 0 ? 0 : 2 ** -l), 0);
    // Fibonacci counts: the unlimited code is 29 bits deep; limited to 15 and, for the code-length alphabet, 7.
    const fib = [1, 1];
    while (fib.length < 30) fib.push(fib.at(-1)! + fib.at(-2)!);
    for (const maxBits of [15, 7]) {
      const lengths = gz.codeLengths(Uint32Array.from(fib), maxBits);
      expect(Math.max(...lengths)).toBe(maxBits);
      expect(Math.min(...lengths)).toBeGreaterThan(0);
      expect(kraft(lengths)).toBe(1);
      // Rarer symbols never get shorter codes.
      for (let i = 1; i < lengths.length; i++) expect(lengths[i]).toBeLessThanOrEqual(lengths[i - 1]!);
    }
    // Unused symbols get no code; two used symbols get one bit each.
    expect([...gz.codeLengths(Uint32Array.from([0, 5, 0, 0, 9]), 15)]).toEqual([0, 1, 0, 0, 1]);
    // Powers of two: the exact Huffman code (1, 2, 3, 4, 4 bits).
    expect([...gz.codeLengths(Uint32Array.from([16, 8, 4, 2, 2]), 15)]).toEqual([1, 2, 3, 4, 4]);
    // Random counts over a full literal/length alphabet: complete and within 15 bits.
    const rand = prng(11);
    for (let round = 0; round < 50; round++) {
      const freqs = Uint32Array.from({ length: 286 }, () => (rand() < 0.3 ? 0 : Math.floor(rand() ** 8 * 100_000)));
      freqs[0] = 1;
      freqs[285] = 1;
      const lengths = gz.codeLengths(freqs, 15);
      expect(Math.max(...lengths)).toBeLessThanOrEqual(15);
      expect(kraft(lengths)).toBe(1);
      freqs.forEach((f, s) => expect(lengths[s]! > 0).toBe(f > 0));
    }
    expect(() => gz.codeLengths(Uint32Array.from([0, 0, 7]), 15)).toThrow(RangeError);
  });

  it('makes the same bytes for the same input (deterministic, mtime 0)', async () => {
    const input = shaped(100_000, 5, 64);
    const a = await zip(input);
    const b = await zip(input);
    expect(a.equals(b)).toBe(true);
    expect([...a.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  });

  it('reports ERR_GZIP_CAPACITY when the output is too small, and fits in gzipBound for incompressible input', async () => {
    const random = noise(200_000, 77);
    await expect(zip(random, 50_000)).rejects.toMatchObject({ code: 'ERR_GZIP_CAPACITY' });
    await expect(zip(Buffer.alloc(10), 5)).rejects.toMatchObject({ code: 'ERR_GZIP_CAPACITY' });
    const member = await roundTrips(random);
    expect(member.length).toBeLessThanOrEqual(encoder().gzipBound(random.length));
  });

  it('compresses many bodies at once on the thread pool without mixing them up', async () => {
    const inputs = Array.from({ length: 32 }, (_, i) => shaped(20_000 + i * 3_001, 500 + i, 1 + ((i * 37) % 256)));
    const members = await Promise.all(inputs.map((input) => zip(input)));
    members.forEach((member, i) => expect(gunzipSync(member).equals(inputs[i]!)).toBe(true));
  });

  it('rejects arguments that are not byte arrays', () => {
    const gz = encoder();
    expect(() => gz.gzipInto('text' as unknown as Uint8Array, Buffer.alloc(100))).toThrow(TypeError);
    expect(() => gz.gzipInto(new Uint16Array(4) as unknown as Uint8Array, Buffer.alloc(100))).toThrow(TypeError);
  });

  it('its check accepts a good member and catches a damaged one, a wrong input and a truncated member', async () => {
    const gz = encoder();
    const input = Buffer.from(makeFlyEntries(500, { seed: 8, startMs: 0 }).map((e) => `${e.payload}\n`).join(''));
    const member = await zip(input);
    expect(gz.checkMember(input, member)).toBe(true);
    // One flipped bit anywhere in the deflate stream: an error, or other bytes out.
    for (const at of [12, Math.floor(member.length / 2), member.length - 12]) {
      const damaged = Buffer.from(member);
      damaged[at]! ^= 0x10;
      expect(gz.checkMember(input, damaged)).toBe(false);
    }
    const other = Buffer.from(input);
    other[input.length - 5]! ^= 1;
    expect(gz.checkMember(other, member)).toBe(false);
    expect(gz.checkMember(input.subarray(0, input.length - 1), member)).toBe(false);
    expect(gz.checkMember(input, member.subarray(0, member.length - 20))).toBe(false);
  });
});
