from libc.stdint cimport uint32_t

from nexus_net.buf cimport ReadBuf, Slab
from nexus_net.ws._deflate cimport PerMessageDeflate


cdef class Message:
    cdef readonly int opcode
    cdef Slab slab              # keeps the bytes alive; pinned while this lives
    cdef const char* ptr
    cdef Py_ssize_t length
    cdef readonly long long received_ns   # wall clock of the read that completed it (0: unknown)


cdef class FrameReader:
    cdef ReadBuf buf
    cdef bint expect_masked
    cdef readonly Py_ssize_t max_frame_size
    cdef readonly Py_ssize_t max_message_size
    cdef Py_ssize_t max_compressed_frame   # max_frame_size + deflate's worst-case growth
    cdef object role_obj

    # frame being parsed
    cdef bint in_payload
    cdef int f_opcode
    cdef bint f_fin
    cdef bint f_masked
    cdef unsigned char f_key[4]
    cdef Py_ssize_t f_hdr       # header length
    cdef Py_ssize_t f_len       # payload length
    cdef Py_ssize_t f_done      # payload bytes already unmasked and validated
    cdef bint f_text            # payload belongs to a text message (validated as it arrives)
    cdef bint f_inflate         # payload is compressed (permessage-deflate): inflated as it arrives

    # fragmented message being assembled
    cdef int m_opcode           # 0 when none is in progress
    cdef Slab m_buf
    cdef Py_ssize_t m_len
    cdef uint32_t utf8_state
    cdef bint m_inflate         # the fragmented message is compressed
    cdef readonly PerMessageDeflate extension   # None: no extension negotiated (RSV1 is an error)

    cdef readonly bint close_received
    cdef object failure         # the ProtocolError that ended this reader

    cdef Message next_message(self)

    cdef inline Py_ssize_t missing(self) noexcept:
        """Bytes of the frame being parsed that have not arrived yet (0 when no
        header is parsed): reading reserves room for all of them at once, so a
        large frame never grows the buffer by doubling and copying."""
        if not self.in_payload:
            return 0
        return self.f_hdr + self.f_len - (self.buf.end - self.buf.start)
    cdef int fail(self, exc) except -1
    cdef int inflate(self, const unsigned char* q, Py_ssize_t n) except -1
    cdef Message inflated_message(self)
    cdef int append_fragment(self, const unsigned char* src, Py_ssize_t n) except -1
    cdef int check_close(self, const unsigned char* payload, Py_ssize_t n) except -1
