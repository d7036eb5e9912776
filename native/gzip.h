// One gzip member (RFC 1952) around lf_deflate, checked by inflating it again.
#ifndef LOGFERRY_GZIP_H
#define LOGFERRY_GZIP_H

#include <stddef.h>
#include <stdint.h>

size_t lf_gzip_bound(size_t n);

/** in[0, n) as one gzip member in out[0, cap). Returns its length or an LF_ERR_* code. Thread-safe. */
int64_t lf_gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/** 1 when member's deflate stream (header as lf_gzip writes it) inflates to exactly in[0, n); for tests of the check. */
int lf_gzip_check(const uint8_t *in, size_t n, const uint8_t *member, size_t length);

#endif
