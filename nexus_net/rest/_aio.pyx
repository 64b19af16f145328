# cython: boundscheck=False, wraparound=False
"""The asyncio side of the REST client, in Cython.

``Protocol`` receives straight into the current ``ResponseReader``'s buffer
(``get_buffer`` re-points one reusable span) and resumes the waiting task
inline from ``buffer_updated`` (the shared eager ``Waiter``), exactly as the
WebSocket transport does. ``ClientCore.send`` is the request path: no
``asyncio.Lock``, no ``wait_for`` and no timer per request. The read timeout is
a deadline checked by one lazily re-armed timer per connection.
"""

import asyncio
import logging

from nexus_net._tls cimport TlsCodec
from nexus_net._waiter cimport Waiter, resume, reusable
from nexus_net.buf cimport ReadBuf, Span, point
from nexus_net.http._response cimport Response, ResponseReader

from nexus_net.http.errors import ConnectionLost, RequestTimeout
from nexus_net.tls import TlsError

log = logging.getLogger("nexus_net.rest")

cdef extern from *:
    """
    /* A monotonic clock read in C (the loop's time() is a Python call). Only
       differences are used: timers are armed with call_later(). */
    #ifdef _WIN32
    #include <windows.h>
    static double nexus_monotonic(void) {
        LARGE_INTEGER f, c;
        QueryPerformanceFrequency(&f);
        QueryPerformanceCounter(&c);
        return (double)c.QuadPart / (double)f.QuadPart;
    }
    #else
    #include <time.h>
    static double nexus_monotonic(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    #endif
    """
    double monotonic "nexus_monotonic" () nogil
cdef object _CancelledError = asyncio.CancelledError
cdef Py_ssize_t MIN_READ = 16 * 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


cdef class ClientCore


cdef class _Extension:
    """Cython needs an extension type as the first base of a class that also
    derives from a Python class (asyncio.BufferedProtocol)."""


