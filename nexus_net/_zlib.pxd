# The one cdef binding of zlib's C API (DESIGN: "ONE cdef binding of zlib"):
# the HTTP content decoder (nexus_net._inflate) and permessage-deflate
# (nexus_net.ws._deflate) cimport it; the modules that call these functions
# link -lz (setup.py).

cdef extern from "zlib.h":
    ctypedef void* (*alloc_func)(void* opaque, unsigned int items, unsigned int size) noexcept nogil
    ctypedef void (*free_func)(void* opaque, void* address) noexcept nogil

    ctypedef struct z_stream:
        const unsigned char* next_in
        unsigned int avail_in
        unsigned long total_in
        unsigned char* next_out
        unsigned int avail_out
        unsigned long total_out
        const char* msg
        alloc_func zalloc
        free_func zfree
        void* opaque
        int data_type

    int Z_OK, Z_STREAM_END, Z_NEED_DICT, Z_BUF_ERROR, Z_DATA_ERROR, Z_MEM_ERROR, Z_STREAM_ERROR
    int Z_NO_FLUSH, Z_SYNC_FLUSH, Z_BLOCK
    int Z_DEFLATED, Z_DEFAULT_STRATEGY, Z_DEFAULT_COMPRESSION
    const char* zlibVersion()

    int inflateInit2(z_stream* strm, int window_bits)
    int inflateReset(z_stream* strm)
    int inflateReset2(z_stream* strm, int window_bits)
    int inflate(z_stream* strm, int flush) nogil
    int inflateEnd(z_stream* strm)

    int deflateInit2(z_stream* strm, int level, int method, int window_bits, int mem_level,
                     int strategy)
    int deflateReset(z_stream* strm)
    int deflate(z_stream* strm, int flush) nogil
    unsigned long deflateBound(z_stream* strm, unsigned long source_len)
    int deflateEnd(z_stream* strm)
