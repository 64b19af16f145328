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
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeLatin1, PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcpy

from nexus_net._ascii cimport ascii_ieq, is_tchar
from nexus_net.buf cimport ReadBuf, Slab, new_slab

import orjson

from nexus_net.errors import BufferFullError
from nexus_net.http.errors import BodyTooLarge, HeadTooLarge, InvalidResponse, ReadBufferFull

cdef extern from "Python.h":
    object PyMemoryView_FromObject(object obj)
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL

cdef object _loads = orjson.loads

cdef enum:
    S_HEAD = 0
    S_LENGTH = 1
    S_CHUNK_SIZE = 2
    S_CHUNK_DATA = 3
    S_CHUNK_CRLF = 4
    S_TRAILERS = 5
    S_UNTIL_CLOSE = 6
    S_UPGRADED = 7

cdef Py_ssize_t MAX_CHUNK_LINE = 4096



cdef struct Field:
    const char* name
    Py_ssize_t name_len
    const char* value
    Py_ssize_t value_len




cdef inline bint has_token(const char* v, Py_ssize_t n, const char* lower_tok, Py_ssize_t m) noexcept:
    """Whether the comma-separated list v[:n] contains the token (case-insensitively)."""
    cdef Py_ssize_t i = 0, j, a, b
    while i <= n:
        j = i
        while j < n and v[j] != 44:          # ','
            j += 1
        a, b = i, j
        while a < b and (v[a] == 32 or v[a] == 9):
            a += 1
        while b > a and (v[b - 1] == 32 or v[b - 1] == 9):
            b -= 1
        if ascii_ieq(v + a, b - a, lower_tok, m):
            return True
        i = j + 1
    return False


@cython.final
@cython.freelist(16)
cdef class Response:
    """One HTTP response. ``body`` is a read-only view that stays valid and
    unchanged as long as the response (or the view) is alive."""

    cdef readonly int status
    cdef readonly int version            # 10 or 11
    cdef readonly bint keep_alive
    cdef readonly bint chunked
    cdef Py_ssize_t cl                   # declared Content-Length, -1 if none
    cdef const char* reason_ptr
    cdef Py_ssize_t reason_len
    cdef Field* fields                   # inline_fields, or a heap array for big heads
    cdef Field inline_fields[16]
    cdef Py_ssize_t nfields
    cdef Slab head_slab                  # pinned: the fields point into it
    cdef Slab body_slab                  # pinned: the body points into it
    cdef const char* body_ptr
    cdef Py_ssize_t body_len
    cdef list trailer_list

    def __init__(self, *args, **kwargs):
        raise TypeError("Response objects are created by ResponseReader")

    def __dealloc__(self):
        if self.fields != NULL and self.fields != self.inline_fields:
            PyMem_Free(self.fields)
        if self.head_slab is not None:
            self.head_slab.pins -= 1
        if self.body_slab is not None:
            self.body_slab.pins -= 1

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, <void*>self.body_ptr, self.body_len, 1, flags)

    @property
    def reason(self):
        return PyUnicode_DecodeLatin1(self.reason_ptr, self.reason_len, NULL)

    @property
    def content_length(self):
        return None if self.cl < 0 else self.cl

    def header(self, str name):
        """The first value of header ``name`` (case-insensitive), or None."""
        # Compared in place, folding case on both sides: no allocation per
        # lookup. A non-ASCII name never matches (header names are tokens).
        cdef Py_ssize_t i, n
        cdef const char* k = PyUnicode_AsUTF8AndSize(name, &n)
        for i in range(self.nfields):
            if ascii_ieq(self.fields[i].name, self.fields[i].name_len, k, n):
                return PyUnicode_DecodeLatin1(self.fields[i].value, self.fields[i].value_len, NULL)
        return None

    def headers(self):
        """All headers, in order, as (name, value) strings."""
        cdef Py_ssize_t i
        return [(PyUnicode_DecodeLatin1(self.fields[i].name, self.fields[i].name_len, NULL),
                 PyUnicode_DecodeLatin1(self.fields[i].value, self.fields[i].value_len, NULL))
                for i in range(self.nfields)]

    def trailers(self):
        """Trailer fields of a chunked body, as (name, value) strings."""
        return list(self.trailer_list) if self.trailer_list is not None else []

    @property
    def body(self):
        """The body as a read-only memoryview (zero-copy)."""
        return PyMemoryView_FromObject(self)

    def bytes(self):
        return PyBytes_FromStringAndSize(self.body_ptr, self.body_len)

    def text(self, str encoding="utf-8"):
        if encoding == "utf-8":
            return PyUnicode_DecodeUTF8(self.body_ptr, self.body_len, NULL)
        return self.bytes().decode(encoding)

    def json(self):
        """``orjson.loads`` of the body, straight from the buffer."""
        return _loads(PyMemoryView_FromObject(self))

    def __len__(self):
        return self.body_len

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} body={self.body_len} bytes>"