cdef class Protocol(_Extension, asyncio.BufferedProtocol):
    """One connection: moves bytes between the socket and the reader of the
    request in flight (``spare`` catches bytes nobody asked for)."""

    cdef object loop
    cdef public object transport
    cdef readonly TlsCodec tls
    cdef ResponseReader reader         # the reader of the request in flight, or None
    cdef ReadBuf read_buf              # its ReadBuf
    cdef readonly ResponseReader spare
    cdef ReadBuf spare_buf
    cdef Waiter waiter                 # set while a task waits for bytes
    cdef Waiter spare_waiter
    cdef Span span
    cdef readonly bint eof
    cdef readonly bint lost
    cdef readonly long long received
    cdef object tls_error
    # read timeout: a deadline (on the C monotonic clock), checked by a timer
    # that is re-armed only when it fires (so a request costs a clock read,
    # not a timer)
    cdef double timeout
    cdef double deadline
    cdef object timer
    cdef bint timed_out
    # callback mode (send_callback): the exchange in flight completes in the
    # protocol's own callbacks, with no task involved
    cdef object on_response
    cdef ClientCore owner
    cdef object _write                 # transport.write

    def __init__(self, loop, TlsCodec tls, ResponseReader spare):
        self.loop = loop
        self.tls = tls
        self.spare = spare
        self.spare_buf = spare.buf
        self.span = Span.__new__(Span)

    # ---- asyncio.BufferedProtocol ----------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        self._write = transport.write      # bound once

    def get_buffer(self, Py_ssize_t sizehint):
        cdef ReadBuf b
        if self.tls is not None:
            b = self.tls.cipher
        elif self.read_buf is not None:
            b = self.read_buf
        else:
            b = self.spare_buf
        cdef char* tail = b.reserve(MIN_READ)
        # Safe without an owner: the transport fills it and calls
        # buffer_updated() before anything else touches the buffer.
        return point(self.span, tail, b.cap - b.end, True)

    def buffer_updated(self, Py_ssize_t nbytes):
        cdef ReadBuf b = self.read_buf if self.read_buf is not None else self.spare_buf
        self.received += nbytes
        if self.tls is None:
            b.end += nbytes
        else:
            self.tls.cipher.end += nbytes
            try:
                self.tls.ingest()
                if self.tls.handshake_done:
                    self.tls.decrypt_into(b)
            except TlsError as exc:
                self.tls_error = exc
                self.eof = True
                self.transport.abort()
            else:
                if self.tls.peer_closed:
                    self.eof = True        # close_notify: no more bytes will come
        if self.on_response is not None:
            self.deliver()
        else:
            self.wake(True)

    def eof_received(self):
        self.eof = True
        if self.on_response is not None:
            self.deliver()
        else:
            self.wake(False)
        return False

    def connection_lost(self, exc):
        self.lost = True
        self.eof = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.on_response is not None:
            self.deliver()
        else:
            self.wake(False)

    cdef void wake(self, bint eager):
        cdef Waiter w = self.waiter
        if w is not None:
            self.waiter = None
            resume(w, eager)

    # ---- waiting -----------------------------------------------------------------------
    cdef Waiter arm(self):
        """A waiter for the next bytes (reused when the last wait ended normally)."""
        cdef Waiter w = reusable(self.spare_waiter, self.loop)
        self.spare_waiter = w
        self.waiter = w
        self.refresh_deadline()
        return w

    cdef int refresh_deadline(self) except -1:
        if self.timeout > 0:
            self.deadline = monotonic() + self.timeout
            if self.timer is None:
                self.timer = self.loop.call_later(self.timeout, self.on_timer)
        return 0

    def on_timer(self):
        self.timer = None
        if (self.waiter is None and self.on_response is None) or self.lost:
            return                          # nobody waits: the next wait re-arms
        cdef double now = monotonic()
        if now >= self.deadline:
            self.timed_out = True
            if self.on_response is not None:
                self.deliver()
            else:
                self.wake(False)
        else:
            self.timer = self.loop.call_later(self.deadline - now, self.on_timer)

    cdef void deliver(self):
        """Callback mode: hand the response (or the error) to ``on_response``
        once it is complete; otherwise keep waiting, the deadline moved on."""
        cdef ClientCore owner = self.owner
        cdef ResponseReader reader = self.reader
        response = exc = None
        try:
            response = reader.poll()
            if response is None:
                if self.eof:
                    response = owner._at_eof(self, reader)
                elif self.timed_out:
                    self.timed_out = False
                    raise RequestTimeout(f"no response within read_timeout={owner.read_timeout}s")
                else:
                    self.refresh_deadline()
                    return
        except BaseException as e:
            exc = e
            response = None
        callback = self.on_response
        self.on_response = None
        self.owner = None
        self.detach()
        if exc is not None or not response.keep_alive:
            owner._discard()
        owner.release()
        try:
            callback(response, exc)
        except Exception:
            log.exception("the on_response callback of send_callback() raised")

    async def wait(self):
        """Wait for bytes or EOF (no timeout; the TLS handshake uses it)."""
        await self.arm()

    # ---- writing -------------------------------------------------------------------------
    def write(self, data):
        self.send_bytes(data)

    cdef int send_bytes(self, data) except -1:
        if self.tls is not None:
            self._write(self.tls.encrypt(data))
        else:
            self._write(data)
        return 0

    async def tls_handshake(self):
        cdef TlsCodec tls = self.tls
        while True:
            try:
                done = tls.do_handshake()
            finally:
                out = tls.pending_output()
                if out and not self.lost:
                    self.transport.write(out)
            if done:
                return
            if self.lost or self.eof:
                raise ConnectionLost("connection closed during the TLS handshake")
            await self.arm()

    def close(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None and not self.lost:
            if self.tls is not None and self.tls.handshake_done and not self.tls.close_sent:
                try:
                    self.transport.write(self.tls.shutdown())
                except Exception:           # a broken TLS state: just end TCP
                    pass
            self.transport.close()

    cdef int attach(self, ResponseReader reader) except -1:
        self.reader = reader
        self.read_buf = reader.buf
        return 0

    cdef int detach(self) except -1:
        self.reader = None
        self.read_buf = None
        return 0


cdef class ClientCore:
    """The request path of ``rest.Client`` (its cold parts are in client.py)."""

    cdef public Protocol proto
    cdef public long reconnects
    cdef public object read_timeout
    cdef public object total_timeout
    cdef bint busy
    cdef object turns                  # deque of futures waiting for the connection

    def __cinit__(self):
        from collections import deque
        self.turns = deque()

    def send(self, req, reader):
        """Send ``req`` and wait for its response: ``resp = await conn.send(req, reader)``.

        One request is in flight per connection; concurrent callers queue in
        order. An idempotent request that meets a connection the server had
        closed is retried once on a fresh one. The ``Response`` borrows
        nothing that the next request overwrites: keep it as long as you like.
        """
        if self.total_timeout is None:
            return self._exchange(req, reader)
        return self._send_with_deadline(req, reader)

    def send_callback(self, req, ResponseReader reader, on_response):
        """Send ``req``; call ``on_response(response, None)`` when its response
        is complete, or ``on_response(None, exc)`` on an error (the
        exceptions ``send`` raises). Returns at once.

        For the lowest latency: on an open, idle connection the response is
        parsed and handed over inside the protocol's receive callback, with
        no task switch, and the callback may send the next request right
        away. Otherwise (busy, reconnecting, ``total_timeout`` set) it runs
        ``send`` in a task and calls back when that ends. An idempotent request
        is not retried in the fast path.
        """
        cdef Protocol proto = self.proto
        if self.busy or proto is None or proto.eof or self.total_timeout is not None \
                or proto.spare_buf.end > proto.spare_buf.start:
            task = asyncio.ensure_future(self.send(req, reader))
            task.add_done_callback(lambda t: _report(t, on_response))
            return None
        data = req.bytes()
        self.busy = True
        reader.restart()
        if req.is_head:
            reader.head_request = True
        proto.attach(reader)
        proto.owner = self
        proto.on_response = on_response
        proto.timeout = self.read_timeout if self.read_timeout is not None else 0.0
        proto.timed_out = False
        try:
            proto.refresh_deadline()
            proto.send_bytes(data)
        except BaseException:
            proto.on_response = None
            proto.owner = None
            proto.detach()
            self._discard()
            self._pass_turn()
            raise
        return None

    async def _exchange(self, req, ResponseReader reader):
        """Send ``req`` and read its response on this connection (one in flight;
        concurrent callers queue in order). Retried once on a fresh connection
        when an idempotent request met a connection the server had closed."""
        cdef Protocol proto
        cdef Py_ssize_t attempt
        cdef long long before
        data = req.bytes()          # a copy: the transport may keep it past this call
        if self.busy:
            await self._take_turn()
        else:
            self.busy = True
        try:
            for attempt in range(2):
                proto = self.proto
                if proto is None or proto.eof:
                    self._discard()
                    await self._connect()
                    if attempt or self.reconnects:
                        log.debug("reconnected to %s:%d", self.host, self.port)
                    self.reconnects += 1
                    proto = self.proto
                if proto.spare_buf.end > proto.spare_buf.start:
                    # bytes nobody asked for: don't trust this connection
                    self._discard()
                    if attempt:
                        raise ConnectionLost("the server sent bytes before any request")
                    continue
                reader.restart()           # reader state belongs to one exchange on one connection
                if req.is_head:
                    reader.head_request = True
                proto.attach(reader)
                proto.timeout = self.read_timeout if self.read_timeout is not None else 0.0
                before = proto.received
                proto.send_bytes(data)
                try:
                    # The read loop, inline (a nested coroutine costs a frame
                    # per resume). Bytes that arrive before this task runs
                    # again are already in the reader's buffer or wake the waiter.
                    while True:
                        response = reader.poll()
                        if response is not None:
                            break
                        if proto.eof:
                            response = self._at_eof(proto, reader)
                            break
                        await proto.arm()
                        if proto.timed_out:
                            proto.timed_out = False
                            raise RequestTimeout(f"no response within read_timeout={self.read_timeout}s")
                except ConnectionLost:
                    self._discard()
                    if attempt == 0 and proto.received == before and req.method in IDEMPOTENT:
                        log.debug("server closed the idle connection; retrying %s %s", req.method, req.target)
                        continue
                    raise
                except BaseException:
                    # timeout, cancellation, a parse error: the connection's
                    # state is unknown, so it is not reused
                    self._discard()
                    raise
                finally:
                    proto.detach()
                if not response.keep_alive:
                    self._discard()
                return response
        finally:
            self.release()

    cdef object _at_eof(self, Protocol proto, ResponseReader reader):
        """The response when the server ended the connection: complete if its
        body was read-until-close, otherwise ConnectionLost."""
        if proto.tls_error is not None:
            raise ConnectionLost(f"TLS failed mid-response: {proto.tls_error}") from proto.tls_error
        try:
            reader.feed_eof()
            response = reader.next()
        except Exception as exc:
            raise ConnectionLost(f"server closed the connection mid-response: {exc}") from exc
        if response is None:
            raise ConnectionLost("server closed the connection before responding")
        return response

    async def _take_turn(self):
        fut = asyncio.get_running_loop().create_future()
        self.turns.append(fut)
        try:
            await fut
        except _CancelledError:
            if fut.done() and not fut.cancelled():
                self._pass_turn()          # handed the connection just as we were cancelled
            else:
                self.turns.remove(fut)
            raise

    cdef int release(self) except -1:
        """The exchange is over: the connection goes to the next in line."""
        if self.turns:
            self._pass_turn()
        else:
            self.busy = False
        return 0

    def _pass_turn(self):
        while self.turns:
            fut = self.turns.popleft()
            if not fut.done():
                fut.set_result(None)       # busy stays set: the turn moves on
                return
        self.busy = False


def _report(task, on_response):
    """send_callback's slow path: the task's outcome to the callback."""
    try:
        response = task.result()
    except BaseException as exc:
        response, error = None, exc
    else:
        error = None
    try:
        on_response(response, error)
    except Exception:
        log.exception("the on_response callback of send_callback() raised")
