// zlib (Debian zlib1g-dev), for the store's compressed blobs (Sources/Store/StoreDeflate.swift).
// deflateInit2 and inflateInit2 are macros, which Swift cannot call: these wrap them.
#include <zlib.h>

static inline int ddr_deflate_init(z_stream *stream, int level, int window_bits, int mem_level) {
    return deflateInit2(stream, level, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY);
}

static inline int ddr_inflate_init(z_stream *stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}
