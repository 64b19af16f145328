from libc.stdint cimport uint32_t

from nexus_net._zlib cimport z_stream
from nexus_net.buf cimport ReadBuf


cdef class PerMessageDeflate:
    # negotiated parameters (RFC 7692 section 7), seen from this end
    cdef readonly bint local_no_context_takeover    # we reset our compressor per message
    cdef readonly bint remote_no_context_takeover   # the peer resets its compressor per message
    cdef readonly int local_max_window_bits         # our compressor's window (8: we send uncompressed)
    cdef readonly int remote_max_window_bits        # the peer's compressor's window
    cdef readonly int level
    cdef readonly int mem_level
    cdef readonly Py_ssize_t threshold              # shorter messages are sent uncompressed

    # receive side
    cdef z_stream ins
    cdef bint in_ready           # inflateInit2 done (zlib's memory is held)
    cdef bint in_ended           # the message's deflate stream had a final block
    cdef ReadBuf out             # inflated messages land here and are handed out in place
    cdef Py_ssize_t msg_len      # inflated bytes of the message in progress
    cdef Py_ssize_t msg_in       # compressed bytes of it fed so far
    cdef readonly long long inflated_messages

    # send side
    cdef z_stream outs
    cdef bint out_ready          # deflateInit2 done
    cdef char* scratch           # compressed payload of the frame being encoded
    cdef Py_ssize_t scratch_size
    cdef bint sending_compressed # the fragmented message being sent is compressed
    cdef readonly long long deflated_messages
    cdef Py_ssize_t zmem         # bytes zlib holds (both streams), kept by counted_alloc

    cdef int inflate_feed(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t limit,
                          bint text, uint32_t* utf8_state) except -1
    cdef const char* inflate_end(self, Py_ssize_t limit, bint text, uint32_t* utf8_state,
                                 Py_ssize_t* length) except NULL
    cdef int run_inflate(self, const unsigned char* p, Py_ssize_t n, int flush, Py_ssize_t limit,
                         bint text, uint32_t* utf8_state) except -1
    cdef int start_inflate(self) except -1
    cdef int wants_compression(self, unsigned int opcode, Py_ssize_t n, bint fin) noexcept
    cdef Py_ssize_t deflate_payload(self, const unsigned char* p, Py_ssize_t n, bint fin) except -1
    cdef int grow_scratch(self, Py_ssize_t size) except -1
    cdef int frame_sent(self) noexcept
    cdef int release_idle(self) noexcept
    cdef void free_streams(self) noexcept
    cdef void end_inflate(self) noexcept
    cdef void end_deflate(self) noexcept
    cdef void free_scratch(self) noexcept
