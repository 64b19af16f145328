# cython: boundscheck=False, wraparound=False, initializedcheck=False
# Indexing is pointer arithmetic; every access is preceded by an explicit check
# of the bytes available (``avail``/``have``), so bounds checks are not needed.
"""Sans-IO RFC 6455 frame parser: bytes in, ``Message`` objects out."""

cimport cython
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

from nexus_net.buf cimport ReadBuf, Slab, new_slab
from nexus_net.ws._deflate cimport PerMessageDeflate
from nexus_net.ws._mask cimport mask_copy
from nexus_net.ws._codes cimport valid_close_code
from nexus_net.ws._utf8 cimport UTF8_ACCEPT, UTF8_REJECT, utf8_feed

import orjson

from nexus_net.ws.enums import Kind, Role
from nexus_net.ws.errors import InvalidDataError, MessageTooBigError, ProtocolError

cdef extern from "Python.h":
    object PyMemoryView_FromObject(object obj)

cdef object _loads = orjson.loads
cdef tuple _KINDS = (None, Kind.TEXT, Kind.BINARY, None, None, None, None, None,
                     Kind.CLOSE, Kind.PING, Kind.PONG)
cdef object _ROLE_CLIENT = Role.CLIENT

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
DEFAULT_BUFFER_SIZE = 64 * 1024
cdef Py_ssize_t MAX_HEADER = 14
cdef Py_ssize_t SMALL_JSON = 512
cdef object _json_scratch = bytearray(SMALL_JSON)
cdef Py_ssize_t MIN_READ_SLACK = 256 * 1024

_OPCODE_NAMES = {0x0: "continuation", 0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xA: "pong"}


