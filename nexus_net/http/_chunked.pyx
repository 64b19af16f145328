# cython: boundscheck=False, wraparound=False, initializedcheck=False
# All indexing is pointer arithmetic inside p[:avail] after explicit checks.
"""Decoder of the HTTP/1.1 chunked transfer coding, usable alone.

Chunk data is copied once, into a buffer of its own (the decoded body);
chunk extensions are ignored, trailers are parsed and kept. The response and
request parsers drive it through its cdef API on their receive buffer; on its
own, ``feed(data)`` takes bytes and says how many belonged to the body.
"""

from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.string cimport memchr, memcpy

from nexus_net.buf cimport ReadBuf, Slab, new_slab
from nexus_net.http._message cimport split_field

from nexus_net.http.errors import BodyTooLarge, HeadTooLarge, HttpError, InvalidMessage

cdef enum:
    C_SIZE = 0
    C_DATA = 1
    C_CRLF = 2
    C_TRAILERS = 3
    C_DONE = 4

cdef Py_ssize_t MAX_CHUNK_LINE = 4096


cdef class _BodyView:
    """A read-only view of the decoded bytes that pins their slab."""
    cdef Slab slab
    cdef Py_ssize_t n

    def __dealloc__(self):
        if self.slab is not None:
            self.slab.pins -= 1

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, <void*>self.slab.ptr if self.slab is not None else NULL,
                          self.n, 1, flags)


