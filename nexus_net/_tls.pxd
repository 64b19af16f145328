from nexus_net.buf cimport ReadBuf, Span


cdef class TlsCodec:
    cdef object sslobj
    cdef object incoming
    cdef object outgoing
    cdef object _bio_write       # incoming.write
    cdef object _bio_read        # outgoing.read
    cdef object _ssl_read        # sslobj.read
    cdef object _ssl_write       # sslobj.write
    cdef object _ssl_pending     # sslobj.pending
    cdef readonly ReadBuf cipher
    cdef Span in_span
    cdef Span out_span
    cdef readonly bint server_side
    cdef readonly bint handshake_done
    cdef readonly bint peer_closed
    cdef readonly bint close_sent
    cdef readonly long long ciphertext_in

    cdef Py_ssize_t received(self, Py_ssize_t n, ReadBuf plain) except -1
    cdef Py_ssize_t ingest(self) except -1
    cdef Py_ssize_t decrypt_into(self, ReadBuf rb) except -1
    cdef int encrypt_to(self, object data, object sink) except -1
