# cdef API of the response parser (the REST client's protocol calls it directly).

cimport cython

from nexus_net._inflate cimport Inflater
from nexus_net.buf cimport Slab
from nexus_net.http._chunked cimport ChunkedDecoder
from nexus_net.http._message cimport HttpMessage, MessageReader


@cython.final
@cython.no_gc                            # see HttpMessage
cdef class Response(HttpMessage):
    cdef readonly int status
    cdef public object request_method    # set by the REST clients: what raise_for_status judges by
    cdef public object rate_limit_headers  # the client's RateLimitHeaders (None: the standard ones)
    # timings, monotonic ns (0: not measured), stamped by the REST clients
    cdef long long t_connect             # a connection this request opened: connect() began
    cdef long long t_connected           # ... TCP (and any proxy) connected
    cdef long long t_tls                 # ... TLS handshake done
    cdef long long t_written             # the request handed to the connection
    cdef long long t_first               # the first byte of the response arrived
    cdef long long t_complete            # the response was complete
    cdef const char* reason_ptr
    cdef Py_ssize_t reason_len


@cython.final
cdef class ResponseReader(MessageReader):
    cdef int state
    cdef bint head_request
    cdef Response current                # response whose body is being read
    cdef Py_ssize_t remaining            # Content-Length bytes still expected
    cdef ChunkedDecoder chunks           # decodes chunked bodies
    cdef bint interim_seen               # a 1xx arrived; the final response has not
    cdef readonly bint decode            # decode Content-Encoding (gzip, deflate, br, zstd)
    cdef Inflater inflater               # created on the first compressed body
    cdef int coding                      # Coding of the body being read, 0: identity
    cdef Py_ssize_t ce_index             # the head's Content-Encoding field, -1 if none
    cdef Py_ssize_t ce_count

    cdef int restart(self) except -1
    cdef Response poll(self)
    cdef bint idle(self)
    cdef Response step(self)
    cdef int finish_body(self, Response r, Slab slab, const char* ptr, Py_ssize_t n) except -1
    cdef int start_decoding(self, Response r, Py_ssize_t size_hint) except -1
    cdef Response finish_decoded(self, Response r, Py_ssize_t unconsumed)
    cdef Response read_head(self)
    cdef Response parse_head(self, const char* p, Py_ssize_t n)
