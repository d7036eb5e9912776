{
  "targets": [
    {
      "target_name": "logferry_native",
      "sources": ["native/addon.c", "native/deflate.c", "native/gzip.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
