// Snappy compression, block format (what Loki's protobuf push expects), written into a
// buffer the caller owns. Native bindings return a fresh buffer per body that V8 does not
// count towards its next GC: at full speed those piled up (peak RSS 165 MiB in the
// benchmark). Here a push body is compressed into a reused buffer and nothing is allocated.
//
// The format: the uncompressed length as a varint, then elements, each a literal (tag 00:
// length-1 in the tag or in 1–4 following bytes, then the bytes) or a copy of earlier output
// (tag 01: length 4–11 and an 11-bit offset; tag 10: length 1–64 and a 16-bit offset).
// Input is compressed in 64 KiB blocks, so every offset fits in 16 bits.

import { writeVarint } from './varint.js';

const BLOCK_BYTES = 1 << 16;
const HASH_BITS = 14;
// Near a block's end there is too little left to look for matches; it goes out as a literal.
const INPUT_MARGIN = 15;

// Positions (relative to the block) of recent 4-byte sequences, by hash.
const table = new Uint16Array(1 << HASH_BITS);

/** The most a snappy body of `n` input bytes can take (the format's worst case). */
export function maxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

function load32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

function hash(v: number): number {
  return Math.imul(v, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

function writeLiteral(input: Uint8Array, start: number, end: number, out: Uint8Array, pos: number): number {
  const n = end - start - 1;
  if (n < 60) {
    out[pos++] = n << 2;
  } else if (n < 0x100) {
    out[pos++] = 60 << 2;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 61 << 2;
    out[pos++] = n & 0xff;
    out[pos++] = n >>> 8;
  } else if (n < 0x1000000) {
    out[pos++] = 62 << 2;
    out[pos++] = n & 0xff;
    out[pos++] = (n >>> 8) & 0xff;
    out[pos++] = n >>> 16;
  } else {
    out[pos++] = 63 << 2;
    out[pos++] = n & 0xff;
    out[pos++] = (n >>> 8) & 0xff;
    out[pos++] = (n >>> 16) & 0xff;
    out[pos++] = n >>> 24;
  }
  out.set(input.subarray(start, end), pos);
  return pos + end - start;
}

function writeCopy(offset: number, length: number, out: Uint8Array, pos: number): number {
  // Long matches go out as copies of 64 (leaving at least 4 for the last one).
  while (length >= 68) {
    out[pos++] = 2 | (63 << 2);
    out[pos++] = offset & 0xff;
    out[pos++] = offset >>> 8;
    length -= 64;
  }
  if (length > 64) {
    out[pos++] = 2 | (59 << 2);
    out[pos++] = offset & 0xff;
    out[pos++] = offset >>> 8;
    length -= 60;
  }
  if (length < 12 && offset < 2048) {
    out[pos++] = 1 | ((length - 4) << 2) | ((offset >>> 8) << 5);
    out[pos++] = offset & 0xff;
  } else {
    out[pos++] = 2 | ((length - 1) << 2);
    out[pos++] = offset & 0xff;
    out[pos++] = offset >>> 8;
  }
  return pos;
}

/** Compresses one block `input[start, end)` (at most 64 KiB) into `out` at `pos`; returns the position after it. */
function compressBlock(input: Uint8Array, start: number, end: number, out: Uint8Array, pos: number): number {
  if (end - start < INPUT_MARGIN) return end > start ? writeLiteral(input, start, end, out, pos) : pos;
  table.fill(0);
  const limit = end - INPUT_MARGIN;
  let nextEmit = start;
  let ip = start + 1;
  for (;;) {
    // Look for a match, taking bigger steps the longer none is found (incompressible input goes fast).
    let skip = 32;
    let candidate: number;
    for (;;) {
      const step = skip >>> 5;
      skip++;
      if (ip + step > limit) return writeLiteral(input, nextEmit, end, out, pos);
      const h = hash(load32(input, ip));
      candidate = start + table[h]!;
      table[h] = ip - start;
      if (load32(input, candidate) === load32(input, ip)) break;
      ip += step;
    }
    if (ip > nextEmit) pos = writeLiteral(input, nextEmit, ip, out, pos);
    // Copies, as long as each one is followed by another match.
    for (;;) {
      let matched = 4;
      // Four bytes at a time, then the last few one by one.
      while (ip + matched + 4 <= end && load32(input, candidate + matched) === load32(input, ip + matched)) matched += 4;
      while (ip + matched < end && input[candidate + matched] === input[ip + matched]) matched++;
      pos = writeCopy(ip - candidate, matched, out, pos);
      ip += matched;
      nextEmit = ip;
      if (ip >= limit) return ip < end ? writeLiteral(input, ip, end, out, pos) : pos;
      table[hash(load32(input, ip - 1))] = ip - 1 - start;
      const h = hash(load32(input, ip));
      candidate = start + table[h]!;
      table[h] = ip - start;
      if (load32(input, candidate) !== load32(input, ip)) break;
    }
    ip++;
  }
}

/**
 * Snappy of `input` into `out` from position 0; `out` must hold maxCompressedLength(input.length)
 * bytes. Returns the compressed length.
 */
export function snappyCompress(input: Uint8Array, out: Uint8Array): number {
  // The uncompressed length first.
  let pos = writeVarint(out, 0, input.length);
  for (let start = 0; start < input.length; start += BLOCK_BYTES) {
    pos = compressBlock(input, start, Math.min(start + BLOCK_BYTES, input.length), out, pos);
  }
  return pos;
}