@cython.final
@cython.freelist(64)
@cython.no_gc
cdef class Message:
    """A complete WebSocket message (or control frame) as received.

    ``data`` is a read-only ``memoryview`` of the payload where it landed in
    the receive buffer (no copy). Lifetime rule: the bytes stay valid and
    unchanged for as long as the message, or any view taken from it, is
    alive. The reader never writes over memory a message still looks at; it
    continues in fresh memory instead. Use ``bytes()``/``text()`` to copy.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("Message objects are created by FrameReader")

    def __dealloc__(self):
        if self.slab is not None:
            self.slab.pins -= 1

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, <void*>self.ptr, self.length, 1, flags)

    @property
    def kind(self):
        """``Kind.TEXT``, ``BINARY``, ``PING``, ``PONG`` or ``CLOSE``."""
        return _KINDS[self.opcode]

    @property
    def data(self):
        """The payload as a read-only memoryview (zero-copy)."""
        return PyMemoryView_FromObject(self)

    def bytes(self):
        """A copy of the payload as ``bytes``."""
        return PyBytes_FromStringAndSize(self.ptr, self.length)

    def __bytes__(self):
        return PyBytes_FromStringAndSize(self.ptr, self.length)

    def text(self):
        """The payload decoded as UTF-8 (already validated for TEXT messages)."""
        return PyUnicode_DecodeUTF8(self.ptr, self.length, NULL)

    def json(self):
        """The payload parsed by ``orjson.loads`` straight from the buffer."""
        global _json_scratch
        cdef object scratch
        if self.length <= SMALL_JSON:
            # A memoryview is two GC-tracked objects. For small payloads it is
            # cheaper to copy into a reused bytearray: no allocation at all.
            # orjson keeps no reference to its input, except inside an error
            # it raises: then the scratch is handed over to that error and a
            # fresh one is made, so the error's document never changes.
            scratch = _json_scratch
            PyByteArray_Resize(scratch, self.length)
            memcpy(PyByteArray_AS_STRING(scratch), self.ptr, self.length)
            try:
                return _loads(scratch)
            except BaseException:
                _json_scratch = bytearray(SMALL_JSON)
                raise
        return _loads(PyMemoryView_FromObject(self))

    @property
    def close_code(self):
        """For CLOSE: the status code (1005 when the frame carried none); else None."""
        if self.opcode != 8:
            return None
        if self.length < 2:
            return 1005
        return (<unsigned char>self.ptr[0] << 8) | <unsigned char>self.ptr[1]

    @property
    def close_reason(self):
        """For CLOSE: the reason text ('' when none); else None."""
        if self.opcode != 8:
            return None
        if self.length <= 2:
            return ""
        return PyUnicode_DecodeUTF8(self.ptr + 2, self.length - 2, NULL)

    def __len__(self):
        return self.length

    def __repr__(self):
        cdef Py_ssize_t n = self.length if self.length < 40 else 40
        preview = PyBytes_FromStringAndSize(self.ptr, n)
        more = "..." if self.length > n else ""
        return f"<Message {_KINDS[self.opcode].name} {self.length} bytes {preview!r}{more}>"


cdef inline Message make_message(int opcode, Slab slab, const char* ptr, Py_ssize_t n):
    cdef Message m = Message.__new__(Message)
    m.opcode = opcode
    m.slab = slab
    slab.pins += 1
    m.ptr = ptr
    m.length = n
    return m


@cython.final
cdef class FrameReader:
    """Incremental RFC 6455 parser for one direction of one connection.

    Feed bytes with ``feed(data)``, or write them straight into ``buffer()``
    and call ``advance(n)``; then call ``next()`` (or iterate) to get complete
    messages. ``next()`` returns ``None`` when more bytes are needed.

    * Fragmented messages are reassembled; control frames that arrive in the
      middle of one are returned as they come.
    * TEXT payloads are checked as UTF-8 as bytes arrive, so invalid data is
      reported before the rest of the frame or message is received.
    * A frame or message over its limit is refused from its header alone.
    * Any violation raises a ``ProtocolError`` subclass whose ``close_code``
      is the code to close with; the reader then stays failed.
    """

    def __init__(self, role, *, Py_ssize_t max_message_size=DEFAULT_MAX_MESSAGE_SIZE,
                 max_frame_size=None, Py_ssize_t buffer_size=DEFAULT_BUFFER_SIZE,
                 Py_ssize_t backlog=0, PerMessageDeflate extension=None):
        role = Role(role)
        if max_message_size < 0:
            raise ValueError(f"max_message_size must be >= 0, got {max_message_size}")
        if max_frame_size is None:
            max_frame_size = max_message_size
        if not 0 <= max_frame_size <= max_message_size:
            raise ValueError(
                f"max_frame_size must be between 0 and max_message_size ({max_message_size}), "
                f"got {max_frame_size}")
        if buffer_size < 256:
            raise ValueError(f"buffer_size must be >= 256, got {buffer_size}")
        self.role_obj = role
        self.expect_masked = role is not _ROLE_CLIENT
        self.max_message_size = max_message_size
        self.max_frame_size = max_frame_size
        if backlog < 0:
            raise ValueError(f"backlog must be >= 0, got {backlog}")
        # A whole frame must fit (its payload is handed out in place), plus room
        # for reads behind it; a transport that lets up to `backlog` unread
        # bytes pile up before it pauses reading says so.
        # A compressed frame may be larger than the bytes it carries
        # (incompressible data: zlib's stored blocks cost 5 bytes per 2 KiB at
        # memLevel 5; a compressor that uses fixed Huffman codes for it, 9 bits
        # per byte), so a message at the limit still gets through compressed.
        self.max_compressed_frame = self.max_frame_size + (self.max_frame_size >> 3) + 64
        cap = MAX_HEADER + self.max_compressed_frame + backlog + max(buffer_size, MIN_READ_SLACK)
        self.buf = ReadBuf(buffer_size, cap)
        self.in_payload = False
        self.m_opcode = 0
        self.m_buf = None
        self.m_len = 0
        self.utf8_state = UTF8_ACCEPT
        self.close_received = False
        self.failure = None
        self.extension = extension

    def set_extension(self, PerMessageDeflate extension):
        """Use the negotiated permessage-deflate codec from now on (before the
        first frame is parsed); ``None`` turns it off."""
        if self.in_payload or self.m_opcode != 0:
            raise RuntimeError("set_extension() in the middle of a message")
        self.extension = extension

    # ---- input -----------------------------------------------------------
    def feed(self, data):
        """Copy received bytes (any bytes-like object) into the reader."""
        self.buf.feed(data)

    def buffer(self, Py_ssize_t min_free=16384):
        """A writable memoryview of free space to receive into (zero-copy path)."""
        return self.buf.writable(min_free)

    def advance(self, Py_ssize_t n):
        """Commit ``n`` bytes written into the last ``buffer()`` view."""
        self.buf.advance(n)

    def peek(self, Py_ssize_t limit):
        """A copy of up to ``limit`` unread bytes (e.g. an HTTP head before frames)."""
        cdef Py_ssize_t n = self.buf.end - self.buf.start
        if n > limit:
            n = limit
        return PyBytes_FromStringAndSize(self.buf.data + self.buf.start, n)

    def skip(self, Py_ssize_t n):
        """Discard ``n`` unread bytes that are not frames (the HTTP head)."""
        if n < 0 or n > self.buf.end - self.buf.start:
            raise ValueError(f"skip({n}) but only {self.buf.end - self.buf.start} bytes are unread")
        self.buf.drop(n)

    # ---- output ----------------------------------------------------------
    def next(self):
        """The next complete ``Message``, or ``None`` if more bytes are needed."""
        return self.next_message()

    def __iter__(self):
        return self

    def __next__(self):
        msg = self.next_message()
        if msg is None:
            raise StopIteration
        return msg

    @property
    def role(self):
        return self.role_obj

    @property
    def pending(self):
        """Bytes received but not yet returned as messages."""
        return self.buf.end - self.buf.start

    @property
    def in_fragmented_message(self):
        return self.m_opcode != 0

    @property
    def read_buffer(self):
        """The ReadBuf behind ``buffer()``/``advance()`` (for codecs that fill it directly)."""
        return self.buf

    @property
    def buffer_capacity(self):
        """Size of the receive buffer now (it grows for large frames, up to a bound)."""
        return self.buf.cap

    # ---- the parser --------------------------------------------------------
    cdef int fail(self, exc) except -1:
        self.failure = exc
        raise exc

    cdef Message next_message(self):
        cdef ReadBuf b = self.buf
        cdef unsigned char* p
        cdef unsigned char* q
        cdef Py_ssize_t avail, hdr, plen, have, n, pos = 0, total
        cdef uint64_t len64
        cdef unsigned int b0, b1, opcode
        cdef uint32_t st
        cdef int i
        cdef Message msg
        if self.failure is not None:
            raise self.failure
        while True:
            p = <unsigned char*>b.data + b.start
            avail = b.end - b.start
            if not self.in_payload:
                if avail < 2:
                    if avail == 0 and b.cap > b.initial_capacity:
                        # Drained after a burst or a large frame grew the
                        # buffer: give the big slab back (freed now, or with
                        # the last message viewing it); the next read takes
                        # a slab of the initial size again. (The other
                        # occasion, a control frame alone: below.)
                        b.release()
                    return None
                b0 = p[0]
                b1 = p[1]
                opcode = b0 & 0x0F
                if b0 & 0x70:
                    # RSV1 marks the first frame of a compressed message when
                    # permessage-deflate was negotiated (RFC 7692 6); nothing
                    # else may set a reserved bit
                    if (b0 & 0x70) != 0x40 or self.extension is None or not (opcode == 1 or opcode == 2):
                        self.fail(ProtocolError(_rsv_message(b0, opcode, self.extension is not None)))
                if self.close_received:
                    self.fail(ProtocolError(
                        f"{_opcode_name(opcode)} frame received after the close frame"))
                if opcode >= 8:
                    if opcode > 10:
                        self.fail(ProtocolError(f"reserved control opcode 0x{opcode:X}"))
                    if not (b0 & 0x80):
                        self.fail(ProtocolError(f"{_opcode_name(opcode)} control frame fragmented (FIN not set)"))
                    if (b1 & 0x7F) > 125:
                        self.fail(ProtocolError(
                            f"{_opcode_name(opcode)} control frame with a payload over 125 bytes"))
                elif opcode > 2:
                    self.fail(ProtocolError(f"reserved data opcode 0x{opcode:X}"))
                elif opcode == 0:
                    if self.m_opcode == 0:
                        self.fail(ProtocolError("continuation frame without a message to continue"))
                elif self.m_opcode != 0:
                    self.fail(ProtocolError(
                        f"new {_opcode_name(opcode)} frame while a fragmented "
                        f"{_opcode_name(self.m_opcode)} message is unfinished"))
                if (b1 & 0x80) != 0 and not self.expect_masked:
                    self.fail(ProtocolError("masked frame from the server (servers must not mask)"))
                if (b1 & 0x80) == 0 and self.expect_masked:
                    self.fail(ProtocolError("unmasked frame from the client (clients must mask)"))
                plen = b1 & 0x7F
                hdr = 2
                if plen == 126:
                    if avail < 4:
                        return None
                    plen = (<Py_ssize_t>p[2] << 8) | p[3]
                    hdr = 4
                elif plen == 127:
                    if avail < 10:
                        return None
                    len64 = 0
                    for i in range(2, 10):
                        len64 = (len64 << 8) | p[i]
                    if len64 >> 63:
                        self.fail(ProtocolError("64-bit payload length with the top bit set"))
                    if len64 > <uint64_t>self.max_compressed_frame:
                        self.fail(MessageTooBigError(
                            f"frame of {len64} bytes exceeds max_frame_size={self.max_frame_size}"))
                    plen = <Py_ssize_t>len64
                    hdr = 10
                if plen > self.max_frame_size and not (
                        plen <= self.max_compressed_frame and self.extension is not None
                        and ((b0 & 0x40) != 0 or (opcode == 0 and self.m_inflate))):
                    self.fail(MessageTooBigError(
                        f"frame of {plen} bytes exceeds max_frame_size={self.max_frame_size}"))
                # (a first frame is within max_frame_size <= max_message_size:
                # only continuations can push a message over; a compressed
                # message is bounded by its inflated size instead)
                if opcode == 0 and not self.m_inflate and self.m_len + plen > self.max_message_size:
                    self.fail(MessageTooBigError(
                        f"message of at least {self.m_len + plen} bytes "
                        f"exceeds max_message_size={self.max_message_size}"))
                if b1 & 0x80:
                    if avail < hdr + 4:
                        return None
                    memcpy(self.f_key, p + hdr, 4)
                    hdr += 4
                    self.f_masked = True
                else:
                    self.f_masked = False
                self.f_opcode = opcode
                self.f_fin = (b0 & 0x80) != 0
                self.f_hdr = hdr
                self.f_len = plen
                self.f_done = 0
                if opcode == 1:
                    self.utf8_state = UTF8_ACCEPT
                if (b0 & 0x40) == 0 and not self.m_inflate:
                    self.f_inflate = False       # (every frame without permessage-deflate)
                    self.f_text = opcode == 1 or (opcode == 0 and self.m_opcode == 1)
                else:
                    # RSV1 (validated: a TEXT or BINARY first frame), or a frame of
                    # a compressed fragmented message: a continuation is inflated,
                    # a control frame between them is not; UTF-8 is checked on
                    # the inflated bytes
                    self.f_inflate = opcode < 8
                    self.f_text = False
                self.in_payload = True

            # Payload: unmask and validate whatever has arrived, even before the
            # whole frame is here, so bad UTF-8 is caught as early as possible.
            have = avail - self.f_hdr
            if have > self.f_len:
                have = self.f_len
            if have > self.f_done:
                q = p + self.f_hdr + self.f_done
                n = have - self.f_done
                if self.f_masked:
                    mask_copy(q, q, n, self.f_key, self.f_done & 3)
                if self.f_text:
                    st = utf8_feed(self.utf8_state, q, n, &pos)
                    if st == UTF8_REJECT:
                        self.fail(InvalidDataError(
                            f"invalid UTF-8 in text message (byte 0x{q[pos]:02X} at offset "
                            f"{self.m_len + self.f_done + pos} of the message)"))
                    self.utf8_state = st
                elif self.f_inflate:
                    self.inflate(q, n)
                self.f_done = have
            if self.f_done < self.f_len:
                return None

            # The frame is complete.
            self.in_payload = False
            q = p + self.f_hdr
            plen = self.f_len
            total = self.f_hdr + plen
            opcode = self.f_opcode
            if opcode >= 8:
                if opcode == 8:
                    self.check_close(q, plen)
                    self.close_received = True
                msg = make_message(opcode, b.slab, <const char*>q, plen)
                b.drop(total)          # after make_message: the pin protects q
                if b.end == b.start:
                    # A control frame alone in the buffer (a keepalive ping or
                    # pong on an idle connection): give the slab back now
                    # (the message keeps its bytes), so idle connections hold
                    # no receive memory; the next read allocates again.
                    b.release()
                    if self.extension is not None and self.m_opcode == 0:
                        self.extension.release_idle()
                return msg
            if self.f_inflate:
                b.drop(total)            # (its bytes are inflated already)
                if opcode != 0:
                    self.m_opcode = opcode
                    self.m_inflate = True
                if not self.f_fin:
                    continue
                return self.inflated_message()
            if self.f_fin and opcode != 0:
                if self.f_text and self.utf8_state != UTF8_ACCEPT:
                    self.fail(InvalidDataError("text message ends in the middle of a UTF-8 sequence"))
                msg = make_message(opcode, b.slab, <const char*>q, plen)
                b.drop(total)
                return msg
            # A fragment: append it to the message being assembled.
            if opcode != 0:
                self.m_opcode = opcode
                self.m_len = 0
            if plen:
                self.append_fragment(q, plen)
            b.drop(total)
            if self.f_fin:
                if self.m_opcode == 1 and self.utf8_state != UTF8_ACCEPT:
                    self.fail(InvalidDataError("text message ends in the middle of a UTF-8 sequence"))
                if self.m_buf is None:
                    msg = make_message(self.m_opcode, b.slab, b.data, 0)
                else:
                    msg = make_message(self.m_opcode, self.m_buf, self.m_buf.ptr, self.m_len)
                self.m_opcode = 0
                self.m_buf = None
                self.m_len = 0
                return msg

    cdef int inflate(self, const unsigned char* q, Py_ssize_t n) except -1:
        try:
            self.extension.inflate_feed(q, n, self.max_message_size, self.m_opcode == 1 or self.f_opcode == 1,
                                        &self.utf8_state)
        except ProtocolError as exc:
            self.fail(exc)
        return 0

    cdef Message inflated_message(self):
        """The last frame of a compressed message is in: finish inflating it
        and hand the result out in place (the extension's output arena)."""
        cdef PerMessageDeflate ext = self.extension
        cdef bint text = self.m_opcode == 1
        cdef Py_ssize_t n = 0
        cdef const char* ptr
        cdef Message msg
        try:
            ptr = ext.inflate_end(self.max_message_size, text, &self.utf8_state, &n)
        except ProtocolError as exc:
            self.fail(exc)
        if text and self.utf8_state != UTF8_ACCEPT:
            self.fail(InvalidDataError("text message ends in the middle of a UTF-8 sequence"))
        msg = make_message(self.m_opcode, ext.out.slab, ptr, n)
        ext.out.drop(n)
        self.m_opcode = 0
        self.m_inflate = False
        return msg

    cdef int append_fragment(self, const unsigned char* src, Py_ssize_t n) except -1:
        cdef Py_ssize_t need = self.m_len + n
        cdef Py_ssize_t size
        cdef char* grown
        if self.m_buf is None or need > self.m_buf.size:
            # doubling, capped at max_message_size (which need never exceeds:
            # the frame headers were checked against it)
            size = 4096 if self.m_buf is None else self.m_buf.size * 2
            while size < need:
                size *= 2
            if size > self.max_message_size:
                size = self.max_message_size if self.max_message_size >= need else need
            if self.m_buf is None:
                self.m_buf = new_slab(size)
            else:
                grown = <char*>PyMem_Realloc(self.m_buf.ptr, size)
                if grown == NULL:
                    raise MemoryError(f"cannot grow message buffer to {size} bytes")
                self.m_buf.ptr = grown
                self.m_buf.size = size
        memcpy(self.m_buf.ptr + self.m_len, src, n)
        self.m_len = need
        return 0

    cdef int check_close(self, const unsigned char* payload, Py_ssize_t n) except -1:
        cdef unsigned int code
        cdef Py_ssize_t pos = 0
        if n == 0:
            return 0
        if n == 1:
            self.fail(ProtocolError("close frame with a 1-byte payload (a close code takes 2 bytes)"))
        code = (payload[0] << 8) | payload[1]
        if not valid_close_code(code):
            self.fail(ProtocolError(f"close code {code} is not allowed on the wire"))
        if n > 2 and utf8_feed(UTF8_ACCEPT, payload + 2, n - 2, &pos) != UTF8_ACCEPT:
            self.fail(InvalidDataError("close reason is not valid UTF-8"))
        return 0

    def __repr__(self):
        return (f"<FrameReader role={self.role_obj.name} pending={self.buf.end - self.buf.start} "
                f"max_message_size={self.max_message_size}>")


def _opcode_name(opcode):
    return _OPCODE_NAMES.get(opcode, f"opcode 0x{opcode:X}")


def _rsv_message(b0, opcode, negotiated):
    bits = [name for bit, name in ((0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")) if b0 & bit]
    if not negotiated or b0 & 0x30:
        return f"{'/'.join(bits)} set without a negotiated extension"
    if opcode == 0:
        return "RSV1 set on a continuation frame (only a message's first frame carries it)"
    if opcode >= 8:
        return f"RSV1 set on a {_opcode_name(opcode)} frame (control frames are never compressed)"
    return f"RSV1 set on a frame with the reserved opcode 0x{opcode:X}"
