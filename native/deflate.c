// A fast DEFLATE encoder for log batches (RFC 1951), used for every gzip body at levels 1-3.
//
// zlib's fastest levels spend ~50 instructions per input byte on log lines: a hash chain
// insert and a match attempt at every position, and Huffman output 16 bits at a time. This
// encoder keeps one candidate per hash bucket (greedy matching, as zlib's levels 1-3 do
// in effect), steps over incompressible stretches a few bytes at a time once matches stop
// coming (after 32 misses in a row; literals are still all written), and writes codes
// through a 64-bit bit buffer. On the benchmark's entries it encodes ~3x faster than
// Node's zlib at level 3 (~420 against ~138 MB/s) for output ~2-3 % larger.
//
// Blocks of up to 32K symbols are each written as dynamic Huffman, fixed Huffman or
// stored, whichever is smallest; sizes are computed exactly before writing, which is also
// how the output room is checked.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "deflate.h"

// Words are loaded and stored in memory order: the first differing byte of two loaded words
// is their lowest set bit, and the bit buffer's low bytes go out first.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "native/deflate.c assumes a little-endian machine (x86-64, arm64)"
#endif

#define WINDOW_SIZE 32768
#define MIN_MATCH 4
#define MAX_MATCH 258
// 64K buckets (256 KiB per thread): 15 bits lost ~0.2 % of ratio on log lines.
#define HASH_BITS 16
#define BLOCK_SYMBOLS 32768
// After 2^5 literals in a row the step grows by one byte per 32 more, up to 8. Skipping
// also avoids the 4-byte matches random text is full of, which cost more bits than literals.
#define SKIP_AFTER_SHIFT 5
#define MAX_STEP 8
#define LITLEN_CODES 286
#define DIST_CODES 30
#define CODELEN_CODES 19
#define MAX_BITS 15
#define MAX_CODELEN_BITS 7
#define MATCH_FLAG 0x80000000u

