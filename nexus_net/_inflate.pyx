# cython: boundscheck=False, wraparound=False
"""A streaming, bounded inflater on zlib's C API.

Compressed bytes go in as they arrive (straight from the receive buffer);
the output goes into one growing slab that never exceeds ``limit + 1``
bytes, so a decompression bomb costs at most the limit: inflation stops the
moment the output passes it. One ``z_stream`` per owner is reset, not
re-created, between streams (zlib keeps its ~7 KiB state and, once used, a
32 KiB window); ``release()`` frees it.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Realloc
from libc.limits cimport UINT_MAX
from libc.string cimport memcpy

from nexus_net._zlib cimport (Z_BUF_ERROR, Z_DATA_ERROR, Z_MEM_ERROR, Z_NEED_DICT, Z_NO_FLUSH, Z_OK,
                              Z_STREAM_END, inflate, inflateEnd, inflateInit2, inflateReset2)
from nexus_net.buf cimport Slab, new_slab

cdef Py_ssize_t MIN_OUT = 4096
cdef Py_ssize_t PY_SLICE = 256 * 1024       # br/zstd output asked for at a time


cdef inline int window_bits(int coding) noexcept:
    if coding == CODING_GZIP:
        return 16 + 15          # gzip wrapper only
    if coding == CODING_RAW:
        return -15
    return 15                   # zlib wrapper


cdef class Inflater:
    """``begin(coding, limit, size_hint)``, ``feed(p, n)`` as bytes arrive
    (returns how many it consumed: all of them, except that HTTP "deflate"
    waits for its first two bytes to tell zlib from raw), ``finish()`` when
    the input ended (raises if the stream did not), then ``take()`` the
    output slab."""

    def __cinit__(self):
        self.initialized = False
        self.coding = 0
        self.zs.zalloc = NULL
        self.zs.zfree = NULL
        self.zs.opaque = NULL

    def __init__(self, error, too_large, str what="body"):
        self.error = error
        self.too_large = too_large
        self.what = what

    def __dealloc__(self):
        if self.initialized:
            inflateEnd(&self.zs)

    cdef int begin(self, int coding, Py_ssize_t limit, Py_ssize_t size_hint) except -1:
        self.coding = coding
        self.limit = limit
        self.ended = False
        self.out_len = 0
        self.consumed = 0
        self.window_chosen = coding != CODING_DEFLATE
        # a first guess at the output size: a few times the compressed size
        if size_hint <= 0:
            size_hint = 16 * 1024
        if size_hint < MIN_OUT:
            size_hint = MIN_OUT
        if size_hint > limit + 1:
            size_hint = limit + 1
        self.out = new_slab(size_hint)
        self.py = None
        if coding == CODING_BR or coding == CODING_ZSTD:
            from nexus_net.http.compression import new_decoder
            self.py = new_decoder("br" if coding == CODING_BR else "zstd")
            if self.py is None:
                raise self.error(f"no decoder for the {self.what}'s coding is installed")
        elif self.window_chosen:
            self.start_stream(window_bits(coding))
        return 0

    cdef Py_ssize_t feed_py(self, const char* p, Py_ssize_t n) except -1:
        """br / zstd: the Python decoder's output, copied into the same
        bounded slab, asked for in slices so that passing the limit costs at
        most one slice more."""
        cdef bytes piece
        cdef Py_ssize_t m, want
        data = PyBytes_FromStringAndSize(p, n)
        while True:
            want = self.limit - self.out_len + 1
            if want > PY_SLICE:
                want = PY_SLICE
            try:
                piece = self.py.feed(data, want)
            except ValueError as exc:
                raise self.error(f"corrupt {self.what}: {exc}") from None
            data = b""
            m = PyBytes_GET_SIZE(piece)
            if self.out_len + m > self.limit:
                raise self.too_large(
                    f"the {self.what} decompresses to more than max_body_size={self.limit} bytes")
            while self.out.size - self.out_len < m:
                self.grow()
            memcpy(self.out.ptr + self.out_len, PyBytes_AS_STRING(piece), m)
            self.out_len += m
            if not self.py.pending:
                break
        self.consumed += n
        return n

    cdef int start_stream(self, int bits) except -1:
        cdef int rc
        self.zs.next_in = NULL
        self.zs.avail_in = 0
        if self.initialized:
            rc = inflateReset2(&self.zs, bits)
        else:
            rc = inflateInit2(&self.zs, bits)
            self.initialized = rc == Z_OK
        if rc == Z_MEM_ERROR:
            raise MemoryError()
        if rc != Z_OK:
            raise RuntimeError(f"zlib refused to start an inflate stream ({rc})")
        return 0

    cdef Py_ssize_t feed(self, const char* p, Py_ssize_t n) except -1:
        cdef int rc
        cdef unsigned int chunk
        cdef Py_ssize_t cap, used = 0
        if n == 0:
            return 0
        if self.py is not None:
            return self.feed_py(p, n)
        if not self.window_chosen:
            # HTTP "deflate" is meant to be zlib (RFC 9110 8.4.1.2), but servers
            # have sent raw deflate for decades; browsers accept both. A zlib
            # header is CM=8 with a 31-divisible 16-bit value.
            if n < 2:
                return 0
            if ((<unsigned char>p[0]) & 0x0F) == 8 and \
                    (((<unsigned char>p[0]) << 8) | (<unsigned char>p[1])) % 31 == 0:
                self.start_stream(15)
            else:
                self.start_stream(-15)
            self.window_chosen = True
        while used < n:
            if self.ended:
                if self.coding == CODING_GZIP:
                    self.start_stream(window_bits(CODING_GZIP))      # the next gzip member
                    self.ended = False
                else:
                    raise self.error(f"bytes after the end of the {self.what}'s compressed stream")
            chunk = <unsigned int>(n - used) if n - used < UINT_MAX else UINT_MAX
            self.zs.next_in = <const unsigned char*>(p + used)
            self.zs.avail_in = chunk
            while True:
                if self.out_len == self.out.size:
                    self.grow()
                cap = self.out.size - self.out_len
                self.zs.next_out = <unsigned char*>(self.out.ptr + self.out_len)
                self.zs.avail_out = <unsigned int>cap if cap < UINT_MAX else UINT_MAX
                rc = inflate(&self.zs, Z_NO_FLUSH)
                self.out_len = (<char*>self.zs.next_out) - self.out.ptr
                if self.out_len > self.limit:
                    raise self.too_large(
                        f"the {self.what} decompresses to more than max_body_size={self.limit} bytes")
                if rc == Z_STREAM_END:
                    self.ended = True
                    break
                if rc == Z_OK or rc == Z_BUF_ERROR:
                    if self.zs.avail_out != 0:
                        break                       # all input taken; output not full
                    continue                        # output full: more may be pending
                if rc == Z_MEM_ERROR:
                    raise MemoryError()
                raise self.error(f"corrupt {self.what}: "
                                 f"{self.zs.msg.decode('latin-1') if self.zs.msg != NULL else rc}")
            used += chunk - self.zs.avail_in
        self.consumed += used
        return used

    cdef int grow(self) except -1:
        cdef Py_ssize_t size = self.out.size * 2
        cdef char* p
        if size > self.limit + 1:
            size = self.limit + 1
        if size <= self.out.size:
            size = self.out.size + 1        # (only when limit + 1 was reached: caught by the caller)
        p = <char*>PyMem_Realloc(self.out.ptr, size)
        if p == NULL:
            raise MemoryError()
        self.out.ptr = p
        self.out.size = size
        return 0

    cdef int finish(self, Py_ssize_t unconsumed) except -1:
        """The input ended, ``unconsumed`` of its bytes not taken by ``feed``.
        An empty input is an empty output (servers label empty bodies too)."""
        if self.coding == 0:
            return 0
        if self.py is not None and self.py.finished() and unconsumed == 0:
            return 0
        if self.ended and unconsumed == 0:
            return 0
        if self.consumed == 0 and unconsumed == 0:
            return 0
        raise self.error(f"truncated {self.what}: the compressed stream ended early")

    cdef Slab take(self, Py_ssize_t* n):
        """The output: a slab the caller owns from now on."""
        cdef Slab out = self.out
        n[0] = self.out_len
        self.out = None
        self.out_len = 0
        self.coding = 0
        self.py = None
        return out

    cdef int release(self) except -1:
        """Free zlib's memory (a new stream allocates it again)."""
        if self.initialized:
            inflateEnd(&self.zs)
            self.initialized = False
        self.out = None
        self.coding = 0
        return 0
