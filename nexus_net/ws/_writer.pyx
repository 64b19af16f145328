# cython: boundscheck=False, wraparound=False, initializedcheck=False
# Indexing is pointer arithmetic into regions sized by frame_size() first.
"""Sans-IO RFC 6455 frame encoder: messages in, wire bytes out."""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy

from nexus_net.buf cimport WriteBuf
from nexus_net.ws._deflate cimport PerMessageDeflate
from nexus_net.ws._codes cimport valid_close_code
from nexus_net.ws._mask cimport mask_copy

import os

from nexus_net.ws.enums import Role

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL

cdef object _ROLE_CLIENT = Role.CLIENT
cdef Py_ssize_t KEY_POOL = 4096          # 1024 mask keys per os.urandom call (at most)
cdef Py_ssize_t FIRST_KEYS = 64          # the first refill: 16 keys


cdef inline Py_ssize_t header_size(Py_ssize_t n, bint masking) noexcept:
    cdef Py_ssize_t h = 2 if n < 126 else (4 if n < 65536 else 10)
    return h + 4 if masking else h


@cython.final
cdef class FrameWriter:
    """Encodes frames for one direction of one connection.

    Every ``encode_*`` method writes one frame and takes ``dst``:

    * ``None``: returns the frame as new ``bytes``;
    * a ``WriteBuf``: appends to it and returns the number of bytes written;
    * any writable buffer (``bytearray``, writable ``memoryview``...): writes
      at its start and returns the number of bytes written (``ValueError`` if
      it is smaller than ``frame_size(len(payload))``).

    The CLIENT role masks with keys from ``os.urandom`` (fetched in batches),
    XOR-ing while copying: the caller's payload object is never modified.
    """

    def __init__(self, role, *, PerMessageDeflate extension=None):
        role = Role(role)
        self.role_obj = role
        self.masking = role is _ROLE_CLIENT
        self.keys = b""
        self.key_pos = KEY_POOL
        self.sending = 0
        self.extension = extension

    def set_extension(self, PerMessageDeflate extension):
        """Compress data messages with the negotiated permessage-deflate codec
        from now on (``None``: stop); not in the middle of a fragmented message."""
        if self.sending:
            raise RuntimeError("set_extension() in the middle of a fragmented message")
        self.extension = extension

    @property
    def role(self):
        return self.role_obj

    def frame_size(self, Py_ssize_t payload_len):
        """Bytes one frame with a payload of ``payload_len`` bytes takes."""
        if payload_len < 0:
            raise ValueError("negative payload length")
        return header_size(payload_len, self.masking) + payload_len

    cdef const unsigned char* next_key(self):
        cdef Py_ssize_t size
        if self.key_pos >= PyBytes_GET_SIZE(self.keys):
            # The pool starts small and doubles per refill up to KEY_POOL: an
            # idle connection that sent a few frames holds 64 bytes, not 4 KiB.
            size = 2 * PyBytes_GET_SIZE(self.keys)
            if size < FIRST_KEYS:
                size = FIRST_KEYS
            elif size > KEY_POOL:
                size = KEY_POOL
            self.keys = os.urandom(size)
            self.key_pos = 0
        self.key_pos += 4
        return <const unsigned char*>PyBytes_AS_STRING(self.keys) + self.key_pos - 4

    cdef inline Py_ssize_t write_frame(self, unsigned char* dst, unsigned int first_byte,
                                const unsigned char* payload, Py_ssize_t n):
        # first_byte: FIN, RSV1 and the opcode
        cdef Py_ssize_t h
        cdef const unsigned char* key
        cdef int i
        dst[0] = <unsigned char>first_byte
        if n < 126:
            dst[1] = <unsigned char>n
            h = 2
        elif n < 65536:
            dst[1] = 126
            dst[2] = <unsigned char>(n >> 8)
            dst[3] = <unsigned char>n
            h = 4
        else:
            dst[1] = 127
            for i in range(8):
                dst[2 + i] = <unsigned char>((<unsigned long long>n) >> (56 - 8 * i))
            h = 10
        if self.masking:
            dst[1] |= 0x80
            key = self.next_key()
            memcpy(dst + h, key, 4)
            h += 4
            mask_copy(dst + h, payload, n, key, 0)
        elif n:
            memcpy(dst + h, payload, n)
        return h + n

    cdef object emit_payload(self, unsigned int opcode, bint fin, const unsigned char* payload,
                             Py_ssize_t n, object dst):
        """A data frame: compressed first when the extension says so."""
        cdef PerMessageDeflate ext = self.extension
        cdef unsigned int first = (0x80 if fin else 0) | opcode
        cdef Py_ssize_t clen
        if ext is None or not ext.wants_compression(opcode, n, fin):
            return self.emit(first, payload, n, dst)
        clen = ext.deflate_payload(payload, n, fin)
        if opcode != 0:
            first |= 0x40                      # RSV1: this message is compressed
        try:
            return self.emit(first, <const unsigned char*>ext.scratch, clen, dst)
        finally:
            ext.frame_sent()

    cdef object emit(self, unsigned int first_byte, const unsigned char* payload,
                     Py_ssize_t n, object dst):
        cdef Py_ssize_t size = header_size(n, self.masking) + n
        cdef WriteBuf wb
        cdef Py_buffer view
        cdef object out
        if dst is None:
            out = PyBytes_FromStringAndSize(NULL, size)
            self.write_frame(<unsigned char*>PyBytes_AS_STRING(out), first_byte, payload, n)
            return out
        if type(dst) is WriteBuf:
            wb = <WriteBuf>dst
            wb.reserve(size)
            self.write_frame(<unsigned char*>wb.data + wb.end, first_byte, payload, n)
            wb.end += size
            return size
        PyObject_GetBuffer(dst, &view, PyBUF_WRITABLE)
        try:
            if view.len < size:
                raise ValueError(f"destination holds {view.len} bytes but the frame needs {size}")
            self.write_frame(<unsigned char*>view.buf, first_byte, payload, n)
        finally:
            PyBuffer_Release(&view)
        return size

    cdef int check_sequence(self, unsigned int opcode, bint fin) except -1:
        # Enforce RFC 6455 fragmentation order on the way out.
        if opcode == 0:
            if self.sending == 0:
                raise ValueError("continuation frame without an unfinished fragmented message")
            if fin:
                self.sending = 0
        elif self.sending != 0:
            raise ValueError("cannot start a new data message while a fragmented message is "
                             "unfinished; send its last fragment with encode_continuation(fin=True)")
        elif not fin:
            self.sending = opcode
        return 0

    cdef object emit_data(self, unsigned int opcode, object payload, object dst, bint fin):
        cdef Py_buffer view
        cdef Py_ssize_t n
        cdef const char* s
        self.check_sequence(opcode, fin)
        if type(payload) is str:
            s = PyUnicode_AsUTF8AndSize(payload, &n)
            return self.emit_payload(opcode, fin, <const unsigned char*>s, n, dst)
        if PyBytes_CheckExact(payload):
            return self.emit_payload(opcode, fin, <const unsigned char*>PyBytes_AS_STRING(payload),
                                     PyBytes_GET_SIZE(payload), dst)
        PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
        try:
            return self.emit_payload(opcode, fin, <const unsigned char*>view.buf, view.len, dst)
        finally:
            PyBuffer_Release(&view)

    cdef Py_ssize_t append_message(self, unsigned int opcode, object payload, WriteBuf wb) except -1:
        """One whole data message appended to ``wb``; returns the bytes added.

        The per-message path of ``send_*`` on a busy connection: ``bytes`` and
        ``str`` with nothing to compress and no fragmented message open go
        straight into the buffer, without emit_data's dispatch, a buffer
        request or a result object."""
        cdef const unsigned char* p = NULL
        cdef Py_ssize_t n = 0, size, before
        if self.sending == 0 and self.extension is None:
            if PyBytes_CheckExact(payload):
                p = <const unsigned char*>PyBytes_AS_STRING(payload)
                n = PyBytes_GET_SIZE(payload)
            elif type(payload) is str:
                p = <const unsigned char*>PyUnicode_AsUTF8AndSize(payload, &n)
        if p == NULL:
            before = wb.end
            self.emit_data(opcode, payload, wb, True)
            return wb.end - before
        size = header_size(n, self.masking) + n
        if wb.cap - wb.end < size:
            wb.reserve(size)
        self.write_frame(<unsigned char*>wb.data + wb.end, 0x80 | opcode, p, n)
        wb.end += size
        return size

    def encode_text(self, str text, dst=None, bint fin=True):
        """One TEXT frame (``fin=False`` starts a fragmented message)."""
        return self.emit_data(1, text, dst, fin)

    def encode_binary(self, data, dst=None, bint fin=True):
        """One BINARY frame from any bytes-like object."""
        if type(data) is str:
            raise TypeError("encode_binary takes a bytes-like object; use encode_text for str")
        return self.emit_data(2, data, dst, fin)

    def encode_continuation(self, data, dst=None, bint fin=True):
        """The next fragment of the unfinished message (``fin=True`` ends it)."""
        return self.emit_data(0, data, dst, fin)

    cdef object emit_control(self, unsigned int opcode, object data, object dst):
        cdef Py_buffer view
        cdef const char* s
        cdef Py_ssize_t n
        if type(data) is str:
            s = PyUnicode_AsUTF8AndSize(data, &n)
            if n > 125:
                raise ValueError(f"control frame payload is {n} bytes; at most 125 are allowed")
            return self.emit(0x80 | opcode, <const unsigned char*>s, n, dst)
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if view.len > 125:
                raise ValueError(f"control frame payload is {view.len} bytes; at most 125 are allowed")
            return self.emit(0x80 | opcode, <const unsigned char*>view.buf, view.len, dst)
        finally:
            PyBuffer_Release(&view)

    def encode_ping(self, data=b"", dst=None):
        """One PING frame (payload of at most 125 bytes)."""
        return self.emit_control(9, data, dst)

    def encode_pong(self, data=b"", dst=None):
        """One PONG frame (payload of at most 125 bytes)."""
        return self.emit_control(10, data, dst)

    def encode_close(self, code=1000, str reason="", dst=None):
        """One CLOSE frame. ``code=None`` sends an empty close payload."""
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code")
            return self.emit_control(8, b"", dst)
        if not isinstance(code, int) or not 1000 <= code <= 4999 or not valid_close_code(code):
            raise ValueError(f"close code {code} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)")
        encoded = reason.encode("utf-8")
        if len(encoded) > 123:
            raise ValueError(f"close reason is {len(encoded)} bytes of UTF-8; at most 123 are allowed")
        return self.emit_control(8, bytes((code >> 8, code & 0xFF)) + encoded, dst)

    def __repr__(self):
        return f"<FrameWriter role={self.role_obj.name}>"
