# cython: boundscheck=False, wraparound=False, initializedcheck=False
# All indexing is pointer arithmetic inside ranges whose lengths were checked
# first (a located line, the unread bytes of a buffer).
"""What HTTP/1.x requests and responses share: the head's header fields,
parsed in place, the framing they imply, and a zero-copy body.

``HttpMessage`` keeps the offsets of each field inside the receive buffer and
builds Python strings only when asked (``header(name)``, ``headers()``).
"""

cimport cython
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeLatin1, PyUnicode_DecodeUTF8
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.limits cimport LLONG_MAX
from libc.string cimport memchr, memcpy

from nexus_net._ascii cimport ascii_ieq, is_tchar
from nexus_net.buf cimport ReadBuf, Slab

import orjson

from nexus_net.errors import BufferFullError
from nexus_net.http.errors import ReadBufferFull

cdef extern from "Python.h":
    object PyMemoryView_FromObject(object obj)
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL

cdef object _loads = orjson.loads


@cython.no_gc                            # see _message.pxd
cdef class HttpMessage:
    """Head fields and body of one HTTP/1.x message (``Response`` and
    ``IncomingRequest`` derive from it). ``body`` is a read-only view that stays
    valid and unchanged as long as the message (or the view) is alive."""

    def __dealloc__(self):
        if self.fields != NULL and self.fields != self.inline_fields:
            PyMem_Free(self.fields)
        if self.head_slab is not None:
            self.head_slab.pins -= 1
        if self.body_slab is not None:
            self.body_slab.pins -= 1

    cdef int set_body(self, Slab slab, const char* ptr, Py_ssize_t n) except -1:
        if slab is not None:
            slab.pins += 1
            self.body_slab = slab
            self.body_ptr = ptr
        self.body_len = n
        return 0

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, <void*>self.body_ptr, self.body_len, 1, flags)

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
        if self.still_encoded:
            _refuse_encoded(self, "text()")
        if encoding == "utf-8":
            return PyUnicode_DecodeUTF8(self.body_ptr, self.body_len, NULL)
        return self.bytes().decode(encoding)

    def json(self):
        """``orjson.loads`` of the body, straight from the buffer."""
        if self.still_encoded:
            _refuse_encoded(self, "json()")
        return _loads(PyMemoryView_FromObject(self))

    def __len__(self):
        return self.body_len


def _refuse_encoded(HttpMessage m, str what):
    from nexus_net.http.errors import ContentEncodingError
    raise ContentEncodingError(
        f"{what} of a body that is still {m.header('content-encoding')!r}-encoded "
        "(the reader was made with decode=False; .body holds the compressed bytes)")


cdef class MessageReader:
    """Input side of ``ResponseReader`` and ``RequestReader``: ``feed(data)``,
    or ``buffer()`` then ``advance(n)`` to receive straight into it."""

    def __init__(self, Py_ssize_t buffer_size, Py_ssize_t max_body_size, Py_ssize_t max_headers,
                 Py_ssize_t max_head_bytes, bint strict):
        if buffer_size < 256 or max_body_size < 0 or max_headers < 1 or max_head_bytes < 64:
            raise ValueError("need buffer_size >= 256, max_body_size >= 0, max_headers >= 1, "
                             "max_head_bytes >= 64")
        self.max_body_size = max_body_size
        self.max_headers = max_headers
        self.max_head_bytes = max_head_bytes
        self.strict = strict
        # Room for one message at its limits plus bulk feeds (pipelined
        # messages, big socket reads) behind it.
        self.buf = ReadBuf(buffer_size, max_head_bytes + max_body_size + max(buffer_size, 4 * 1024 * 1024))
        self.failure = None

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
        """A writable view of the free tail: fill it, then ``advance(n)``."""
        try:
            return self.buf.writable(min_free)
        except BufferFullError as exc:
            raise ReadBufferFull(f"{exc}; call next() between reads") from None

    def advance(self, Py_ssize_t n):
        self.buf.advance(n)
        self.drained = False

    @property
    def pending(self):
        """Bytes received and not yet parsed."""
        return self.buf.end - self.buf.start

    @property
    def read_buffer(self):
        """The ReadBuf behind ``buffer()``/``advance()`` (for codecs that fill it directly)."""
        return self.buf

    cdef int fail(self, exc) except -1:
        self.failure = exc
        raise exc

    cdef Py_ssize_t head_length(self, object error, object too_large, str what) except -2:
        """The length of the complete head at the front of the buffer, or -1
        while it is incomplete; ``too_large`` once it exceeds the limit."""
        cdef ReadBuf b = self.buf
        cdef Py_ssize_t avail = b.end - b.start
        cdef Py_ssize_t end = find_head_end(b.data + b.start, avail, &self.scan, self.strict, error, what)
        # An incomplete head is held to the same bound as a complete one (its
        # empty line may end 2 bytes past the limit): the verdict never
        # depends on how the bytes were split.
        if (avail if end < 0 else end) > self.max_head_bytes + 2:
            self.fail(too_large(f"{what} head exceeds max_head_bytes={self.max_head_bytes}"))
        return end

    cdef int take_head(self, HttpMessage m, Py_ssize_t end) except -1:
        """``m`` was parsed from the first ``end`` bytes: it pins them and the
        reader moves past them."""
        self.buf.slab.pins += 1
        m.head_slab = self.buf.slab
        self.buf.drop(end)
        self.scan = 0
        return 0


