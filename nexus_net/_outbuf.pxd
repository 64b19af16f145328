# cdef API of the write coalescer (see _outbuf.pyx).

from nexus_net._tls cimport TlsCodec
from nexus_net.buf cimport WriteBuf


cdef void loop_turned() noexcept

# Frames at least this large never go through the coalescing buffer (no copy).
cdef enum:
    LARGE_FRAME = 16 * 1024


cdef class Coalescer:
    cdef object loop
    cdef object write               # transport.write, bound once
    cdef public TlsCodec tls        # encrypt on the way out (None: plain TCP)
    cdef WriteBuf pending           # frames waiting for the end of the loop step (lazy)
    cdef unsigned long long last_turn
    cdef bint armed                 # a flush is scheduled with call_soon
    cdef bint closed                # the transport is gone: nothing more is written
    cdef public bint coalesce       # False: every send is its own write (benchmarks, tests)
    cdef readonly Py_ssize_t flush_at   # pending bytes that trigger an immediate flush
    cdef readonly long long writes  # transport writes (for tests and benchmarks)
    cdef object flush_soon_cb       # self._flush_soon, bound once

    cdef bint can_write_now(self)
    cdef int send(self, object data) except -1
    cdef int write_now(self, object data) except -1
    cdef WriteBuf buffer(self)
    cdef int appended(self) except -1
    cdef int flush(self) except -1
    cdef int discard(self) noexcept
    cdef int sink(self, object data) except -1
