import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { releaseBody } from '../../src/body-pool.js';
import { gzip } from '../../src/compress.js';

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

describe('gzip', () => {
  it('gives the same bytes as zlib.gzipSync with the same options, for any size', async () => {
    // Empty, small, and many of zlib's output chunks.
    for (const [size, seed] of [[0, 1], [1, 2], [1000, 3], [300_000, 4], [9 * 1024 * 1024, 5]] as const) {
      const body = text(size, seed);
      const zipped = await gzip(body, 1);
      expect(zipped.equals(gzipSync(body, { level: 1, memLevel: 9 }))).toBe(true);
      expect(gunzipSync(zipped).equals(body)).toBe(true);
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
    expect(first[0]!.equals(gzipSync(bodies[0]!, { level: 1, memLevel: 9 }))).toBe(true);
    expect(first[1]!.equals(gzipSync(bodies[1]!, { level: 6, memLevel: 9 }))).toBe(true);
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