cdef Py_ssize_t find_head_end(const char* p, Py_ssize_t avail, Py_ssize_t* scan, bint strict,
                              object error, str what) except -2:
    """The length of the head (through its empty line) in p[:avail], or -1 if
    it is not complete yet. Line endings are checked as lines are found;
    ``scan`` remembers how far the search got, so bytes are looked at once."""
    cdef Py_ssize_t pos = scan[0], line_start, le
    cdef const char* nl
    while pos < avail:
        nl = <const char*>memchr(p + pos, 10, avail - pos)
        if nl == NULL:
            break
        line_start = pos
        le = nl - p - line_start
        pos = nl - p + 1
        if le == 0 or (le == 1 and p[line_start] == 13):
            if strict and le == 0:
                raise error(f"bare LF line ending in the {what} head")
            if line_start == 0:
                raise error(f"{what} starts with an empty line")
            return pos
        if strict and p[nl - p - 1] != 13:
            raise error(f"bare LF line ending in the {what} head")
        scan[0] = pos
    return -1


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


cdef int parse_fields(HttpMessage m, const char* p, Py_ssize_t pos, Py_ssize_t n,
                      Py_ssize_t max_headers, object error, object too_large, Framing* fr) except -1:
    """Parse the header lines of p[pos:n] (a complete head) into ``m.fields``
    and the framing they declare. Up to 8 fields fit inside the message
    (keeping it small enough for Python's small-object allocator); more go to
    the heap."""
    cdef Py_ssize_t le, i, j, colon, a, z, ta, tz, last_a, last_z, count = 0, cap = 8
    cdef const char* line
    cdef Py_ssize_t len_line
    cdef long long cl = -1, v
    cdef Field* fields
    fr.content_length = -1
    fr.te = fr.te_chunked = fr.conn_close = fr.conn_keep = fr.expect_continue = False
    fr.ce_index = -1
    fr.ce_count = 0
    m.fields = m.inline_fields
    while pos < n:
        line = p + pos
        le = <const char*>memchr(line, 10, n - pos) - line
        len_line = le - 1 if le > 0 and line[le - 1] == 13 else le
        pos += le + 1
        if len_line == 0:
            break                                          # the empty line
        split_field(line, len_line, "header", error, &colon, &a, &z)
        if count == max_headers:
            raise too_large(f"more than max_headers={max_headers} headers")
        if count == cap:
            cap *= 2
            if m.fields == m.inline_fields:
                fields = <Field*>PyMem_Malloc(cap * sizeof(Field))
                if fields == NULL:
                    raise MemoryError()
                memcpy(fields, m.inline_fields, count * sizeof(Field))
            else:
                fields = <Field*>PyMem_Realloc(m.fields, cap * sizeof(Field))
                if fields == NULL:
                    raise MemoryError()
            m.fields = fields
        m.fields[count].name = line
        m.fields[count].name_len = colon
        m.fields[count].value = line + a
        m.fields[count].value_len = z - a
        count += 1
        m.nfields = count
        # the headers that decide framing
        if ascii_ieq(line, colon, "content-length", 14):
            if z == a:
                raise error("empty Content-Length")
            v = 0
            for i in range(a, z):
                if not (48 <= line[i] <= 57):
                    raise error(f"invalid Content-Length {PyBytes_FromStringAndSize(line + a, min(z - a, 40))!r}")
                if v > (LLONG_MAX - (line[i] - 48)) // 10:
                    raise error(f"Content-Length {PyBytes_FromStringAndSize(line + a, min(z - a, 40))!r} "
                                "does not fit in 63 bits")
                v = v * 10 + (line[i] - 48)
            if cl >= 0 and cl != v:
                raise error(f"two different Content-Length values ({cl} and {v})")
            cl = v
        elif ascii_ieq(line, colon, "transfer-encoding", 17):
            fr.te = True
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
                fr.te_chunked = ascii_ieq(line + last_a, last_z - last_a, "chunked", 7)
        elif ascii_ieq(line, colon, "connection", 10):
            if has_token(line + a, z - a, "close", 5):
                fr.conn_close = True
            if has_token(line + a, z - a, "keep-alive", 10):
                fr.conn_keep = True
        elif ascii_ieq(line, colon, "expect", 6):
            if ascii_ieq(line + a, z - a, "100-continue", 12):
                fr.expect_continue = True
        elif ascii_ieq(line, colon, "content-encoding", 16):
            fr.ce_index = count - 1
            fr.ce_count += 1
    if fr.te and cl >= 0:
        raise error("both Content-Length and Transfer-Encoding (a request smuggling shape)")
    fr.content_length = cl
    return 0


cdef int split_field(const char* line, Py_ssize_t n, str what, object error, Py_ssize_t* colon_out,
                     Py_ssize_t* a_out, Py_ssize_t* z_out) except -1:
    """Validate one ``name: value`` line (a header or a trailer): the colon's
    index and the value's bounds without surrounding whitespace."""
    cdef Py_ssize_t i, colon = -1, a, z
    if line[0] == 32 or line[0] == 9:
        raise error(f"obsolete line folding (a {what} line starting with whitespace)")
    for i in range(n):
        if line[i] == 58:
            colon = i
            break
        if not is_tchar(<unsigned char>line[i]):
            raise error(f"invalid character {PyBytes_FromStringAndSize(line + i, 1)!r} in {what} name "
                        f"{PyBytes_FromStringAndSize(line, min(n, 60))!r}")
    if colon <= 0:
        raise error(f"{what} line without a name and colon: {PyBytes_FromStringAndSize(line, min(n, 60))!r}")
    a, z = colon + 1, n
    while a < z and (line[a] == 32 or line[a] == 9):
        a += 1
    while z > a and (line[z - 1] == 32 or line[z - 1] == 9):
        z -= 1
    for i in range(a, z):
        if (<unsigned char>line[i] < 32 and line[i] != 9) or line[i] == 127:
            raise error(f"control character in a {what} value")
    colon_out[0], a_out[0], z_out[0] = colon, a, z
    return 0
