// Base-128 varints (little-endian groups of 7 bits), as protobuf and snappy both write lengths.

/** Bytes of `v` (a non-negative integer below 2^53) as a varint. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 5;
  for (let t = Math.floor(v / 0x800000000); t > 0; t = Math.floor(t / 0x80)) n++;
  return n;
}

/** `v` (a non-negative integer below 2^53) as a varint at `pos`; returns the index after it. */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  if (v < 0x80000000) {
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
  } else {
    // Past 32 bits the shifts would wrap: divide instead.
    while (v >= 0x80) {
      buf[pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
  }
  buf[pos++] = v;
  return pos;
}
