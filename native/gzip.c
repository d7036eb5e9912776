// One gzip member (RFC 1952): header, lf_deflate's stream, CRC-32 and length. Before the
// member is handed back it is inflated again with zlib (Node's own, which the addon links
// against) and compared with the input, so an encoder bug costs a fallback to zlib for
// that body, never a corrupt object. The check takes ~40 % of the time (~250 MB/s in all).
#include "gzip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "deflate.h"

#define HEADER_BYTES 10
#define TRAILER_BYTES 8
#define CHECK_WINDOW (64 * 1024)

// ID1 ID2, CM = deflate, no flags, MTIME 0 (deterministic bodies), XFL 0, OS 3 (Unix, as zlib writes).
static const uint8_t HEADER[HEADER_BYTES] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

typedef struct {
  z_stream stream;
  int ready;
  uint8_t window[CHECK_WINDOW];
} Checker;

static _Thread_local Checker *thread_checker;

size_t lf_gzip_bound(size_t n) { return HEADER_BYTES + lf_deflate_bound(n) + TRAILER_BYTES; }

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/** The raw deflate stream inflates to exactly in[0, n), using all of its bytes. */
static int64_t check(const uint8_t *in, size_t n, const uint8_t *deflated, size_t length) {
  Checker *c = thread_checker;
  if (c == NULL) {
    c = calloc(1, sizeof(Checker));
    if (c == NULL) return LF_ERR_NOMEM;
    thread_checker = c;
  }
  if (!c->ready) {
    if (inflateInit2(&c->stream, -15) != Z_OK) return LF_ERR_NOMEM;
    c->ready = 1;
  } else if (inflateReset(&c->stream) != Z_OK) {
    return LF_ERR_VERIFY;
  }
  z_stream *s = &c->stream;
  s->next_in = (Bytef *)deflated;
  s->avail_in = (uInt)length;
  size_t done = 0;
  for (;;) {
    s->next_out = c->window;
    s->avail_out = CHECK_WINDOW;
    int status = inflate(s, Z_NO_FLUSH);
    size_t produced = CHECK_WINDOW - s->avail_out;
    if (produced > n - done || memcmp(c->window, in + done, produced) != 0) return LF_ERR_VERIFY;
    done += produced;
    if (status == Z_STREAM_END) break;
    if (status != Z_OK || (produced == 0 && s->avail_in == 0)) return LF_ERR_VERIFY;
  }
  return done == n && s->avail_in == 0 ? 0 : LF_ERR_VERIFY;
}

int lf_gzip_check(const uint8_t *in, size_t n, const uint8_t *member, size_t length) {
  if (length < HEADER_BYTES + TRAILER_BYTES || memcmp(member, HEADER, HEADER_BYTES) != 0) return 0;
  return check(in, n, member + HEADER_BYTES, length - HEADER_BYTES - TRAILER_BYTES) == 0;
}

int64_t lf_gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  if (n > LF_MAX_INPUT) return LF_ERR_TOO_LARGE;
  if (cap < HEADER_BYTES + TRAILER_BYTES) return LF_ERR_CAPACITY;
  memcpy(out, HEADER, HEADER_BYTES);
  int64_t length = lf_deflate(in, n, out + HEADER_BYTES, cap - HEADER_BYTES - TRAILER_BYTES);
  if (length < 0) return length;
  int64_t checked = check(in, n, out + HEADER_BYTES, (size_t)length);
  if (checked < 0) return checked;
  uint8_t *trailer = out + HEADER_BYTES + length;
  put_le32(trailer, (uint32_t)crc32_z(0, in, n));
  put_le32(trailer + 4, (uint32_t)n);
  return HEADER_BYTES + length + TRAILER_BYTES;
}
