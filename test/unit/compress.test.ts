import { constants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { releaseBody } from '../../src/pipeline/body-pool.js';
import { compress, gzip, zstd } from '../../src/codec/compress.js';

/** Log-like text that does not compress to nothing: a counter and pseudo-random words. */
function text(bytes: number, seed: number): Buffer {
  let x = seed >>> 0 || 1;
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const line = `{"message":"GET /item/${(x >>> 0).toString(36)} ${size} ${(x >>> 7).toString(16)}","n":${size}}\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** Bytes no codec can shrink. */
function noise(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const zstdSync = (body: Uint8Array, level: number): Buffer => zstdCompressSync(body, { params: { [constants.ZSTD_c_compressionLevel]: level } });

describe('gzip', () => {
  it('gives the same bytes as zlib.gzipSync (memLevel 9) at every level, for any size', async () => {
    for (const size of [0, 1, 1000, 300_000]) {
      const body = text(size, size + 3);
      for (const level of [1, 3, 6, 9]) {
        const zipped = await gzip(body, level);
        expect(zipped.equals(gzipSync(body, { level, memLevel: 9 })), `size ${size} level ${level}`).toBe(true);
        expect(gunzipSync(zipped).equals(body)).toBe(true);
        releaseBody(zipped);
      }
    }
  });

  it('compresses incompressible bodies larger than their input', async () => {
    const body = noise(500_000, 5);
    const zipped = await gzip(body, 3);
    expect(zipped.length).toBeGreaterThan(body.length);
    expect(gunzipSync(zipped).equals(body)).toBe(true);
    releaseBody(zipped);
  });

  it('frees the output chunks of a body spanning many, and the stream goes on working', async () => {
    // Each body spans several 240 KiB output buffers; those are freed once copied, except the
    // last one's, which the stream may still be writing into for the next body.
    const bodies = [noise(1_000_000, 7), text(1000, 8), noise(700_000, 9), text(10, 10), text(2_000_000, 11), noise(1_000_000, 12)];
    for (const codec of ['gzip', 'zstd'] as const) {
      for (const body of bodies) {
        const out = await compress(codec, body, 3);
        const back = codec === 'gzip' ? gunzipSync(out) : zstdDecompressSync(out);
        expect(back.equals(body), `${codec} ${body.length}`).toBe(true);
        releaseBody(out);
      }
    }
  });

  it('keeps each body intact when many are compressed at once and afterwards', async () => {
    const bodies = Array.from({ length: 24 }, (_, i) => text(50_000 + i * 7919, 100 + i));
    const first = await Promise.all(bodies.map((b, i) => gzip(b, i % 2 === 0 ? 1 : 6)));
    // Later bodies go through the same streams; earlier results must not change.
    const second: Buffer[] = [];
    for (const b of bodies) second.push(await gzip(b, 1));
    for (let i = 0; i < bodies.length; i++) {
      expect(gunzipSync(first[i]!).equals(bodies[i]!)).toBe(true);
      expect(gunzipSync(second[i]!).equals(bodies[i]!)).toBe(true);
    }
    // No two bodies still out share memory.
    const buffers = new Set([...first, ...second].map((z) => z.buffer));
    expect(buffers.size).toBe(first.length + second.length);
    expect(first[1]!.equals(gzipSync(bodies[1]!, { level: 6, memLevel: 9 }))).toBe(true);
    for (const z of [...first, ...second]) releaseBody(z);
  });

  it('compresses into the buffer of a body given back, never into one still out', async () => {
    const body = text(400_000, 7);
    const a = await gzip(body, 1);
    const b = await gzip(body, 1);
    expect(b.buffer).not.toBe(a.buffer);
    releaseBody(a);
    // Given back twice, or never lent: ignored, so one buffer never serves two bodies.
    releaseBody(a);
    releaseBody(Buffer.alloc(a.buffer.byteLength));
    const c = await gzip(body, 1);
    const d = await gzip(body, 1);
    expect(c.buffer).toBe(a.buffer);
    expect(d.buffer).not.toBe(a.buffer);
    for (const z of [b, c, d]) expect(gunzipSync(z).equals(body)).toBe(true);
    for (const z of [b, c, d]) releaseBody(z);
  });
});

describe('zstd', () => {
  it('round-trips through zlib.zstdDecompressSync at several levels and sizes, deterministically', async () => {
    for (const size of [0, 1, 1000, 300_000]) {
      const body = text(size, size + 11);
      for (const level of [1, 3, 6, 19]) {
        const framed = await zstd(body, level);
        // Magic number of a zstd frame (RFC 8878), little endian.
        expect(framed.readUInt32LE(0)).toBe(0xfd2fb528);
        expect(zstdDecompressSync(framed).equals(body), `size ${size} level ${level}`).toBe(true);
        // Streamed, so the frame header carries no content size: not zstdCompressSync's bytes,
        // but the same bytes every time for the same body.
        const again = await zstd(body, level);
        expect(again.equals(framed), `size ${size} level ${level}`).toBe(true);
        releaseBody(framed);
        releaseBody(again);
      }
    }
  });

  it('resets between bodies: a stream reused after many bodies still makes whole, independent frames', async () => {
    const bodies = Array.from({ length: 16 }, (_, i) => (i % 5 === 4 ? noise(70_000, i) : text(60_000 + i * 4099, 40 + i)));
    const concurrent = await Promise.all(bodies.map((b, i) => compress(i % 2 === 0 ? 'zstd' : 'gzip', b, 3)));
    const sequential: Buffer[] = [];
    for (const b of bodies) sequential.push(await zstd(b, 3));
    for (let i = 0; i < bodies.length; i++) {
      const body = bodies[i]!;
      expect((i % 2 === 0 ? zstdDecompressSync : gunzipSync)(concurrent[i]!).equals(body)).toBe(true);
      expect(zstdDecompressSync(sequential[i]!).equals(body)).toBe(true);
      if (i % 2 === 0) expect(sequential[i]!.equals(concurrent[i]!)).toBe(true);
    }
    // Frames appended one after another (the file sink's files) read back as all bodies in order.
    expect(zstdDecompressSync(Buffer.concat(sequential)).equals(Buffer.concat(bodies))).toBe(true);
    for (const z of [...concurrent, ...sequential]) releaseBody(z);
  });

  it('makes log lines smaller than gzip at the same level of effort', async () => {
    const body = text(1_000_000, 99);
    const z = await zstd(body, 1);
    const g = await gzip(body, 3);
    expect(z.length).toBeLessThan(g.length);
    // Level 19 spends more for less.
    expect(zstdSync(body, 19).length).toBeLessThan(z.length);
    releaseBody(z);
    releaseBody(g);
  });
});
