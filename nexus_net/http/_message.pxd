cimport cython

# cdef API shared by the HTTP/1.x response and request parsers.

from nexus_net.buf cimport ReadBuf, Slab


cdef struct Field:
    const char* name
    Py_ssize_t name_len
    const char* value
    Py_ssize_t value_len


cdef struct Framing:
    # What the headers say about the body and the connection.
    long long content_length     # -1 if none
    bint te                      # a Transfer-Encoding header is present
    bint te_chunked              # ... and chunked is its final coding
    bint conn_close
    bint conn_keep
    bint expect_continue
    Py_ssize_t ce_index          # the Content-Encoding field, -1 if none
    Py_ssize_t ce_count          # how many Content-Encoding fields


# No cyclic GC: a message refers only to slabs (no object fields) and to a
# list of (str, str) trailer tuples that it never hands out, so it can never
# be part of a reference cycle; leaving the GC out saves tracking it and the
# collections its allocation would trigger.
@cython.no_gc
cdef class HttpMessage:
    # Head fields point into head_slab and the body into body_slab (or an
    # assembly slab); both are pinned while the message lives, so every view
    # stays valid and unchanged.
    cdef readonly int version            # 10 or 11
    cdef readonly bint keep_alive
    cdef readonly bint chunked
    cdef Py_ssize_t cl                   # declared Content-Length, -1 if none
    cdef Field* fields                   # inline_fields, or a heap array for big heads
    cdef Field inline_fields[8]
    cdef Py_ssize_t nfields
    cdef Slab head_slab
    cdef Slab body_slab
    cdef const char* body_ptr
    cdef Py_ssize_t body_len
    cdef list trailer_list
    cdef bint still_encoded              # the body is compressed bytes (not decoded): no text()/json()

    cdef int set_body(self, Slab slab, const char* ptr, Py_ssize_t n) except -1


cdef Py_ssize_t find_head_end(const char* p, Py_ssize_t avail, Py_ssize_t* scan, bint strict,
                              object error, str what) except -2

cdef int parse_fields(HttpMessage m, const char* p, Py_ssize_t pos, Py_ssize_t n,
                      Py_ssize_t max_headers, object error, object too_large, Framing* fr) except -1

cdef int split_field(const char* line, Py_ssize_t n, str what, object error, Py_ssize_t* colon_out,
                     Py_ssize_t* a_out, Py_ssize_t* z_out) except -1


cdef class MessageReader:
    # The input side both parsers share: a receive buffer with limits, and a
    # sticky failure.
    cdef ReadBuf buf
    cdef readonly Py_ssize_t max_body_size
    cdef readonly Py_ssize_t max_headers
    cdef readonly Py_ssize_t max_head_bytes
    cdef readonly bint strict
    cdef Py_ssize_t scan                 # head: bytes already searched for its end
    cdef bint eof
    cdef bint drained                    # next() found nothing more in the buffer
    cdef object failure

    cdef int fail(self, exc) except -1
    cdef Py_ssize_t head_length(self, object error, object too_large, str what) except -2
    cdef int take_head(self, HttpMessage m, Py_ssize_t end) except -1
