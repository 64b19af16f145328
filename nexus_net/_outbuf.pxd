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
    cdef int flush(self) except -1
    cdef int discard(self) noexcept
    cdef int sink(self, object data) except -1


cdef inline WriteBuf append_target(Coalescer out, Py_ssize_t n):
    """Where a frame of ``n`` bytes goes, by the rule of _outbuf's docstring:
    the loop step's buffer, to append it to (then ``frames_appended(out)``),
    or None: hand it to ``out.write_now()`` (at once, after anything pending).
    Inline, because it runs per message: a step whose buffer already holds
    frames (its end-of-iteration flush is then armed) costs no call at all."""
    if n >= LARGE_FRAME:                 # never copied into the buffer
        return None
    if out.pending is not None and out.pending.end:
        return out.pending
    if out.can_write_now():
        return None
    return out.buffer()


cdef inline int frames_appended(Coalescer out) except -1:
    """After appending to ``append_target``'s buffer: flush at the threshold."""
    if out.pending.end >= out.flush_at:
        out.flush()
    return 0
