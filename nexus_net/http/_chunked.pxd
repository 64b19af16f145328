# cdef API of the chunked transfer-coding decoder.

from nexus_net.buf cimport ReadBuf, Slab


cdef class ChunkedDecoder:
    cdef int state
    cdef readonly Py_ssize_t max_body_size
    cdef readonly Py_ssize_t max_trailer_bytes
    cdef readonly Py_ssize_t max_trailers
    cdef readonly bint strict
    cdef object error                  # exception class for malformed input
    cdef object too_large              # exception class for oversize trailers
    cdef Py_ssize_t remaining          # bytes of the current chunk still expected
    cdef Slab assembly                 # the decoded body
    cdef Py_ssize_t assembled
    cdef list trailer_list
    cdef Py_ssize_t trailer_bytes
    cdef ReadBuf pending               # standalone use: an incomplete line kept between feeds
    cdef object failure

    cdef int restart(self) except -1
    cdef Py_ssize_t decode(self, const char* p, Py_ssize_t avail) except -1
    cdef bint done(self) noexcept
    cdef int grow_assembly(self, Py_ssize_t need) except -1
    cdef int add_trailer(self, const char* line, Py_ssize_t n) except -1
