# cython: boundscheck=False, wraparound=False, initializedcheck=False
# All indexing is pointer arithmetic inside ranges whose lengths were checked
# first (a located line, the unread bytes of the buffer).
"""Sans-IO HTTP/1.x response parser: bytes in, ``Response`` objects out.

The status line and headers are parsed in place: a ``Response`` keeps the
offsets of each field inside the receive buffer and builds Python strings
only when asked (``header(name)``, ``headers()``). A Content-Length body is
a view into the receive buffer; a chunked body is decoded into a buffer of
its own. Every limit is enforced before the bytes it guards are buffered.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.string cimport memchr, memmove

from nexus_net._ascii cimport ascii_ieq
from nexus_net._clock cimport monotonic_ns
from nexus_net._inflate cimport CODING_BR, CODING_DEFLATE, CODING_GZIP, CODING_ZSTD, Inflater

from nexus_net.buf cimport ReadBuf, Slab
from nexus_net.http._chunked cimport ChunkedDecoder
from nexus_net.http._message cimport Framing, HttpMessage, MessageReader, parse_fields

from nexus_net.http.errors import BodyTooLarge, ContentEncodingError, HeadTooLarge, HttpError, InvalidResponse

cdef enum:
    S_HEAD = 0
    S_LENGTH = 1
    S_CHUNKED = 2
    S_UNTIL_CLOSE = 6
    S_UPGRADED = 7

from nexus_net.http.compression import SUPPORTED as DECODED   # br and zstd when installed

cdef bint HAVE_BR = "br" in DECODED
cdef bint HAVE_ZSTD = "zstd" in DECODED


cdef int coding_of(const char* v, Py_ssize_t n) noexcept:
    """The Coding named by one Content-Encoding value: 0 for identity, -1 for
    anything this reader cannot decode (a list of codings included)."""
    cdef Py_ssize_t a = 0, z = n
    while a < z and (v[a] == 32 or v[a] == 9):
        a += 1
    while z > a and (v[z - 1] == 32 or v[z - 1] == 9):
        z -= 1
    if ascii_ieq(v + a, z - a, "gzip", 4) or ascii_ieq(v + a, z - a, "x-gzip", 6):
        return CODING_GZIP
    if ascii_ieq(v + a, z - a, "deflate", 7):
        return CODING_DEFLATE
    if ascii_ieq(v + a, z - a, "br", 2):
        return CODING_BR if HAVE_BR else -1
    if ascii_ieq(v + a, z - a, "zstd", 4):
        return CODING_ZSTD if HAVE_ZSTD else -1
    if ascii_ieq(v + a, z - a, "identity", 8) or z == a:
        return 0
    return -1


@cython.no_gc                            # see _message.pxd
cdef class Response(HttpMessage):
    """One HTTP response: ``status``, ``reason``, ``header(name)``,
    ``headers()``, ``body`` (a read-only view that stays valid and unchanged
    as long as the response, or the view, is alive), ``text()``, ``json()``."""

    def __init__(self, *args, **kwargs):
        raise TypeError("Response objects are created by ResponseReader")

    @property
    def reason(self):
        return PyUnicode_DecodeLatin1(self.reason_ptr, self.reason_len, NULL)

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} body={self.body_len} bytes>"

    @property
    def timings(self):
        """``Timings`` of the exchange (monotonic ns, as ``time.monotonic_ns()``):
        ``written``, ``first_byte``, ``complete``, and ``connect_start`` /
        ``connected`` / ``tls_done`` when this request opened its connection.
        None for a response that no client stamped."""
        if self.t_complete == 0:
            return None
        from nexus_net.http.timings import Timings
        return Timings(self.t_connect or None, self.t_connected or None, self.t_tls or None,
                       self.t_written, self.t_first or None, self.t_complete)

    def _set_timings(self, long long connect, long long connected, long long tls, long long written,
                     long long first, long long complete=0):
        """(for the blocking client, which stamps in Python; ``complete`` 0: now)"""
        self.t_connect, self.t_connected, self.t_tls = connect, connected, tls
        self.t_written, self.t_first = written, first
        self.t_complete = complete if complete else monotonic_ns()

    @property
    def rate_limit(self):
        """The rate-limit headers of this response as a ``RateLimitInfo``
        (parsed on first access), or None when it has none."""
        from nexus_net.rest.ratelimit import rate_limit_of
        return rate_limit_of(self, self.rate_limit_headers)

    @property
    def ok(self):
        """The status is below 400."""
        return self.status < 400

    def raise_for_status(self):
        """Return the response if its status is below 400; otherwise raise
        ``RateLimited`` (429, 418; with ``retry_after``), ``ServerError`` (5xx;
        ``outcome_unknown`` for a request that was not idempotent) or
        ``ClientError`` (other 4xx), each with status, reason, headers, body."""
        if self.status < 400:
            return self
        from nexus_net.http.status import status_error
        raise status_error(self)


cdef class ResponseReader(MessageReader):
    """Incremental HTTP/1.x response parser for one connection.

    ``feed(data)`` (or ``buffer()`` + ``advance(n)``), then ``next()`` until it
    returns None; ``feed_eof()`` when the peer closed. ``expect_head()``
    before the response to a HEAD request. 1xx interim responses are skipped;
    101 is returned and ends HTTP parsing on this connection.

    A body with ``Content-Encoding: gzip`` or ``deflate`` (zlib or raw) is
    decoded while it arrives, into a buffer that never grows past
    ``max_body_size`` (the limit of the *decoded* size: a bomb stops there
    with ``BodyTooLarge``); ``body``/``text()``/``json()`` are the decoded
    bytes. Corrupt or truncated data, or a coding it cannot decode, raises
    ``ContentEncodingError`` (an ``InvalidResponse``). ``decode=False``
    leaves bodies as they came (``text()``/``json()`` of an encoded one
    raise). Identity bodies stay zero-copy views of the receive buffer.
    """

    def __init__(self, Py_ssize_t buffer_size=32 * 1024, *, Py_ssize_t max_body_size=16 * 1024 * 1024,
                 Py_ssize_t max_headers=100, Py_ssize_t max_head_bytes=16 * 1024, bint strict=True,
                 bint decode=True):
        MessageReader.__init__(self, buffer_size, max_body_size, max_headers, max_head_bytes, strict)
        self.decode = decode
        self.state = S_HEAD
        self.failure = None
        self.chunks = ChunkedDecoder(max_body_size=max_body_size, max_trailer_bytes=max_head_bytes,
                                     max_trailers=max_headers, strict=strict)
        self.chunks.error = InvalidResponse
        self.chunks.too_large = HeadTooLarge

    def reset(self):
        """Forget all state and buffered bytes: ready for a new connection.

        Responses already returned stay valid (they keep their own memory)."""
        self.restart()

    cdef int restart(self) except -1:
        self.buf.drop(self.buf.end - self.buf.start)
        self.state = S_HEAD
        self.scan = 0
        self.head_request = False
        self.eof = False
        self.drained = False
        self.failure = None
        self.current = None
        self.chunks.restart()
        self.interim_seen = False
        self.coding = 0
        if self.inflater is not None:
            self.inflater.coding = 0          # a stream cut short: forget it, keep zlib's memory
            self.inflater.out = None
        return 0

    def expect_head(self):
        """The next response answers a HEAD request: it has no body."""
        self.head_request = True

    def feed_eof(self):
        """The peer closed the connection."""
        self.eof = True
        if self.drained and self.failure is None and not self.idle():
            self.fail(InvalidResponse("connection closed mid-response"))

    cdef bint idle(self):
        return (self.state == S_HEAD and self.buf.end == self.buf.start and not self.interim_seen) \
            or self.state == S_UNTIL_CLOSE or self.state == S_UPGRADED

    # ---- output -------------------------------------------------------------------------
    def next(self):
        """The next complete ``Response``, or None if more bytes are needed."""
        return self.poll()

    cdef Response poll(self):
        cdef Response r
        if self.failure is not None:
            raise self.failure
        try:
            r = self.step()
        except HttpError as exc:
            self.failure = exc                  # a broken stream stays broken
            raise
        if r is None:
            self.drained = True
            if self.eof and self.failure is None and not self.idle():
                self.fail(InvalidResponse("connection closed mid-response"))
        return r

    cdef Response step(self):
        cdef ReadBuf b = self.buf
        cdef Response r
        cdef Py_ssize_t n, take, used
        while True:
            if self.state == S_HEAD:
                r = self.read_head()
                if r is None:
                    return None
                if 100 <= r.status < 200 and r.status != 101:
                    self.interim_seen = True
                    continue                                   # interim response
                self.interim_seen = False
                if r.status == 101:
                    self.state = S_UPGRADED
                    self.head_request = False
                    return r
                if self.head_request or r.status == 204 or r.status == 304:
                    self.head_request = False
                    return r
                self.head_request = False
                if self.ce_index >= 0 and r.cl != 0:
                    self.start_decoding(r, r.cl * 4 if r.cl > 0 else 0)
                if r.chunked:
                    self.current = r
                    self.chunks.restart()
                    self.state = S_CHUNKED
                elif r.cl >= 0:
                    if r.cl == 0:
                        return r
                    self.current = r
                    self.remaining = r.cl
                    self.state = S_LENGTH
                else:
                    r.keep_alive = False
                    self.current = r
                    self.state = S_UNTIL_CLOSE
            elif self.state == S_LENGTH:
                n = b.end - b.start
                if self.coding:
                    # inflate what arrived: the compressed body is never buffered whole
                    take = n if n < self.remaining else self.remaining
                    used = self.inflater.feed(b.data + b.start, take)
                    b.drop(used)
                    self.remaining -= used
                    if self.remaining == 0 or take == self.remaining + used:
                        return self.finish_decoded(self.current, self.remaining)
                    return None
                if n < self.remaining:
                    b.reserve(self.remaining - n)          # make room for the whole body
                    return None
                r = self.current
                self.finish_body(r, b.slab, b.data + b.start, self.remaining)
                b.drop(self.remaining)
                return r
            elif self.state == S_UNTIL_CLOSE:
                if self.coding:
                    used = self.inflater.feed(b.data + b.start, b.end - b.start)
                    b.drop(used)
                    if not self.eof:
                        return None
                    r = self.finish_decoded(self.current, b.end - b.start)
                    self.state = S_UPGRADED
                    return r
                if not self.eof:
                    n = b.end - b.start
                    if n > self.max_body_size:
                        self.fail(BodyTooLarge(
                            f"body read until close exceeds max_body_size={self.max_body_size}"))
                    return None
                r = self.current
                n = b.end - b.start
                self.finish_body(r, b.slab, b.data + b.start, n)
                b.drop(n)
                self.state = S_UPGRADED           # nothing can follow a read-until-close body
                return r
            elif self.state == S_UPGRADED:
                return None
            else:                                          # S_CHUNKED
                n = self.chunks.decode(b.data + b.start, b.end - b.start)
                b.drop(n)
                if self.coding and self.chunks.assembled:
                    # inflate the chunk data decoded so far, then reuse its room
                    used = self.inflater.feed(self.chunks.assembly.ptr, self.chunks.assembled)
                    if used:
                        memmove(self.chunks.assembly.ptr, self.chunks.assembly.ptr + used,
                                self.chunks.assembled - used)
                        self.chunks.assembled -= used
                if not self.chunks.done():
                    return None
                r = self.current
                if self.coding:
                    self.finish_decoded(r, self.chunks.assembled)
                    r.trailer_list = self.chunks.trailer_list
                    self.chunks.restart()
                    return r
                self.finish_body(r, self.chunks.assembly, self.chunks.assembly.ptr
                                 if self.chunks.assembly is not None else NULL, self.chunks.assembled)
                r.trailer_list = self.chunks.trailer_list
                self.chunks.restart()
                return r

    cdef int finish_body(self, Response r, Slab slab, const char* ptr, Py_ssize_t n) except -1:
        r.set_body(slab, ptr, n)
        self.current = None
        self.state = S_HEAD
        self.scan = 0
        return 0

    # ---- Content-Encoding -------------------------------------------------------------
    cdef int start_decoding(self, Response r, Py_ssize_t size_hint) except -1:
        cdef int coding
        if self.ce_count > 1:
            coding = -1                                   # stacked codings
        else:
            coding = coding_of(r.fields[self.ce_index].value, r.fields[self.ce_index].value_len)
        if coding == 0:
            return 0
        if not self.decode:
            r.still_encoded = True
            return 0
        if coding < 0:
            self.fail(ContentEncodingError(
                f"cannot decode Content-Encoding {r.header('content-encoding')!r}"
                + (" (more than one Content-Encoding header)" if self.ce_count > 1 else "")
                + f": this reader decodes {', '.join(DECODED)}"))
        if self.inflater is None:
            self.inflater = Inflater(ContentEncodingError, BodyTooLarge, "response body")
        self.inflater.begin(coding, self.max_body_size, size_hint)
        self.coding = coding
        return 0

    cdef Response finish_decoded(self, Response r, Py_ssize_t unconsumed):
        cdef Py_ssize_t n
        cdef Slab out
        self.inflater.finish(unconsumed)
        out = self.inflater.take(&n)
        self.coding = 0
        self.finish_body(r, out, out.ptr, n)
        return r

    # ---- the head ---------------------------------------------------------------------
    cdef Response read_head(self):
        cdef Py_ssize_t end = self.head_length(InvalidResponse, HeadTooLarge, "response")
        if end < 0:
            return None
        r = self.parse_head(self.buf.data + self.buf.start, end)
        self.take_head(r, end)
        return r

    cdef Response parse_head(self, const char* p, Py_ssize_t n):
        cdef Response r = Response.__new__(Response)
        cdef Py_ssize_t le, i, len_line
        cdef long long cl
        cdef Framing fr
        r.cl = -1
        # status line: HTTP/1.x SP 3DIGIT [SP reason]
        le = <const char*>memchr(p, 10, n) - p
        len_line = le - 1 if le > 0 and p[le - 1] == 13 else le
        if len_line < 12 or p[0] != 72 or p[1] != 84 or p[2] != 84 or p[3] != 80 or p[4] != 47 \
                or p[5] != 49 or p[6] != 46 or not (p[7] == 48 or p[7] == 49) or p[8] != 32:
            self.fail(InvalidResponse(f"malformed status line {PyBytes_FromStringAndSize(p, min(len_line, 80))!r}"))
        for i in range(9, 12):
            if not (48 <= p[i] <= 57):
                self.fail(InvalidResponse(f"malformed status code in {PyBytes_FromStringAndSize(p, min(len_line, 80))!r}"))
        r.status = (p[9] - 48) * 100 + (p[10] - 48) * 10 + (p[11] - 48)
        if r.status < 100 or r.status > 599:
            self.fail(InvalidResponse(f"status code {r.status} out of range"))
        if len_line > 12 and p[12] != 32:
            self.fail(InvalidResponse(f"malformed status line {PyBytes_FromStringAndSize(p, min(len_line, 80))!r}"))
        r.version = 11 if p[7] == 49 else 10
        r.reason_ptr = p + 13 if len_line > 13 else p + len_line
        r.reason_len = len_line - 13 if len_line > 13 else 0
        for i in range(r.reason_len):
            if r.reason_ptr[i] == 0 or r.reason_ptr[i] == 13:
                self.fail(InvalidResponse("control character in the reason phrase"))
        parse_fields(r, p, le + 1, n, self.max_headers, InvalidResponse, HeadTooLarge, &fr)
        self.ce_index = fr.ce_index
        self.ce_count = fr.ce_count
        cl = fr.content_length
        r.chunked = fr.te and fr.te_chunked
        if fr.te and not fr.te_chunked:
            cl = -1                                            # read until close
        r.cl = cl
        if cl > self.max_body_size and not (self.head_request or r.status == 204 or r.status == 304
                                            or r.status < 200):
            self.fail(BodyTooLarge(f"Content-Length {cl} exceeds max_body_size={self.max_body_size}"))
        r.keep_alive = (not fr.conn_close) if r.version == 11 else (fr.conn_keep and not fr.conn_close)
        if fr.te and (not fr.te_chunked or r.version == 10):
            r.keep_alive = False       # read until close; or chunked in HTTP/1.0 (RFC 9112 6.1)
        return r
