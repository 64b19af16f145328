# cdef API of the streaming inflater of HTTP bodies (Content-Encoding);
# zlib itself is declared once, in nexus_net/_zlib.pxd.

from nexus_net._zlib cimport z_stream
from nexus_net.buf cimport Slab


cdef enum Coding:
    CODING_GZIP = 1       # RFC 1952 (members may follow one another)
    CODING_DEFLATE = 2    # HTTP "deflate": zlib (RFC 1950), or raw deflate as some servers send
    CODING_ZLIB = 3
    CODING_RAW = 4        # raw deflate (RFC 1951)
    CODING_BR = 5         # brotli (RFC 7932), through the optional brotli package
    CODING_ZSTD = 6       # zstd (RFC 8878), through backports.zstd / compression.zstd


cdef class Inflater:
    cdef z_stream zs
    cdef bint initialized           # inflateInit2 has run (the stream's memory is held)
    cdef int coding                 # of the stream in progress, 0 when none
    cdef bint window_chosen         # CODING_DEFLATE: zlib or raw decided
    cdef bint ended                 # Z_STREAM_END seen
    cdef Slab out                   # the output so far (never pinned while it grows)
    cdef Py_ssize_t out_len
    cdef Py_ssize_t consumed        # input bytes taken since begin()
    cdef Py_ssize_t limit           # at most this many output bytes
    cdef object error               # exception class: corrupt or truncated data
    cdef object too_large           # exception class: output over the limit
    cdef str what                   # "gzip body", ... for messages
    cdef object py                  # br/zstd: the Python decoder of the stream in progress

    cdef int begin(self, int coding, Py_ssize_t limit, Py_ssize_t size_hint) except -1
    cdef Py_ssize_t feed(self, const char* p, Py_ssize_t n) except -1
    cdef int finish(self, Py_ssize_t unconsumed) except -1
    cdef int start_stream(self, int bits) except -1
    cdef Slab take(self, Py_ssize_t* n)
    cdef int grow(self) except -1
    cdef Py_ssize_t feed_py(self, const char* p, Py_ssize_t n) except -1
    cdef int release(self) except -1
