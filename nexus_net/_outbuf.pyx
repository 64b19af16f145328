# cython: boundscheck=False, wraparound=False
"""Coalesced writes: the one write path under our asyncio transports.

The rule ("when does my message hit the wire", docs/websocket.md):

* A send on a connection with nothing pending goes to the transport at once,
  so a request/response round trip never waits.
* A send issued in the same loop step as an earlier write of that connection
  (a task pushing messages in a loop, a callback answering several messages)
  is appended to one per-connection buffer instead. The buffer is written
  once: at the end of the loop iteration (one ``call_soon``), at the end of
  the protocol callback that produced it, or as soon as it holds
  ``flush_at`` bytes, whichever comes first. Order is always kept.

"The same loop step" needs no per-message callback: a global counter moves
whenever control has demonstrably been back in the event loop (bytes received
by any of our protocols, one of our flush callbacks, a keepalive tick). If it
has not moved since this connection's last write, and some write of ours
happened less than ``SAME_STEP`` ago (the process has been writing without a
pause), the send joins the buffer. A send that is only mistaken for the same
step waits at most one loop iteration, never longer; the pause rule keeps a
task that sleeps between sends on the direct path, and lets a broadcast to
thousands of connections (milliseconds between two writes to the same one)
coalesce.

Flow control stays the transport's: the buffer is handed to it at the latest
at the end of the iteration, and senders see its pause_writing as before.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.string cimport memcpy

from nexus_net._clock cimport monotonic
from nexus_net._tls cimport TlsCodec
from nexus_net.buf cimport WriteBuf

# Moves whenever the event loop has run something of ours since: see above.
cdef unsigned long long _turn = 1

# A pause this long without any write of ours ends a loop step as far as
# coalescing is concerned. Far longer than the gap between two writes of one
# busy step (nanoseconds to a few microseconds), far shorter than any timer a
# sender sleeps on.
cdef double SAME_STEP = 50e-6
cdef double _last_write_at = 0.0   # monotonic time of the latest transport write of ours

# LARGE_FRAME and append_target (in the .pxd: the WebSocket send path decides
# by the same rule without a call): frames at least this large are never
# copied into the buffer; what is pending is written first, then the frame
# on its own.

DEFAULT_FLUSH_AT = 64 * 1024
# The buffer starts small and grows as needed. It lives only while a loop
# step is coalescing: the end-of-iteration flush drops it, so an idle
# connection holds no write buffer at all.
cdef Py_ssize_t FIRST_CAPACITY = 4096


cdef void loop_turned() noexcept:
    """Control has been back in the event loop (called from protocol callbacks
    and our own scheduled callbacks)."""
    global _turn
    _turn += 1


def turn_of_the_loop():
    """Python access to ``loop_turned`` (tests, and callbacks written in Python)."""
    loop_turned()


cdef class Coalescer:
    """The write side of one connection: direct writes, or one buffer flushed
    once per loop step (see the module docstring)."""

    def __init__(self, loop, write, Py_ssize_t flush_at=DEFAULT_FLUSH_AT):
        if flush_at < 1:
            raise ValueError(f"flush_at must be positive, got {flush_at}")
        self.loop = loop
        self.write = write
        self.flush_at = flush_at
        self.coalesce = True
        self.flush_soon_cb = self._flush_soon

    cdef bint can_write_now(self):
        if self.pending is not None and self.pending.end:
            return False
        if self.last_turn != _turn or not self.coalesce:
            return True
        return monotonic() - _last_write_at > SAME_STEP

    cdef int send(self, object data) except -1:
        """Send ready-made bytes (a frame): at once, or appended to this loop
        step's buffer by the rule above."""
        cdef const unsigned char[::1] src
        cdef Py_ssize_t n = len(data)
        cdef WriteBuf wb
        if self.closed:
            return 0
        wb = append_target(self, n)
        if wb is None:
            return self.write_now(data)
        src = data
        memcpy(wb.reserve(n), &src[0], n)
        wb.end += n
        return frames_appended(self)

    cdef int write_now(self, object data) except -1:
        """Write ``data`` to the transport now, after anything pending."""
        if self.closed:
            return 0
        self.flush()
        self.sink(data)
        return 0

    cdef WriteBuf buffer(self):
        """The buffer to append frames to; the flush at the end of the loop
        iteration is scheduled with the first byte."""
        if self.pending is None:
            self.pending = WriteBuf(FIRST_CAPACITY, 0)
        if not self.armed and not self.closed:
            self.armed = True
            self.loop.call_soon(self.flush_soon_cb)
        return self.pending

    cdef int flush(self) except -1:
        """Write what is pending now (before closing, at a size threshold, at
        the end of a callback or of the loop iteration)."""
        cdef WriteBuf wb = self.pending
        if wb is None or not wb.end or self.closed:
            return 0
        data = PyBytes_FromStringAndSize(wb.data, wb.end)
        wb.end = 0
        self.sink(data)
        return 0

    def _flush_soon(self):
        self.armed = False
        loop_turned()
        self.flush()
        self.pending = None

    cdef int discard(self) noexcept:
        """The transport is gone: drop what is pending, write nothing more."""
        self.closed = True
        if self.pending is not None:
            self.pending.end = 0
        return 0

    cdef int sink(self, object data) except -1:
        global _last_write_at
        self.writes += 1
        if self.tls is None:
            self.write(data)
        else:
            self.tls.encrypt_to(data, self.write)
        self.last_turn = _turn
        _last_write_at = monotonic()
        return 0

    @property
    def pending_size(self):
        """Bytes appended and not yet handed to the transport."""
        return self.pending.end if self.pending is not None else 0
