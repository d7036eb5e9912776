// A fast DEFLATE (RFC 1951) encoder for log batches: greedy LZ77 over a one-entry hash
// table, dynamic Huffman blocks. See deflate.c.
#ifndef LOGFERRY_DEFLATE_H
#define LOGFERRY_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#define LF_ERR_CAPACITY (-1)
#define LF_ERR_NOMEM (-2)
#define LF_ERR_TOO_LARGE (-3)
#define LF_ERR_VERIFY (-4)

/** Inputs above this go to zlib: positions are int32 and batches are far smaller. */
#define LF_MAX_INPUT ((size_t)1 << 30)

/** Fills the code tables; call once before any lf_deflate. */
void lf_deflate_init(void);

/** Output room that always suffices for n input bytes (stored blocks at worst). */
size_t lf_deflate_bound(size_t n);

/** Raw deflate of in[0, n) into out[0, cap). Returns the bytes written or an LF_ERR_* code. Thread-safe. */
int64_t lf_deflate(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/** Huffman code lengths (at most max_bits) for freq[0, n), n <= 286, at least two used symbols; 0, or -1 on bad arguments. Exposed for tests. */
int lf_code_lengths(const uint32_t *freq, int n, int max_bits, uint8_t *lengths);

#endif