@cython.final
cdef class ResponseReader:
    """Incremental HTTP/1.x response parser for one connection.

    ``feed(data)`` (or ``buffer()`` + ``advance(n)``), then ``next()`` until it
    returns None; ``feed_eof()`` when the peer closed. ``expect_head()``
    before the response to a HEAD request. 1xx interim responses are skipped;
    101 is returned and ends HTTP parsing on this connection.
    """

    cdef ReadBuf buf
    cdef readonly Py_ssize_t max_body_size
    cdef readonly Py_ssize_t max_headers
    cdef readonly Py_ssize_t max_head_bytes
    cdef readonly bint strict
    cdef int state
    cdef Py_ssize_t scan                 # head: bytes already searched for its end
    cdef bint head_request
    cdef bint eof
    cdef bint drained
    cdef object failure
    cdef Response current                # response whose body is being read
    cdef Py_ssize_t remaining            # Content-Length or chunk bytes still expected
    cdef Slab assembly                   # decoded chunked body
    cdef Py_ssize_t assembled
    cdef list trailer_list
    cdef Py_ssize_t trailer_bytes
    cdef bint interim_seen               # a 1xx arrived; the final response has not

    def __init__(self, Py_ssize_t buffer_size=32 * 1024, *, Py_ssize_t max_body_size=16 * 1024 * 1024,
                 Py_ssize_t max_headers=100, Py_ssize_t max_head_bytes=16 * 1024, bint strict=True):
        if buffer_size < 256 or max_body_size < 0 or max_headers < 1 or max_head_bytes < 64:
            raise ValueError("need buffer_size >= 256, max_body_size >= 0, max_headers >= 1, "
                             "max_head_bytes >= 64")
        self.max_body_size = max_body_size
        self.max_headers = max_headers
        self.max_head_bytes = max_head_bytes
        self.strict = strict
        # Room for one response at its limits plus bulk feeds (pipelined
        # responses, big socket reads) behind it.
        self.buf = ReadBuf(buffer_size, max_head_bytes + max_body_size + max(buffer_size, 4 * 1024 * 1024))
        self.state = S_HEAD
        self.failure = None

    # ---- input ------------------------------------------------------------------------
    def feed(self, data):
        cdef char* dst
        cdef Py_ssize_t n
        if type(data) is bytes:                  # fast path: no buffer acquisition
            n = PyBytes_GET_SIZE(data)
            try:
                dst = self.buf.reserve(n)
            except BufferFullError as exc:
                raise ReadBufferFull(f"{exc}; call next() between feeds") from None
            memcpy(dst, PyBytes_AS_STRING(data), n)
            self.buf.end += n
            self.drained = False
            return
        try:
            self.buf.feed(data)
        except BufferFullError as exc:
            raise ReadBufferFull(f"{exc}; call next() between feeds") from None
        self.drained = False

    def buffer(self, Py_ssize_t min_free=16384):
        try:
            return self.buf.writable(min_free)
        except BufferFullError as exc:
            raise ReadBufferFull(f"{exc}; call next() between reads") from None

    def advance(self, Py_ssize_t n):
        self.buf.advance(n)
        self.drained = False

    def reset(self):
        """Forget all state and buffered bytes: ready for a new connection.

        Responses already returned stay valid (they keep their own memory)."""
        self.buf.drop(self.buf.end - self.buf.start)
        self.state = S_HEAD
        self.scan = 0
        self.head_request = False
        self.eof = False
        self.drained = False
        self.failure = None
        self.current = None
        self.assembly = None
        self.assembled = 0
        self.trailer_list = None
        self.trailer_bytes = 0
        self.interim_seen = False

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

    @property
    def pending(self):
        return self.buf.end - self.buf.start

    @property
    def read_buffer(self):
        """The ReadBuf behind ``buffer()``/``advance()`` (for codecs that fill it directly)."""
        return self.buf

    # ---- output -------------------------------------------------------------------------
    def next(self):
        """The next complete ``Response``, or None if more bytes are needed."""
        cdef Response r
        if self.failure is not None:
            raise self.failure
        r = self.step()
        if r is None:
            self.drained = True
            if self.eof and self.failure is None and not self.idle():
                self.fail(InvalidResponse("connection closed mid-response"))
        return r

    cdef int fail(self, exc) except -1:
        self.failure = exc
        raise exc

    cdef Response step(self):
        cdef ReadBuf b = self.buf
        cdef Response r
        cdef Py_ssize_t n
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
                if r.chunked:
                    self.current = r
                    self.assembly = None
                    self.assembled = 0
                    self.trailer_list = None
                    self.trailer_bytes = 0
                    self.state = S_CHUNK_SIZE
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
                if n < self.remaining:
                    b.reserve(self.remaining - n)          # make room for the whole body
                    return None
                r = self.current
                self.finish_body(r, b.slab, b.data + b.start, self.remaining)
                b.drop(self.remaining)
                return r
            elif self.state == S_UNTIL_CLOSE:
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
            else:
                if not self.chunked_step():
                    return None
                if self.state == S_HEAD:
                    r = self.current
                    self.current = None
                    if self.assembly is None:
                        self.finish_body(r, None, NULL, 0)
                    else:
                        self.finish_body(r, self.assembly, self.assembly.ptr, self.assembled)
                    r.trailer_list = self.trailer_list
                    self.assembly = None
                    return r

    cdef int finish_body(self, Response r, Slab slab, const char* ptr, Py_ssize_t n) except -1:
        if slab is not None:
            slab.pins += 1
            r.body_slab = slab
            r.body_ptr = ptr
        r.body_len = n
        self.current = None
        self.state = S_HEAD
        self.scan = 0
        return 0

    # ---- the head ---------------------------------------------------------------------
    cdef Response read_head(self):
        cdef ReadBuf b = self.buf
        cdef const char* p = b.data + b.start
        cdef Py_ssize_t avail = b.end - b.start
        cdef Py_ssize_t pos = self.scan, end = -1, line_start
        cdef const char* nl
        # Find the empty line that ends the head, checking line endings as we go.
        while pos < avail:
            nl = <const char*>memchr(p + pos, 10, avail - pos)
            if nl == NULL:
                break
            line_start = pos
            pos = nl - p + 1
            if nl - p - line_start == 0 or (nl - p - line_start == 1 and p[line_start] == 13):
                if self.strict and (nl - p - line_start == 0):
                    self.fail(InvalidResponse("bare LF line ending in the response head"))
                if line_start == 0:
                    self.fail(InvalidResponse("response starts with an empty line"))
                end = pos
                break
            if self.strict and p[nl - p - 1] != 13:
                self.fail(InvalidResponse("bare LF line ending in the response head"))
            self.scan = pos
        if end < 0:
            if avail > self.max_head_bytes:
                self.fail(HeadTooLarge(f"response head exceeds max_head_bytes={self.max_head_bytes}"))
            return None
        if end > self.max_head_bytes + 2:
            self.fail(HeadTooLarge(f"response head exceeds max_head_bytes={self.max_head_bytes}"))
        r = self.parse_head(p, end)
        b.slab.pins += 1
        r.head_slab = b.slab
        b.drop(end)
        self.scan = 0
        return r

    cdef Response parse_head(self, const char* p, Py_ssize_t n):
        cdef Response r = Response.__new__(Response)
        cdef Py_ssize_t pos, le, i, j, colon, a, z, ta, tz, last_a, last_z, count = 0, cap = 16
        cdef const char* line
        cdef Py_ssize_t len_line
        cdef long long cl = -1, v
        cdef bint te = False, te_chunked = False, conn_close = False, conn_keep = False
        cdef Field* fields
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
        # header lines: up to 16 fit inside the Response, more go to the heap
        r.fields = r.inline_fields
        pos = le + 1
        while pos < n:
            line = p + pos
            le = <const char*>memchr(line, 10, n - pos) - line
            len_line = le - 1 if le > 0 and line[le - 1] == 13 else le
            pos += le + 1
            if len_line == 0:
                break                                          # the empty line
            self.split_field(line, len_line, "header", &colon, &a, &z)
            if count == self.max_headers:
                self.fail(HeadTooLarge(f"more than max_headers={self.max_headers} headers"))
            if count == cap:
                cap *= 2
                if r.fields == r.inline_fields:
                    fields = <Field*>PyMem_Malloc(cap * sizeof(Field))
                    if fields == NULL:
                        raise MemoryError()
                    memcpy(fields, r.inline_fields, count * sizeof(Field))
                else:
                    fields = <Field*>PyMem_Realloc(r.fields, cap * sizeof(Field))
                    if fields == NULL:
                        raise MemoryError()
                r.fields = fields
            r.fields[count].name = line
            r.fields[count].name_len = colon
            r.fields[count].value = line + a
            r.fields[count].value_len = z - a
            count += 1
            r.nfields = count
            # the headers that decide framing
            if ascii_ieq(line, colon, "content-length", 14):
                if z == a:
                    self.fail(InvalidResponse("empty Content-Length"))
                v = 0
                for i in range(a, z):
                    if not (48 <= line[i] <= 57):
                        self.fail(InvalidResponse(f"invalid Content-Length {PyBytes_FromStringAndSize(line + a, min(z - a, 40))!r}"))
                    if v > (9223372036854775807 - (line[i] - 48)) // 10:
                        self.fail(InvalidResponse(f"Content-Length {PyBytes_FromStringAndSize(line + a, min(z - a, 40))!r} "
                                                  "does not fit in 63 bits"))
                    v = v * 10 + (line[i] - 48)
                if cl >= 0 and cl != v:
                    self.fail(InvalidResponse(f"two different Content-Length values ({cl} and {v})"))
                cl = v
            elif ascii_ieq(line, colon, "transfer-encoding", 17):
                te = True
                # chunked must be the last coding of the last Transfer-Encoding
                # header; empty list elements ("chunked,") do not count.
                last_a = last_z = -1
                i = a
                while i <= z:
                    j = i
                    while j < z and line[j] != 44:
                        j += 1
                    ta, tz = i, j
                    while ta < tz and (line[ta] == 32 or line[ta] == 9):
                        ta += 1
                    while tz > ta and (line[tz - 1] == 32 or line[tz - 1] == 9):
                        tz -= 1
                    if tz > ta:
                        last_a, last_z = ta, tz
                    i = j + 1
                if last_a >= 0:
                    te_chunked = ascii_ieq(line + last_a, last_z - last_a, "chunked", 7)
            elif ascii_ieq(line, colon, "connection", 10):
                if has_token(line + a, z - a, "close", 5):
                    conn_close = True
                if has_token(line + a, z - a, "keep-alive", 10):
                    conn_keep = True
        if te and cl >= 0:
            self.fail(InvalidResponse("both Content-Length and Transfer-Encoding (a request smuggling shape)"))
        r.chunked = te and te_chunked
        if te and not te_chunked:
            cl = -1                                            # read until close
        r.cl = cl
        if cl > self.max_body_size and not (self.head_request or r.status == 204 or r.status == 304
                                            or r.status < 200):
            self.fail(BodyTooLarge(f"Content-Length {cl} exceeds max_body_size={self.max_body_size}"))
        r.keep_alive = (not conn_close) if r.version == 11 else (conn_keep and not conn_close)
        if te and not te_chunked:
            r.keep_alive = False
        return r

    # ---- chunked bodies -----------------------------------------------------------------
    cdef bint chunked_step(self) except -1:
        """Advance the chunked decoder; True once the body (and trailers) ended."""
        cdef ReadBuf b = self.buf
        cdef const char* p
        cdef const char* nl
        cdef Py_ssize_t avail, le, len_line, i, take
        cdef long long size
        cdef int d, digits
        while True:
            p = b.data + b.start
            avail = b.end - b.start
            if self.state == S_CHUNK_SIZE:
                nl = <const char*>memchr(p, 10, avail)
                if nl == NULL:
                    if avail > MAX_CHUNK_LINE:
                        self.fail(InvalidResponse("chunk size line too long"))
                    return False
                le = nl - p
                if le > MAX_CHUNK_LINE:
                    self.fail(InvalidResponse("chunk size line too long"))
                len_line = le - 1 if le > 0 and p[le - 1] == 13 else le
                if self.strict and len_line == le:
                    self.fail(InvalidResponse("bare LF after a chunk size"))
                size = 0
                i = 0
                digits = 0
                while i < len_line:
                    d = p[i]
                    if 48 <= d <= 57:
                        d -= 48
                    elif 97 <= d <= 102:
                        d -= 87
                    elif 65 <= d <= 70:
                        d -= 55
                    else:
                        break
                    if size or d:
                        digits += 1                   # leading zeros do not count
                    if digits > 15:
                        self.fail(InvalidResponse("chunk size too large"))
                    size = size * 16 + d
                    i += 1
                if i == 0:
                    self.fail(InvalidResponse(f"invalid chunk size line {PyBytes_FromStringAndSize(p, min(len_line, 40))!r}"))
                # only whitespace, then a ';' chunk extension, may follow the size
                while i < len_line and (p[i] == 32 or p[i] == 9):
                    i += 1
                if i < len_line and p[i] != 59:
                    self.fail(InvalidResponse(f"invalid chunk size line {PyBytes_FromStringAndSize(p, min(len_line, 40))!r}"))
                while i < len_line:
                    if p[i] == 13 or p[i] == 0:
                        self.fail(InvalidResponse("control character in a chunk extension"))
                    i += 1
                if self.assembled + size > self.max_body_size:
                    self.fail(BodyTooLarge(f"chunked body exceeds max_body_size={self.max_body_size}"))
                b.drop(le + 1)
                if size == 0:
                    self.state = S_TRAILERS
                else:
                    self.remaining = size
                    self.grow_assembly(self.assembled + size)
                    self.state = S_CHUNK_DATA
            elif self.state == S_CHUNK_DATA:
                if avail == 0:
                    return False
                take = avail if avail < self.remaining else self.remaining
                memcpy(self.assembly.ptr + self.assembled, p, take)
                self.assembled += take
                self.remaining -= take
                b.drop(take)
                if self.remaining == 0:
                    self.state = S_CHUNK_CRLF
            elif self.state == S_CHUNK_CRLF:
                if avail < 1 or (p[0] == 13 and avail < 2):
                    return False
                if p[0] == 13 and p[1] == 10:
                    b.drop(2)
                elif p[0] == 10 and not self.strict:
                    b.drop(1)
                else:
                    self.fail(InvalidResponse("chunk data not followed by CRLF"))
                self.state = S_CHUNK_SIZE
            else:                                              # S_TRAILERS
                nl = <const char*>memchr(p, 10, avail)
                if nl == NULL:
                    if self.trailer_bytes + avail > self.max_head_bytes:
                        self.fail(HeadTooLarge("chunked trailers exceed max_head_bytes"))
                    return False
                le = nl - p
                len_line = le - 1 if le > 0 and p[le - 1] == 13 else le
                if self.strict and len_line == le:
                    self.fail(InvalidResponse("bare LF in chunked trailers"))
                self.trailer_bytes += le + 1
                if self.trailer_bytes > self.max_head_bytes:
                    self.fail(HeadTooLarge("chunked trailers exceed max_head_bytes"))
                if len_line == 0:
                    b.drop(le + 1)
                    self.state = S_HEAD
                    return True
                self.add_trailer(p, len_line)
                b.drop(le + 1)

    cdef int split_field(self, const char* line, Py_ssize_t n, str what, Py_ssize_t* colon_out,
                         Py_ssize_t* a_out, Py_ssize_t* z_out) except -1:
        """Validate one ``name: value`` line (a header or a trailer): the colon's
        index and the value's bounds without surrounding whitespace."""
        cdef Py_ssize_t i, colon = -1, a, z
        if line[0] == 32 or line[0] == 9:
            self.fail(InvalidResponse(f"obsolete line folding (a {what} line starting with whitespace)"))
        for i in range(n):
            if line[i] == 58:
                colon = i
                break
            if not is_tchar(<unsigned char>line[i]):
                self.fail(InvalidResponse(
                    f"invalid character {PyBytes_FromStringAndSize(line + i, 1)!r} in {what} name "
                    f"{PyBytes_FromStringAndSize(line, min(n, 60))!r}"))
        if colon <= 0:
            self.fail(InvalidResponse(
                f"{what} line without a name and colon: {PyBytes_FromStringAndSize(line, min(n, 60))!r}"))
        a, z = colon + 1, n
        while a < z and (line[a] == 32 or line[a] == 9):
            a += 1
        while z > a and (line[z - 1] == 32 or line[z - 1] == 9):
            z -= 1
        for i in range(a, z):
            if (<unsigned char>line[i] < 32 and line[i] != 9) or line[i] == 127:
                self.fail(InvalidResponse(f"control character in a {what} value"))
        colon_out[0], a_out[0], z_out[0] = colon, a, z
        return 0

    cdef int add_trailer(self, const char* line, Py_ssize_t n) except -1:
        cdef Py_ssize_t i, colon = -1, a, z
        self.split_field(line, n, "trailer", &colon, &a, &z)
        if self.trailer_list is None:
            self.trailer_list = []
        if len(self.trailer_list) >= self.max_headers:
            self.fail(HeadTooLarge(f"more than max_headers={self.max_headers} trailers"))
        self.trailer_list.append((PyUnicode_DecodeLatin1(line, colon, NULL),
                                  PyUnicode_DecodeLatin1(line + a, z - a, NULL)))
        return 0

    cdef int grow_assembly(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t size
        cdef char* p
        if self.assembly is None:
            size = need if need > 4096 else 4096
            self.assembly = new_slab(size)
        elif need > self.assembly.size:
            size = self.assembly.size * 2
            while size < need:
                size *= 2
            if size > self.max_body_size and need <= self.max_body_size:
                size = self.max_body_size
            p = <char*>PyMem_Realloc(self.assembly.ptr, size)
            if p == NULL:
                raise MemoryError()
            self.assembly.ptr = p
            self.assembly.size = size
        return 0