cdef class ChunkedDecoder:
    """Decodes one chunked body: size lines, data, the last chunk, trailers.

    Alone: ``n = dec.feed(data)`` returns how many bytes of ``data`` belonged
    to the chunked body (an incomplete line is kept inside until the next
    feed); once ``finished``, ``data[n:]`` is whatever follows the body.
    ``body`` is the decoded body so far, ``trailers()`` the trailer fields.
    Malformed input raises ``InvalidMessage`` (sticky, like the parsers); a
    body over ``max_body_size`` raises ``BodyTooLarge`` before it is copied.
    """

    def __init__(self, *, Py_ssize_t max_body_size=16 * 1024 * 1024, Py_ssize_t max_trailer_bytes=16 * 1024,
                 Py_ssize_t max_trailers=100, bint strict=True):
        if max_body_size < 0 or max_trailer_bytes < 0 or max_trailers < 0:
            raise ValueError("limits must not be negative")
        self.max_body_size = max_body_size
        self.max_trailer_bytes = max_trailer_bytes
        self.max_trailers = max_trailers
        self.strict = strict
        self.error = InvalidMessage
        self.too_large = HeadTooLarge
        self.restart()

    cdef int restart(self) except -1:
        self.state = C_SIZE
        self.remaining = 0
        self.assembly = None
        self.assembled = 0
        self.trailer_list = None
        self.trailer_bytes = 0
        self.failure = None
        if self.pending is not None:
            self.pending.drop(self.pending.end - self.pending.start)
        return 0

    cdef bint done(self) noexcept:
        return self.state == C_DONE

    # ---- standalone ----------------------------------------------------------------------
    def reset(self):
        """Ready for another chunked body (a body already taken stays valid)."""
        self.restart()

    @property
    def finished(self):
        """True once the last chunk and the trailers have been read."""
        return self.state == C_DONE

    @property
    def body(self):
        """The body decoded so far, as a read-only memoryview (zero-copy; it
        stays valid and unchanged while it lives)."""
        cdef _BodyView v = _BodyView.__new__(_BodyView)
        if self.assembly is not None:
            self.assembly.pins += 1
            v.slab = self.assembly
        v.n = self.assembled
        return memoryview(v)

    def trailers(self):
        """Trailer fields, as (name, value) strings."""
        return list(self.trailer_list) if self.trailer_list is not None else []

    def feed(self, data):
        """Decode from ``data``; returns how many of its bytes belonged to the body."""
        cdef const unsigned char[::1] src = data
        cdef Py_ssize_t n = src.shape[0], pos = 0, take, room, used
        cdef const char* p = <const char*>&src[0] if n else NULL
        cdef const char* nl
        cdef ReadBuf b = self.pending
        cdef char* dst
        if self.failure is not None:
            raise self.failure
        if self.state == C_DONE or n == 0:
            return 0
        try:
            if b is not None and b.end > b.start:
                # An incomplete line waits: complete it with the bytes up to
                # the next LF (no more), decode it, then go on in place. The
                # line is bounded: decode() refuses it once it is too long.
                nl = <const char*>memchr(p, 10, n)
                take = nl - p + 1 if nl != NULL else n
                room = b.max_capacity - (b.end - b.start)
                if take > room:
                    take = room
                dst = b.reserve(take)
                memcpy(dst, p, take)
                b.end += take
                used = self.decode(b.data + b.start, b.end - b.start)
                b.drop(used)
                if b.end > b.start:
                    return take        # still incomplete: all of it is kept
                pos = take
            if pos < n and self.state != C_DONE:
                pos += self.decode(p + pos, n - pos)
                if pos < n and self.state != C_DONE:
                    # an incomplete line at the end: keep it for the next feed
                    if b is None:
                        b = self.pending = ReadBuf(256, MAX_CHUNK_LINE + self.max_trailer_bytes + 256)
                    dst = b.reserve(n - pos)
                    memcpy(dst, p + pos, n - pos)
                    b.end += n - pos
                    pos = n
            return pos
        except HttpError as exc:
            self.failure = exc
            raise

    # ---- the decoder -----------------------------------------------------------------------
    cdef Py_ssize_t decode(self, const char* p, Py_ssize_t avail) except -1:
        """Consume what it can of p[:avail]; returns the bytes consumed.
        Stops at an incomplete size or trailer line, and after the body ends."""
        cdef const char* start = p
        cdef const char* nl
        cdef Py_ssize_t le, len_line, i, take
        cdef long long size
        cdef int d, digits
        while True:
            if self.state == C_SIZE:
                nl = <const char*>memchr(p, 10, avail)
                if nl == NULL:
                    if avail > MAX_CHUNK_LINE:
                        raise self.error("chunk size line too long")
                    break
                le = nl - p
                if le > MAX_CHUNK_LINE:
                    raise self.error("chunk size line too long")
                len_line = le - 1 if le > 0 and p[le - 1] == 13 else le
                if self.strict and len_line == le:
                    raise self.error("bare LF after a chunk size")
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
                        raise self.error("chunk size too large")
                    size = size * 16 + d
                    i += 1
                if i == 0:
                    raise self.error(f"invalid chunk size line {PyBytes_FromStringAndSize(p, min(len_line, 40))!r}")
                # only whitespace, then a ';' chunk extension, may follow the size
                while i < len_line and (p[i] == 32 or p[i] == 9):
                    i += 1
                if i < len_line and p[i] != 59:
                    raise self.error(f"invalid chunk size line {PyBytes_FromStringAndSize(p, min(len_line, 40))!r}")
                while i < len_line:
                    if p[i] == 13 or p[i] == 0:
                        raise self.error("control character in a chunk extension")
                    i += 1
                if self.assembled + size > self.max_body_size:
                    raise BodyTooLarge(f"chunked body exceeds max_body_size={self.max_body_size}")
                p += le + 1
                avail -= le + 1
                if size == 0:
                    self.state = C_TRAILERS
                else:
                    self.remaining = size
                    self.grow_assembly(self.assembled + size)
                    self.state = C_DATA
            elif self.state == C_DATA:
                if avail == 0:
                    break
                take = avail if avail < self.remaining else self.remaining
                memcpy(self.assembly.ptr + self.assembled, p, take)
                self.assembled += take
                self.remaining -= take
                p += take
                avail -= take
                if self.remaining == 0:
                    self.state = C_CRLF
            elif self.state == C_CRLF:
                if avail < 1 or (p[0] == 13 and avail < 2):
                    break
                if p[0] == 13 and p[1] == 10:
                    p += 2
                    avail -= 2
                elif p[0] == 10 and not self.strict:
                    p += 1
                    avail -= 1
                else:
                    raise self.error("chunk data not followed by CRLF")
                self.state = C_SIZE
            elif self.state == C_TRAILERS:
                nl = <const char*>memchr(p, 10, avail)
                if nl == NULL:
                    # (+2: the CRLF that ends the body is not a trailer)
                    if self.trailer_bytes + avail > self.max_trailer_bytes + 2:
                        raise self.too_large(f"chunked trailers exceed {self.max_trailer_bytes} bytes")
                    break
                le = nl - p
                len_line = le - 1 if le > 0 and p[le - 1] == 13 else le
                if self.strict and len_line == le:
                    raise self.error("bare LF in chunked trailers")
                if len_line != 0:
                    self.trailer_bytes += le + 1
                    if self.trailer_bytes > self.max_trailer_bytes:
                        raise self.too_large(f"chunked trailers exceed {self.max_trailer_bytes} bytes")
                    self.add_trailer(p, len_line)
                p += le + 1
                avail -= le + 1
                if len_line == 0:
                    self.state = C_DONE
                    break
            else:                                              # C_DONE
                break
        return p - start

    cdef int add_trailer(self, const char* line, Py_ssize_t n) except -1:
        cdef Py_ssize_t colon, a, z
        split_field(line, n, "trailer", self.error, &colon, &a, &z)
        if self.trailer_list is None:
            self.trailer_list = []
        if len(self.trailer_list) >= self.max_trailers:
            raise self.too_large(f"more than {self.max_trailers} trailers")
        self.trailer_list.append((PyUnicode_DecodeLatin1(line, colon, NULL),
                                  PyUnicode_DecodeLatin1(line + a, z - a, NULL)))
        return 0

    cdef int grow_assembly(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t size
        cdef char* p
        cdef Slab fresh
        if self.assembly is None:
            size = need if need > 4096 else 4096
            self.assembly = new_slab(size)
        elif need > self.assembly.size:
            size = self.assembly.size * 2
            while size < need:
                size *= 2
            if size > self.max_body_size and need <= self.max_body_size:
                size = self.max_body_size
            if self.assembly.pins:
                # someone holds a view of the body so far: never move it under them
                fresh = new_slab(size)
                memcpy(fresh.ptr, self.assembly.ptr, self.assembled)
                self.assembly = fresh
            else:
                p = <char*>PyMem_Realloc(self.assembly.ptr, size)
                if p == NULL:
                    raise MemoryError()
                self.assembly.ptr = p
                self.assembly.size = size
        return 0
