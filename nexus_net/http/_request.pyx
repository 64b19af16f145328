# cython: boundscheck=False, wraparound=False, initializedcheck=False
# All indexing is pointer arithmetic inside a located line or the unread bytes.
"""Sans-IO HTTP/1.x request parser (for servers and tests): bytes in,
``IncomingRequest`` objects out.

The same in-place head parsing, limits and chunked decoder as the response
parser. A request has a body only by Content-Length or chunked coding (never
read-until-close); a Transfer-Encoding that does not end in chunked is
refused, as RFC 9112 section 6.3 tells servers to.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.string cimport memchr

from nexus_net._ascii cimport is_tchar
from nexus_net.buf cimport ReadBuf, Slab
from nexus_net.http._chunked cimport ChunkedDecoder
from nexus_net.http._message cimport Framing, HttpMessage, MessageReader, parse_fields

from nexus_net.http.errors import BodyTooLarge, HttpError, InvalidRequest, RequestHeadTooLarge

cdef enum:
    S_HEAD = 0
    S_LENGTH = 1
    S_CHUNKED = 2

# the common methods as interned strings: no decoding per request
cdef dict _METHODS = {m.encode(): m for m in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")}


@cython.final
@cython.no_gc                            # see HttpMessage
cdef class IncomingRequest(HttpMessage):
    """One parsed HTTP request: ``method``, ``target``, ``version``,
    ``header(name)``, ``headers()``, ``body`` (zero-copy view), ``json()``,
    ``keep_alive`` and ``expects_continue`` (the client sent Expect:
    100-continue and waits for an interim response before the body)."""

    cdef readonly str method
    cdef const char* target_ptr
    cdef Py_ssize_t target_len
    cdef readonly bint expects_continue

    def __init__(self, *args, **kwargs):
        raise TypeError("IncomingRequest objects are created by RequestReader")

    @property
    def target(self):
        """The request target as sent (origin form: path and query)."""
        return PyUnicode_DecodeLatin1(self.target_ptr, self.target_len, NULL)

    def __repr__(self):
        return f"<IncomingRequest {self.method} {self.target} body={self.body_len} bytes>"


@cython.final
cdef class RequestReader(MessageReader):
    """Incremental HTTP/1.x request parser for one connection.

    ``feed(data)`` (or ``buffer()`` + ``advance(n)``), then ``next()`` until it
    returns None; ``feed_eof()`` when the peer closed. Pipelined requests
    come out one by one. Errors are ``InvalidRequest`` (answer 400),
    ``RequestHeadTooLarge`` (431) and ``BodyTooLarge`` (413); they are
    sticky: a broken stream cannot be resumed by accident.
    """

    cdef int state
    cdef IncomingRequest current
    cdef Py_ssize_t remaining
    cdef ChunkedDecoder chunks

    def __init__(self, Py_ssize_t buffer_size=16 * 1024, *, Py_ssize_t max_body_size=1024 * 1024,
                 Py_ssize_t max_headers=100, Py_ssize_t max_head_bytes=16 * 1024, bint strict=True):
        MessageReader.__init__(self, buffer_size, max_body_size, max_headers, max_head_bytes, strict)
        self.state = S_HEAD
        self.chunks = ChunkedDecoder(max_body_size=max_body_size, max_trailer_bytes=max_head_bytes,
                                     max_trailers=max_headers, strict=strict)
        self.chunks.error = InvalidRequest
        self.chunks.too_large = RequestHeadTooLarge

    def reset(self):
        """Forget all state and buffered bytes: ready for a new connection."""
        self.buf.drop(self.buf.end - self.buf.start)
        self.state = S_HEAD
        self.scan = 0
        self.eof = False
        self.drained = False
        self.failure = None
        self.current = None
        self.chunks.restart()

    def awaiting_body(self):
        """The request whose head has arrived and whose body has not (yet):
        a server answers ``Expect: 100-continue`` (``expects_continue``) with
        a 100 response at this point, since the client sends the body only
        after it. ``next()`` returns the same object once the body is in.
        None after a parse error: a broken stream gets no 100 Continue."""
        return self.current if self.failure is None else None

    def feed_eof(self):
        """The peer closed the connection."""
        self.eof = True
        if self.drained and self.failure is None and not self.idle():
            self.fail(InvalidRequest("connection closed mid-request"))

    cdef bint idle(self):
        return self.state == S_HEAD and self.buf.end == self.buf.start

    def next(self):
        """The next complete ``IncomingRequest``, or None if more bytes are needed."""
        cdef IncomingRequest r
        if self.failure is not None:
            raise self.failure
        try:
            r = self.step()
        except HttpError as exc:
            self.failure = exc
            raise
        if r is None:
            self.drained = True
            if self.eof and not self.idle():
                self.fail(InvalidRequest("connection closed mid-request"))
        return r

    cdef IncomingRequest step(self):
        cdef ReadBuf b = self.buf
        cdef IncomingRequest r
        cdef Py_ssize_t n
        if self.state == S_HEAD:
            r = self.read_head()
            if r is None:
                return None
            if r.chunked:
                self.current = r
                self.chunks.restart()
                self.state = S_CHUNKED
            elif r.cl > 0:
                self.current = r
                self.remaining = r.cl
                self.state = S_LENGTH
            else:
                return r
        if self.state == S_LENGTH:
            n = b.end - b.start
            if n < self.remaining:
                b.reserve(self.remaining - n)
                return None
            r = self.current
            r.set_body(b.slab, b.data + b.start, self.remaining)
            b.drop(self.remaining)
        else:
            n = self.chunks.decode(b.data + b.start, b.end - b.start)
            b.drop(n)
            if not self.chunks.done():
                return None
            r = self.current
            r.set_body(self.chunks.assembly, self.chunks.assembly.ptr
                       if self.chunks.assembly is not None else NULL, self.chunks.assembled)
            r.trailer_list = self.chunks.trailer_list
            self.chunks.restart()
        self.current = None
        self.state = S_HEAD
        return r

    cdef IncomingRequest read_head(self):
        cdef ReadBuf b = self.buf
        cdef Py_ssize_t end
        cdef IncomingRequest r
        # RFC 9112 2.2: a server should ignore empty lines before a request
        # (some clients send a CRLF after a POST body).
        while self.scan == 0 and b.end - b.start >= 2 and b.data[b.start] == 13 and b.data[b.start + 1] == 10:
            b.drop(2)
        end = self.head_length(InvalidRequest, RequestHeadTooLarge, "request")
        if end < 0:
            return None
        r = self.parse_head(b.data + b.start, end)
        self.take_head(r, end)
        return r

    cdef IncomingRequest parse_head(self, const char* p, Py_ssize_t n):
        cdef IncomingRequest r = IncomingRequest.__new__(IncomingRequest)
        cdef Py_ssize_t le, len_line, i, m, t0, t1
        cdef Framing fr
        r.cl = -1
        # request line: method SP request-target SP HTTP/1.x
        le = <const char*>memchr(p, 10, n) - p
        len_line = le - 1 if le > 0 and p[le - 1] == 13 else le
        m = 0
        while m < len_line and is_tchar(<unsigned char>p[m]):
            m += 1
        if m == 0 or m >= len_line or p[m] != 32:
            raise InvalidRequest(f"malformed request line {PyBytes_FromStringAndSize(p, min(len_line, 80))!r}")
        t0 = m + 1
        t1 = t0
        while t1 < len_line and p[t1] != 32:
            if <unsigned char>p[t1] < 33 or <unsigned char>p[t1] > 126:
                raise InvalidRequest("control character or non-ASCII byte in the request target")
            t1 += 1
        if t1 == t0 or len_line - t1 != 9 or p[t1 + 1] != 72 or p[t1 + 2] != 84 or p[t1 + 3] != 84 \
                or p[t1 + 4] != 80 or p[t1 + 5] != 47 or p[t1 + 6] != 49 or p[t1 + 7] != 46 \
                or not (p[t1 + 8] == 48 or p[t1 + 8] == 49):
            raise InvalidRequest(f"malformed request line {PyBytes_FromStringAndSize(p, min(len_line, 80))!r}")
        method = PyBytes_FromStringAndSize(p, m)
        r.method = _METHODS.get(method)
        if r.method is None:
            r.method = PyUnicode_DecodeLatin1(p, m, NULL)
        r.target_ptr = p + t0
        r.target_len = t1 - t0
        r.version = 11 if p[t1 + 8] == 49 else 10
        parse_fields(r, p, le + 1, n, self.max_headers, InvalidRequest, RequestHeadTooLarge, &fr)
        if fr.te and not fr.te_chunked:
            raise InvalidRequest("Transfer-Encoding without chunked as its final coding")
        r.chunked = fr.te
        r.cl = fr.content_length
        if r.cl > self.max_body_size:
            raise BodyTooLarge(f"Content-Length {r.cl} exceeds max_body_size={self.max_body_size}")
        r.keep_alive = (not fr.conn_close) if r.version == 11 else (fr.conn_keep and not fr.conn_close)
        if fr.te and r.version == 10:
            r.keep_alive = False       # RFC 9112 6.1: chunked in HTTP/1.0 is unreliable framing
        r.expects_continue = fr.expect_continue and r.version == 11
        return r
