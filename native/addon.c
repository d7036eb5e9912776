// Node-API binding: gzipInto(input, output) compresses on libuv's thread pool and resolves
// with the member's length in output, or rejects with an Error whose code says why
// (ERR_GZIP_CAPACITY: output too small; ERR_GZIP_VERIFY: the member did not inflate back
// to the input; ERR_GZIP_NOMEM; ERR_GZIP_TOO_LARGE). Both buffers are held until then.
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "deflate.h"
#include "gzip.h"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  napi_ref output_ref;
  const uint8_t *input;
  size_t input_length;
  uint8_t *output;
  size_t output_length;
  int64_t result;
} Job;

static napi_value throw_type_error(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

/** The bytes of a Uint8Array (Buffers included); 0 when it is not one. */
static int bytes_of(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return 0;
  napi_typedarray_type type;
  void *pointer = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &pointer, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = pointer;
  return 1;
}

static void execute(napi_env env, void *data) {
  (void)env;
  Job *job = data;
  job->result = lf_gzip(job->input, job->input_length, job->output, job->output_length);
}

static const char *error_code(int64_t result) {
  switch (result) {
    case LF_ERR_CAPACITY: return "ERR_GZIP_CAPACITY";
    case LF_ERR_NOMEM: return "ERR_GZIP_NOMEM";
    case LF_ERR_TOO_LARGE: return "ERR_GZIP_TOO_LARGE";
    case LF_ERR_VERIFY: return "ERR_GZIP_VERIFY";
    default: return "ERR_GZIP";
  }
}

static const char *error_message(int64_t result) {
  switch (result) {
    case LF_ERR_CAPACITY: return "gzip: the output buffer is too small for this body";
    case LF_ERR_NOMEM: return "gzip: out of memory";
    case LF_ERR_TOO_LARGE: return "gzip: the body is larger than 1 GiB";
    case LF_ERR_VERIFY: return "gzip: the compressed body did not inflate back to the input";
    default: return "gzip: failed";
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *job = data;
  napi_delete_reference(env, job->input_ref);
  napi_delete_reference(env, job->output_ref);
  napi_value settled;
  if (status == napi_ok && job->result >= 0) {
    napi_create_double(env, (double)job->result, &settled);
    napi_resolve_deferred(env, job->deferred, settled);
  } else {
    int64_t result = status == napi_ok ? job->result : 0;
    napi_value code, message;
    napi_create_string_utf8(env, status == napi_ok ? error_code(result) : "ERR_GZIP_CANCELLED", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, status == napi_ok ? error_message(result) : "gzip: cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &settled);
    napi_reject_deferred(env, job->deferred, settled);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value gzip_into(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return throw_type_error(env, "gzipInto(input, output) takes two Uint8Arrays");
  Job *job = calloc(1, sizeof(Job));
  if (job == NULL) {
    napi_throw_error(env, "ERR_GZIP_NOMEM", "gzip: out of memory");
    return NULL;
  }
  uint8_t *input = NULL;
  if (!bytes_of(env, argv[0], &input, &job->input_length) || !bytes_of(env, argv[1], &job->output, &job->output_length)) {
    free(job);
    return throw_type_error(env, "gzipInto(input, output) takes two Uint8Arrays");
  }
  job->input = input;
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_reference(env, argv[0], 1, &job->input_ref);
  napi_create_reference(env, argv[1], 1, &job->output_ref);
  napi_create_string_utf8(env, "logferry:gzip", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

static napi_value gzip_bound(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double n = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_double(env, argv[0], &n) != napi_ok || !(n >= 0)) {
    return throw_type_error(env, "gzipBound(n) takes a byte count");
  }
  napi_value result;
  napi_create_double(env, (double)lf_gzip_bound((size_t)n), &result);
  return result;
}

// Synchronous, for tests of the check itself: does member inflate back to exactly input?
static napi_value check_member(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *input = NULL, *member = NULL;
  size_t input_length = 0, member_length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || !bytes_of(env, argv[0], &input, &input_length) ||
      !bytes_of(env, argv[1], &member, &member_length)) {
    return throw_type_error(env, "checkMember(input, member) takes two Uint8Arrays");
  }
  napi_value result;
  napi_get_boolean(env, lf_gzip_check(input, input_length, member, member_length) == 1, &result);
  return result;
}

// For tests of the Huffman code builder: codeLengths(freqs: Uint32Array, maxBits) → Uint8Array.
static napi_value code_lengths(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool is_typed_array = false;
  napi_typedarray_type type;
  size_t n = 0;
  void *data = NULL;
  int32_t max_bits = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_is_typedarray(env, argv[0], &is_typed_array) != napi_ok ||
      !is_typed_array || napi_get_typedarray_info(env, argv[0], &type, &n, &data, NULL, NULL) != napi_ok || type != napi_uint32_array ||
      napi_get_value_int32(env, argv[1], &max_bits) != napi_ok) {
    return throw_type_error(env, "codeLengths(freqs, maxBits) takes a Uint32Array and a number");
  }
  uint8_t lengths[512];
  if (n > sizeof lengths || lf_code_lengths(data, (int)n, max_bits, lengths) != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "codeLengths: 2 to 286 symbols, two of them used, maxBits 1 to 15");
    return NULL;
  }
  void *out = NULL;
  napi_value buffer, result;
  napi_create_arraybuffer(env, n, &out, &buffer);
  memcpy(out, lengths, n);
  napi_create_typedarray(env, napi_uint8_array, n, buffer, 0, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  lf_deflate_init();
  napi_value fn;
  napi_create_function(env, "gzipInto", NAPI_AUTO_LENGTH, gzip_into, NULL, &fn);
  napi_set_named_property(env, exports, "gzipInto", fn);
  napi_create_function(env, "gzipBound", NAPI_AUTO_LENGTH, gzip_bound, NULL, &fn);
  napi_set_named_property(env, exports, "gzipBound", fn);
  napi_create_function(env, "checkMember", NAPI_AUTO_LENGTH, check_member, NULL, &fn);
  napi_set_named_property(env, exports, "checkMember", fn);
  napi_create_function(env, "codeLengths", NAPI_AUTO_LENGTH, code_lengths, NULL, &fn);
  napi_set_named_property(env, exports, "codeLengths", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
