import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { releaseBody } from '../../src/pipeline/body-pool.js';
import { gzip, gzipEncoderInfo, gzipFallbacks, useGzipEncoder } from '../../src/codec/compress.js';
import { loadNativeGzip, type NativeGzip } from '../../src/codec/native-gzip.js';

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

const native = loadNativeGzip().encoder;

describe('gzip', () => {
  afterEach(() => useGzipEncoder('native'));

  it('uses the native encoder at levels 1-3 when it is built', async () => {
    expect(gzipEncoderInfo()).toEqual({ encoder: 'native' });
    const body = text(300_000, 11);
    const zipped = await gzip(body, 3);
    expect(gunzipSync(zipped).equals(body)).toBe(true);
    // Not zlib's bytes: the native encoder made them.
    expect(zipped.equals(gzipSync(body, { level: 3, memLevel: 9 }))).toBe(false);
    expect(native!.checkMember(body, zipped)).toBe(true);
  });

  it('gives the same bytes as zlib.gzipSync above level 3 and with GZIP_ENCODER=zlib, for any size', async () => {
    // Empty, small, and many of zlib's output chunks.
    for (const [size, seed] of [[0, 1], [1, 2], [1000, 3], [300_000, 4], [9 * 1024 * 1024, 5]] as const) {
      const body = text(size, seed);
      const zipped = await gzip(body, 4);
      expect(zipped.equals(gzipSync(body, { level: 4, memLevel: 9 }))).toBe(true);
      expect(gunzipSync(zipped).equals(body)).toBe(true);
      expect(gunzipSync(await gzip(body, 1)).equals(body)).toBe(true);
    }
    useGzipEncoder('zlib');
    expect(gzipEncoderInfo().encoder).toBe('zlib');
    const body = text(300_000, 6);
    expect((await gzip(body, 1)).equals(gzipSync(body, { level: 1, memLevel: 9 }))).toBe(true);
  });

  it('falls back to zlib for a body the native encoder fails on, counting and reporting it', async () => {
    const failing: NativeGzip = {
      ...native!,
      gzipInto: () => Promise.reject(Object.assign(new Error('gzip: the compressed body did not inflate back to the input'), { code: 'ERR_GZIP_VERIFY' })),
    };
    const heard: string[] = [];
    useGzipEncoder(failing, (code) => heard.push(code));
    const before = gzipFallbacks.get('ERR_GZIP_VERIFY') ?? 0;
    const body = text(200_000, 12);
    const zipped = await gzip(body, 2);
    expect(zipped.equals(gzipSync(body, { level: 2, memLevel: 9 }))).toBe(true);
    expect(gzipFallbacks.get('ERR_GZIP_VERIFY')).toBe(before + 1);
    expect(heard).toEqual(['ERR_GZIP_VERIFY']);
  });

  it('gives an incompressible body a second try with room for the worst case, not a fallback', async () => {
    const rooms: number[] = [];
    const watched: NativeGzip = {
      ...native!,
      gzipInto: (input, output) => {
        rooms.push(output.length);
        return native!.gzipInto(input, output);
      },
    };
    useGzipEncoder(watched);
    let x = 7;
    const noise = Buffer.alloc(500_000);
    for (let i = 0; i < noise.length; i++) noise[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    const fallbacks = [...gzipFallbacks.values()].reduce((a, b) => a + b, 0);
    const zipped = await gzip(noise, 3);
    expect(gunzipSync(zipped).equals(noise)).toBe(true);
    expect(rooms.length).toBe(2);
    expect(rooms[0]!).toBeLessThan(noise.length);
    expect(rooms[1]!).toBeGreaterThanOrEqual(native!.gzipBound(noise.length));
    expect([...gzipFallbacks.values()].reduce((a, b) => a + b, 0)).toBe(fallbacks);
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
    expect(native!.checkMember(bodies[0]!, first[0]!)).toBe(true);
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