static uint8_t length_code[256];  // len - 3 -> code index 0..28
static uint8_t dist_code_small[256];  // dist - 1 < 256
static uint8_t dist_code_large[256];  // (dist - 1) >> 7
static const uint16_t LENGTH_BASE[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LENGTH_EXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t DIST_BASE[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t DIST_EXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t CODELEN_ORDER[CODELEN_CODES] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
// Extra bits of the code-length symbols: 16 repeats the previous length, 17 and 18 repeat zero.
static const uint8_t CODELEN_EXTRA[CODELEN_CODES] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7};

// The fixed Huffman code (RFC 1951 3.2.6), made once by lf_deflate_init.
#define FIXED_LITLEN_CODES 288
static uint8_t fixed_litlen_lengths[FIXED_LITLEN_CODES];
static uint16_t fixed_litlen_codes[FIXED_LITLEN_CODES];
static uint8_t fixed_dist_lengths[DIST_CODES];
static uint16_t fixed_dist_codes[DIST_CODES];

static int fixed_litlen_length(int symbol) { return symbol < 144 ? 8 : symbol < 256 ? 9 : symbol < 280 ? 7 : 8; }

static void build_codes(const uint8_t *lengths, int n, uint16_t *codes);

void lf_deflate_init(void) {
  for (int c = 0; c < 28; c++) {
    for (int len = LENGTH_BASE[c]; len < LENGTH_BASE[c] + (1 << LENGTH_EXTRA[c]) && len <= 258; len++) length_code[len - 3] = (uint8_t)c;
  }
  length_code[255] = 28;
  for (int c = 0; c < 30; c++) {
    for (int d = DIST_BASE[c]; d < DIST_BASE[c] + (1 << DIST_EXTRA[c]) && d <= WINDOW_SIZE; d++) {
      if (d - 1 < 256) dist_code_small[d - 1] = (uint8_t)c;
      else dist_code_large[(d - 1) >> 7] = (uint8_t)c;
    }
  }
  for (int s = 0; s < FIXED_LITLEN_CODES; s++) fixed_litlen_lengths[s] = (uint8_t)fixed_litlen_length(s);
  for (int s = 0; s < DIST_CODES; s++) fixed_dist_lengths[s] = 5;
  build_codes(fixed_litlen_lengths, FIXED_LITLEN_CODES, fixed_litlen_codes);
  build_codes(fixed_dist_lengths, DIST_CODES, fixed_dist_codes);
}

static inline uint32_t load32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint32_t hash4(uint32_t v) { return (v * 0x9E3779B1u) >> (32 - HASH_BITS); }
static inline int dist_code(uint32_t d1) { return d1 < 256 ? dist_code_small[d1] : dist_code_large[d1 >> 7]; }

typedef struct {
  uint8_t *out;
  size_t pos;
  size_t cap;
  uint64_t bits;
  int count;
} BitWriter;

static inline void put_bits(BitWriter *w, uint64_t value, int n) {
  w->bits |= value << w->count;
  w->count += n;
  if (w->count >= 32) {
    uint32_t low = (uint32_t)w->bits;
    memcpy(w->out + w->pos, &low, 4);
    w->pos += 4;
    w->bits >>= 32;
    w->count -= 32;
  }
}

static void align_to_byte(BitWriter *w) {
  while (w->count > 0) {
    w->out[w->pos++] = (uint8_t)w->bits;
    w->bits >>= 8;
    w->count = w->count > 8 ? w->count - 8 : 0;
  }
  w->bits = 0;
}

typedef struct {
  uint32_t freq;
  uint16_t symbol;
} Leaf;

static int leaf_order(const void *a, const void *b) {
  const Leaf *x = a, *y = b;
  if (x->freq != y->freq) return x->freq < y->freq ? -1 : 1;
  return (int)x->symbol - (int)y->symbol;
}

// Code lengths (at most max_bits) of a Huffman code for freq[0..n): unused symbols get 0.
// Needs at least two used symbols (the caller adds dummies).
static void build_lengths(const uint32_t *freq, int n, int max_bits, uint8_t *lengths) {
  Leaf leaves[LITLEN_CODES];
  int m = 0;
  memset(lengths, 0, (size_t)n);
  for (int s = 0; s < n; s++) {
    if (freq[s] != 0) {
      leaves[m].freq = freq[s];
      leaves[m].symbol = (uint16_t)s;
      m++;
    }
  }
  if (m < 2) {
    // Never reached: callers add dummy symbols so that every code has two.
    if (m == 1) lengths[leaves[0].symbol] = 1;
    return;
  }
  qsort(leaves, (size_t)m, sizeof(Leaf), leaf_order);
  // Two queues: leaves in order, internal nodes in the order made (their weights never decrease).
  uint32_t weight[2 * LITLEN_CODES];
  int parent[2 * LITLEN_CODES];
  for (int i = 0; i < m; i++) weight[i] = leaves[i].freq;
  int next_leaf = 0, next_node = m, made = m;
  for (int k = 0; k < m - 1; k++) {
    int pick[2];
    for (int t = 0; t < 2; t++) {
      if (next_leaf < m && (next_node >= made || weight[next_leaf] <= weight[next_node])) pick[t] = next_leaf++;
      else pick[t] = next_node++;
    }
    weight[made] = weight[pick[0]] + weight[pick[1]];
    parent[pick[0]] = made;
    parent[pick[1]] = made;
    made++;
  }
  // Depths, root first (made - 1 is the root; parents are made after their children).
  uint8_t depth[2 * LITLEN_CODES];
  depth[made - 1] = 0;
  for (int i = made - 2; i >= 0; i--) depth[i] = (uint8_t)(depth[parent[i]] + 1 > 63 ? 63 : depth[parent[i]] + 1);
  int count[64] = {0};
  for (int i = 0; i < m; i++) count[depth[i]]++;
  // Deeper than allowed: fold those codes into max_bits, then restore Kraft's equality by
  // moving one code at a time one level deeper (each step frees one slot at max_bits).
  int overflow = 0;
  for (int d = max_bits + 1; d < 64; d++) {
    overflow += count[d];
    count[d] = 0;
  }
  if (overflow > 0) {
    count[max_bits] += overflow;
    uint64_t total = 0;
    for (int d = 1; d <= max_bits; d++) total += (uint64_t)count[d] << (max_bits - d);
    while (total > (1u << max_bits)) {
      count[max_bits]--;
      for (int d = max_bits - 1; d > 0; d--) {
        if (count[d] != 0) {
          count[d]--;
          count[d + 1] += 2;
          break;
        }
      }
      total--;
    }
  }
  // Longest codes to the rarest symbols.
  int at = 0;
  for (int d = max_bits; d >= 1; d--) {
    for (int k = 0; k < count[d]; k++) lengths[leaves[at++].symbol] = (uint8_t)d;
  }
}

int lf_code_lengths(const uint32_t *freq, int n, int max_bits, uint8_t *lengths) {
  if (n < 2 || n > LITLEN_CODES || max_bits < 1 || max_bits > MAX_BITS) return -1;
  int used = 0;
  for (int s = 0; s < n; s++) used += freq[s] != 0;
  if (used < 2 || (used > (1 << max_bits))) return -1;
  build_lengths(freq, n, max_bits, lengths);
  return 0;
}

static uint32_t reverse_bits(uint32_t code, int n) {
  uint32_t r = 0;
  for (int i = 0; i < n; i++) {
    r = (r << 1) | (code & 1);
    code >>= 1;
  }
  return r;
}

// Canonical codes (RFC 1951 3.2.2), bit-reversed for LSB-first output.
static void build_codes(const uint8_t *lengths, int n, uint16_t *codes) {
  int count[MAX_BITS + 1] = {0};
  for (int s = 0; s < n; s++) count[lengths[s]]++;
  count[0] = 0;
  uint32_t next[MAX_BITS + 2];
  uint32_t code = 0;
  for (int bits = 1; bits <= MAX_BITS; bits++) {
    code = (code + (uint32_t)count[bits - 1]) << 1;
    next[bits] = code;
  }
  for (int s = 0; s < n; s++) {
    int len = lengths[s];
    codes[s] = len == 0 ? 0 : (uint16_t)reverse_bits(next[len]++, len);
  }
}

typedef struct {
  const uint8_t *in;
  uint32_t symbols[BLOCK_SYMBOLS];
  int symbol_count;
  uint32_t litlen_freq[LITLEN_CODES];
  uint32_t dist_freq[DIST_CODES];
  int32_t head[1 << HASH_BITS];
} State;

// One per thread (libuv's pool threads live as long as the process): allocating ~400 KiB
// per call would mean fresh pages, and a page fault per 4 KiB, on every body.
static _Thread_local State *thread_state;

// At most: per 65535-byte block a 3-bit header, padding to a byte and LEN/NLEN.
static uint64_t stored_bits(size_t bytes) {
  size_t blocks = bytes == 0 ? 1 : (bytes + 65534) / 65535;
  return (uint64_t)blocks * (3 + 7 + 32) + 8 * (uint64_t)bytes;
}

static void write_stored(BitWriter *w, const uint8_t *data, size_t bytes, int final) {
  do {
    size_t part = bytes > 65535 ? 65535 : bytes;
    int last = final && part == bytes;
    put_bits(w, (uint64_t)last, 3);
    align_to_byte(w);
    w->out[w->pos++] = (uint8_t)part;
    w->out[w->pos++] = (uint8_t)(part >> 8);
    w->out[w->pos++] = (uint8_t)~part;
    w->out[w->pos++] = (uint8_t)(~part >> 8);
    memcpy(w->out + w->pos, data, part);
    w->pos += part;
    data += part;
    bytes -= part;
  } while (bytes > 0);
}

static void write_symbols(BitWriter *w, const State *st, const uint16_t *lcodes, const uint8_t *llens, const uint16_t *dcodes, const uint8_t *dlens) {
  const uint32_t *sym = st->symbols;
  for (int i = 0; i < st->symbol_count; i++) {
    uint32_t s = sym[i];
    if ((s & MATCH_FLAG) == 0) {
      put_bits(w, lcodes[s], llens[s]);
    } else {
      uint32_t len3 = s & 0xff;
      uint32_t d1 = (s >> 8) & 0x7fff;
      int lc = length_code[len3];
      uint64_t bits = lcodes[257 + lc];
      int nbits = llens[257 + lc];
      bits |= (uint64_t)(len3 + 3 - LENGTH_BASE[lc]) << nbits;
      nbits += LENGTH_EXTRA[lc];
      put_bits(w, bits, nbits);
      int dc = dist_code(d1);
      put_bits(w, (uint64_t)dcodes[dc] | ((uint64_t)(d1 + 1 - DIST_BASE[dc]) << dlens[dc]), dlens[dc] + DIST_EXTRA[dc]);
    }
  }
  put_bits(w, lcodes[256], llens[256]);
}

// Gives the first unused symbols a count of 1 until two are used: a Huffman code needs two
// symbols, and these dummies are never written.
static void use_at_least_two(uint32_t *freq, int n) {
  int used = 0;
  for (int s = 0; s < n; s++) used += freq[s] != 0;
  for (int s = 0; used < 2 && s < n; s++) {
    if (freq[s] == 0) {
      freq[s] = 1;
      used++;
    }
  }
}

// Writes the block of symbols st->symbols (covering in[start, end)) as the smallest of the
// three block types. Returns 0, or LF_ERR_CAPACITY when it would not fit in the output.
static int flush_block(BitWriter *w, State *st, size_t start, size_t end, int final) {
  uint32_t *lf = st->litlen_freq;
  uint32_t *df = st->dist_freq;
  lf[256] = 1;
  // The codes are built from copies with dummies; sizes are counted on the real counts.
  uint32_t lf_build[LITLEN_CODES], df_build[DIST_CODES];
  memcpy(lf_build, lf, sizeof lf_build);
  memcpy(df_build, df, sizeof df_build);
  use_at_least_two(lf_build, LITLEN_CODES);
  use_at_least_two(df_build, DIST_CODES);
  uint8_t llens[LITLEN_CODES], dlens[DIST_CODES];
  build_lengths(lf_build, LITLEN_CODES, MAX_BITS, llens);
  build_lengths(df_build, DIST_CODES, MAX_BITS, dlens);
  int hlit = LITLEN_CODES;
  while (hlit > 257 && llens[hlit - 1] == 0) hlit--;
  int hdist = DIST_CODES;
  while (hdist > 1 && dlens[hdist - 1] == 0) hdist--;
  // Run-length code of the code lengths.
  uint8_t all[LITLEN_CODES + DIST_CODES];
  memcpy(all, llens, (size_t)hlit);
  memcpy(all + hlit, dlens, (size_t)hdist);
  int total = hlit + hdist;
  uint8_t rle_sym[LITLEN_CODES + DIST_CODES];
  uint8_t rle_extra[LITLEN_CODES + DIST_CODES];
  int rle_n = 0;
  uint32_t cl_freq[CODELEN_CODES] = {0};
  for (int i = 0; i < total;) {
    uint8_t v = all[i];
    int run = 1;
    while (i + run < total && all[i + run] == v) run++;
    i += run;
    if (v == 0) {
      while (run >= 11) {
        int r = run > 138 ? 138 : run;
        rle_sym[rle_n] = 18;
        rle_extra[rle_n++] = (uint8_t)(r - 11);
        run -= r;
      }
      if (run >= 3) {
        rle_sym[rle_n] = 17;
        rle_extra[rle_n++] = (uint8_t)(run - 3);
        run = 0;
      }
    } else {
      rle_sym[rle_n] = v;
      rle_extra[rle_n++] = 0;
      run--;
      while (run >= 3) {
        int r = run > 6 ? 6 : run;
        rle_sym[rle_n] = 16;
        rle_extra[rle_n++] = (uint8_t)(r - 3);
        run -= r;
      }
    }
    while (run-- > 0) {
      rle_sym[rle_n] = v;
      rle_extra[rle_n++] = 0;
    }
  }
  for (int i = 0; i < rle_n; i++) cl_freq[rle_sym[i]]++;
  uint32_t cl_build[CODELEN_CODES];
  memcpy(cl_build, cl_freq, sizeof cl_build);
  use_at_least_two(cl_build, CODELEN_CODES);
  uint8_t cl_lens[CODELEN_CODES];
  build_lengths(cl_build, CODELEN_CODES, MAX_CODELEN_BITS, cl_lens);
  int hclen = CODELEN_CODES;
  while (hclen > 4 && cl_lens[CODELEN_ORDER[hclen - 1]] == 0) hclen--;

  // Sizes in bits of the three block types.
  uint64_t extra_bits = 0;
  for (int c = 0; c < 29; c++) extra_bits += (uint64_t)lf[257 + c] * LENGTH_EXTRA[c];
  for (int c = 0; c < DIST_CODES; c++) extra_bits += (uint64_t)df[c] * DIST_EXTRA[c];
  uint64_t dyn = 3 + 5 + 5 + 4 + 3 * (uint64_t)hclen + extra_bits;
  for (int i = 0; i < rle_n; i++) dyn += cl_lens[rle_sym[i]] + CODELEN_EXTRA[rle_sym[i]];
  for (int s = 0; s < LITLEN_CODES; s++) dyn += (uint64_t)lf[s] * llens[s];
  for (int s = 0; s < DIST_CODES; s++) dyn += (uint64_t)df[s] * dlens[s];
  uint64_t fixed = 3 + extra_bits;
  for (int s = 0; s < LITLEN_CODES; s++) fixed += (uint64_t)lf[s] * fixed_litlen_lengths[s];
  for (int s = 0; s < DIST_CODES; s++) fixed += (uint64_t)df[s] * fixed_dist_lengths[s];
  uint64_t stored = stored_bits(end - start);
  uint64_t smallest = stored < dyn ? stored : dyn;
  if (fixed < smallest) smallest = fixed;
  // Bits pending in the writer, the block, the final padding byte and the 4-byte stores.
  if (w->pos + ((uint64_t)w->count + smallest + 7) / 8 + 8 > w->cap) return LF_ERR_CAPACITY;

  if (stored <= dyn && stored <= fixed) {
    write_stored(w, st->in + start, end - start, final);
  } else if (fixed <= dyn) {
    put_bits(w, (uint64_t)final | (1u << 1), 3);
    write_symbols(w, st, fixed_litlen_codes, fixed_litlen_lengths, fixed_dist_codes, fixed_dist_lengths);
  } else {
    uint16_t lcodes[LITLEN_CODES], dcodes[DIST_CODES], cl_codes[CODELEN_CODES];
    build_codes(llens, LITLEN_CODES, lcodes);
    build_codes(dlens, DIST_CODES, dcodes);
    build_codes(cl_lens, CODELEN_CODES, cl_codes);
    put_bits(w, (uint64_t)final | (2u << 1), 3);
    put_bits(w, (uint64_t)(hlit - 257) | ((uint64_t)(hdist - 1) << 5) | ((uint64_t)(hclen - 4) << 10), 14);
    for (int i = 0; i < hclen; i++) put_bits(w, cl_lens[CODELEN_ORDER[i]], 3);
    for (int i = 0; i < rle_n; i++) {
      int s = rle_sym[i];
      put_bits(w, cl_codes[s] | ((uint64_t)rle_extra[i] << cl_lens[s]), cl_lens[s] + CODELEN_EXTRA[s]);
    }
    write_symbols(w, st, lcodes, llens, dcodes, dlens);
  }
  st->symbol_count = 0;
  memset(st->litlen_freq, 0, sizeof st->litlen_freq);
  memset(st->dist_freq, 0, sizeof st->dist_freq);
  return 0;
}

size_t lf_deflate_bound(size_t n) { return n + (n >> 3) + 1024; }

int64_t lf_deflate(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  if (n > LF_MAX_INPUT) return LF_ERR_TOO_LARGE;
  State *st = thread_state;
  if (st == NULL) {
    st = malloc(sizeof(State));
    if (st == NULL) return LF_ERR_NOMEM;
    thread_state = st;
  }
  st->in = in;
  st->symbol_count = 0;
  memset(st->litlen_freq, 0, sizeof st->litlen_freq);
  memset(st->dist_freq, 0, sizeof st->dist_freq);
  // Out of the window from the start, so no candidate is read before it is set.
  for (size_t i = 0; i < (1u << HASH_BITS); i++) st->head[i] = -WINDOW_SIZE - 1;
  BitWriter w = {out, 0, cap, 0, 0};
  uint32_t *sym = st->symbols;
  uint32_t *lf = st->litlen_freq;
  uint32_t *df = st->dist_freq;
  int32_t *head = st->head;
  size_t block_start = 0;
  int32_t pos = 0;
  const int32_t end = (int32_t)n;
  const int32_t last_hashable = end - MIN_MATCH;
  uint32_t misses = 0;
  int count = 0;
  while (pos < end) {
    if (count >= BLOCK_SYMBOLS - 1) {
      st->symbol_count = count;
      if (flush_block(&w, st, block_start, (size_t)pos, 0) != 0) return LF_ERR_CAPACITY;
      block_start = (size_t)pos;
      count = 0;
    }
    if (pos <= last_hashable) {
      uint32_t v = load32(in + pos);
      uint32_t h = hash4(v);
      int32_t cand = head[h];
      head[h] = pos;
      if (pos - cand <= WINDOW_SIZE && load32(in + cand) == v) {
        int32_t max = end - pos < MAX_MATCH ? end - pos : MAX_MATCH;
        int32_t len = MIN_MATCH;
        while (len + 8 <= max) {
          uint64_t x = load64(in + pos + len) ^ load64(in + cand + len);
          if (x != 0) {
            len += __builtin_ctzll(x) >> 3;
            goto matched;
          }
          len += 8;
        }
        while (len < max && in[pos + len] == in[cand + len]) len++;
      matched:;
        uint32_t d1 = (uint32_t)(pos - cand - 1);
        sym[count++] = MATCH_FLAG | (d1 << 8) | (uint32_t)(len - 3);
        lf[257 + length_code[len - 3]]++;
        df[dist_code(d1)]++;
        pos += len;
        // The match's last position, so that a repeat of what follows it is found.
        if (pos - 1 <= last_hashable) head[hash4(load32(in + pos - 1))] = pos - 1;
        misses = 0;
        continue;
      }
    }
    uint32_t step = 1 + (misses++ >> SKIP_AFTER_SHIFT);
    if (step > MAX_STEP) step = MAX_STEP;
    if ((int32_t)step > end - pos) step = (uint32_t)(end - pos);
    if ((int)step > BLOCK_SYMBOLS - 1 - count) step = (uint32_t)(BLOCK_SYMBOLS - 1 - count);
    for (uint32_t k = 0; k < step; k++) {
      uint8_t c = in[pos++];
      sym[count++] = c;
      lf[c]++;
    }
  }
  st->symbol_count = count;
  if (flush_block(&w, st, block_start, (size_t)end, 1) != 0) return LF_ERR_CAPACITY;
  align_to_byte(&w);
  return (int64_t)w.pos;
}
