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

from nexus_net._clock cimport monotonic, monotonic_ns
from nexus_net._tls cimport TlsCodec
from nexus_net._waiter cimport Waiter, resume, reusable
from nexus_net.buf cimport ReadBuf, Span, point
from nexus_net.http._response cimport Response, ResponseReader

from nexus_net.http.errors import (ConnectFailed, ConnectionLost, ConnectTimeout, RequestTimeout, ResponseLost,
                                   ResponseTimeout)
from nexus_net.http.status import IDEMPOTENT
from nexus_net.tls import TlsError

log = logging.getLogger("nexus_net.rest")

cdef object _CancelledError = asyncio.CancelledError
cdef Py_ssize_t MIN_READ = 16 * 1024


def describe(req):
    """``METHOD target`` of a request for an error message (a request its
    writer has overwritten since is named by its method alone)."""
    try:
        return f"{req.method} {req.target}"
    except RuntimeError:
        return req.method


def not_sent(exc, req):
    """``exc`` (connecting failed, or timed out) as the RequestNotSent it is."""
    cls = ConnectTimeout if isinstance(exc, (RequestTimeout, asyncio.TimeoutError)) else ConnectFailed
    return cls.of(f"{describe(req)} was not sent: {exc}", method=req.method,
                  target=_target_of(req))


def outcome_unknown(exc, req, Py_ssize_t sent, long long received, ResponseReader reader):
    """``exc`` (the connection lost, or no response in time, after the request
    was written) as the OutcomeUnknown it is."""
    cls = ResponseTimeout if isinstance(exc, (RequestTimeout, asyncio.TimeoutError)) else ResponseLost
    status = reader.current.status if reader is not None and reader.current is not None else None
    return cls.of(f"{describe(req)}: {exc} after the request was written ({sent} bytes; "
                  f"{received} bytes of a response received): its outcome is unknown",
                  method=req.method, target=_target_of(req), bytes_sent=sent, bytes_received=received,
                  status=status)


cdef object _target_of(req):
    try:
        return req.target
    except RuntimeError:
        return None


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
    cdef readonly ResponseReader spare
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
    cdef object req                    # the request of the callback exchange (for its errors)
    cdef Py_ssize_t sent               # ... and how many bytes of it were written
    cdef long long received_before
    # timings (monotonic ns): of the exchange in flight, and of the connect
    cdef long long written_ns
    cdef long long first_ns
    cdef public long long connect_ns
    cdef public long long connected_ns
    cdef public long long tls_ns
    cdef object _write                 # transport.write

    def __init__(self, loop, TlsCodec tls, ResponseReader spare):
        self.loop = loop
        self.tls = tls
        self.spare = spare
        self.span = Span.__new__(Span)

    # ---- asyncio.BufferedProtocol ----------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        self._write = transport.write      # bound once

    def get_buffer(self, Py_ssize_t sizehint):
        cdef ReadBuf b = self.tls.cipher if self.tls is not None else self.target()
        cdef char* tail = b.reserve(MIN_READ)
        # Safe without an owner: the transport fills it and calls
        # buffer_updated() before anything else touches the buffer.
        return point(self.span, tail, b.cap - b.end, True)

    cdef inline bint stray_bytes(self):
        """Bytes arrived that no request asked for: the connection can't be trusted."""
        return self.spare.buf.end > self.spare.buf.start

    cdef inline ReadBuf target(self):
        """Where received bytes go: the reader of the request in flight, or the spare."""
        return self.reader.buf if self.reader is not None else self.spare.buf

    def buffer_updated(self, Py_ssize_t nbytes):
        # ``received`` and the first-byte stamp count response bytes (the
        # plaintext), not TLS records such as session tickets
        cdef ReadBuf b = self.target()
        cdef Py_ssize_t plain
        if self.tls is None:
            b.end += nbytes
            self.received += nbytes
            if self.first_ns == 0:
                self.first_ns = monotonic_ns()
        else:
            try:
                plain = self.tls.received(nbytes, b)
                if plain:
                    self.received += plain
                    if self.first_ns == 0:
                        self.first_ns = monotonic_ns()
            except TlsError as exc:
                self.tls_error = exc
                self.eof = True
                self.transport.abort()
            else:
                if self.tls.peer_closed:
                    self.eof = True        # close_notify: no more bytes will come
        self.notify(True)

    def eof_received(self):
        self.eof = True
        self.notify(False)
        return False

    def connection_lost(self, exc):
        self.lost = True
        self.eof = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.notify(False)

    cdef void notify(self, bint eager):
        """Something happened (bytes, EOF, the deadline): complete a callback
        exchange, or wake the task waiting for bytes."""
        cdef Waiter w
        if self.on_response is not None:
            self.deliver()
            return
        w = self.waiter
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
            self.notify(False)
        else:
            self.timer = self.loop.call_later(self.deadline - now, self.on_timer)

    cdef object outcome(self):
        """Where the exchange in flight stands: its Response once complete,
        None while more bytes are needed; raises ConnectionLost (the server
        ended the connection first), RequestTimeout, or the parser's error.
        Both the awaiting path and the callback path ask this."""
        response = self.reader.poll()
        if response is not None:
            self.stamp(response)
            return response
        if self.eof:
            if self.tls_error is not None:
                raise ConnectionLost(f"TLS failed mid-response: {self.tls_error}") from self.tls_error
            try:
                self.reader.feed_eof()
                response = self.reader.poll()
            except Exception as exc:
                raise ConnectionLost(f"server closed the connection mid-response: {exc}") from exc
            if response is None:
                raise ConnectionLost("server closed the connection before responding")
            self.stamp(response)
            return response                # its body was read until close
        if self.timed_out:
            raise RequestTimeout(f"no response within read_timeout={self.timeout:g}s")
        return None

    cdef inline void stamp(self, Response response) noexcept:
        response.t_written = self.written_ns
        response.t_first = self.first_ns
        response.t_complete = monotonic_ns()

    cdef void deliver(self):
        """Callback mode: hand the response (or the error) to ``on_response``
        once it is complete; otherwise keep waiting, the deadline moved on."""
        cdef ClientCore owner = self.owner
        cdef Response r
        response = exc = None
        try:
            response = self.outcome()
            if response is None:
                self.refresh_deadline()
                return
        except (ConnectionLost, RequestTimeout) as e:
            exc = outcome_unknown(e, self.req, self.sent, self.received - self.received_before, self.reader)
            exc.__cause__ = e
        except BaseException as e:
            exc = e
            response = None
        else:
            r = <Response>response
            r.request_method = self.req.method
            r.rate_limit_headers = owner.rate_limit_headers
            if owner.limiter is not None and (r.status == 429 or r.status == 418):
                owner.limiter.note_response(r.status, r.header("retry-after"))
        callback = self.on_response
        self.on_response = None
        self.owner = None
        self.req = None
        self.detach()
        if exc is not None or not response.keep_alive:
            owner._discard()
        owner.release()
        try:
            callback(response, exc)
        except Exception:
            log.exception("the on_response callback of send_callback() raised")

    # ---- writing -------------------------------------------------------------------------
    cdef int send_bytes(self, data) except -1:
        if self.tls is not None:
            self._write(self.tls.encrypt(data))
        else:
            self._write(data)
        self.written_ns = monotonic_ns()
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

    cdef int begin(self, ResponseReader reader, bint is_head, object timeout) except -1:
        """A new exchange: ``reader`` (reset: its state belongs to one exchange
        on one connection) receives from now on."""
        reader.restart()
        reader.head_request = is_head
        self.reader = reader
        self.first_ns = 0
        self.timeout = timeout if timeout is not None else 0.0
        self.timed_out = False
        return 0

    cdef int detach(self) except -1:
        self.reader = None
        return 0


cdef class ClientCore:
    """The request path of ``rest.Client`` (its cold parts are in client.py)."""

    cdef public Protocol proto
    cdef public long reconnects
    cdef public object read_timeout
    cdef public object total_timeout
    cdef public object rate_limit_headers   # RateLimitHeaders for resp.rate_limit (None: standard)
    cdef public object limiter              # a RateLimit the requests wait for, or None
    cdef bint busy
    cdef object turns                  # deque of futures waiting for the connection

    def __cinit__(self):
        from collections import deque
        self.turns = deque()

    def send(self, req, reader, Py_ssize_t weight=1):
        """Send ``req`` and wait for its response: ``resp = await conn.send(req, reader)``.

        One request is in flight per connection; concurrent callers queue in
        order. An idempotent request that meets a connection the server had
        closed is retried once on a fresh one. The ``Response`` borrows
        nothing that the next request overwrites: keep it as long as you like.
        ``weight``: what the request costs against ``rate_limit`` (it waits
        until the budget allows it; the wait is not part of total_timeout).
        """
        if self.limiter is not None and not self.limiter.try_acquire(weight):
            return self._limited(req, reader, weight, None)      # the budget says wait
        if self.total_timeout is None:
            return self._exchange(req, reader, None, None)
        # what the exchange got done, for the error if total_timeout ends it
        progress = [0, 0, None]
        return self._within_total_timeout(self._exchange(req, reader, None, progress), req, progress)

    def send_callback(self, req, ResponseReader reader, on_response, Py_ssize_t weight=1):
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
        data = req.bytes()          # now: the caller may build its next request at once
        cdef bint slow = self.busy or proto is None or proto.eof or self.total_timeout is not None \
            or proto.stray_bytes()
        if not slow and self.limiter is not None and not self.limiter.try_acquire(weight):
            slow = True             # (try_acquire took nothing: the slow path waits for it)
        if slow:
            if self.limiter is not None:
                coro = self._limited(req, reader, weight, data)
            else:
                progress = [0, 0, None] if self.total_timeout is not None else None
                coro = self._exchange(req, reader, data, progress)
                if self.total_timeout is not None:
                    coro = self._within_total_timeout(coro, req, progress)
            task = asyncio.ensure_future(coro)
            task.add_done_callback(lambda t: _report(t, on_response))
            return None
        self.busy = True
        proto.begin(reader, req.is_head, self.read_timeout)
        proto.owner = self
        proto.on_response = on_response
        proto.req = req
        proto.received_before = proto.received
        try:
            proto.refresh_deadline()
            proto.send_bytes(data)
            proto.sent = len(data)
        except BaseException:
            proto.on_response = None
            proto.owner = None
            proto.req = None
            proto.detach()
            self._discard()
            self.release()
            raise
        return None

    async def _exchange(self, req, ResponseReader reader, data, list progress):
        """Send ``req`` and read its response on this connection (one in flight;
        concurrent callers queue in order). Retried once on a fresh connection
        when an idempotent request met a connection the server had closed.
        ``data``: the request's bytes, if the caller took them already.
        ``progress``: None, or a list that learns [bytes sent, bytes of the
        response received, the reader] as they happen (for total_timeout).

        Transport failures come out as RequestNotSent (ConnectFailed,
        ConnectTimeout) when no byte of the request was written, and as
        OutcomeUnknown (ResponseLost, ResponseTimeout) once some were."""
        cdef Protocol proto
        cdef Py_ssize_t attempt
        cdef Response r
        cdef long long before
        cdef bint is_head = req.is_head
        method = req.method
        if data is None:
            data = req.bytes()      # a copy: the transport may keep it past this call
        if self.busy:
            await self._take_turn()
        else:
            self.busy = True
        try:
            for attempt in range(2):
                proto = self.proto
                opened = False
                if proto is None or proto.eof:
                    self._discard()
                    try:
                        await self._connect()
                    except (OSError, RequestTimeout) as exc:       # (ConnectionLost is an OSError)
                        raise not_sent(exc, req) from exc
                    if attempt or self.reconnects:
                        log.debug("reconnected to %s:%d", self.host, self.port)
                    self.reconnects += 1
                    proto = self.proto
                    opened = True
                if proto.stray_bytes():
                    # bytes nobody asked for: don't trust this connection
                    self._discard()
                    if attempt:
                        raise not_sent(ConnectionLost("the server sent bytes before any request"), req)
                    continue
                proto.begin(reader, is_head, self.read_timeout)
                before = proto.received
                proto.send_bytes(data)
                if progress is not None:
                    progress[0] = len(data)
                    progress[2] = reader
                try:
                    # The read loop, inline (a nested coroutine costs a frame
                    # per resume). Bytes that arrive before this task runs
                    # again are already in the reader's buffer or wake the waiter.
                    while True:
                        response = proto.outcome()
                        if response is not None:
                            break
                        if progress is not None:
                            progress[1] = proto.received - before
                        await proto.arm()
                except (ConnectionLost, RequestTimeout) as exc:
                    self._discard()
                    if attempt == 0 and proto.received == before and method in IDEMPOTENT \
                            and not isinstance(exc, RequestTimeout):
                        log.debug("server closed the idle connection; retrying the %s", method)
                        continue
                    raise outcome_unknown(exc, req, len(data), proto.received - before, reader) from exc
                except BaseException:
                    # cancellation, a parse error: the connection's state is
                    # unknown, so it is not reused
                    self._discard()
                    raise
                finally:
                    proto.detach()
                r = <Response>response             # (typed: the fields below are C stores)
                if not r.keep_alive:
                    self._discard()
                r.request_method = method
                r.rate_limit_headers = self.rate_limit_headers
                if (r.status == 429 or r.status == 418) and self.limiter is not None:
                    self.limiter.note_response(r.status, r.header("retry-after"))
                if opened:
                    r.t_connect = proto.connect_ns
                    r.t_connected = proto.connected_ns
                    r.t_tls = proto.tls_ns
                return r
        finally:
            self.release()

    async def _limited(self, req, reader, Py_ssize_t weight, data):
        """``send`` when the rate limit says wait: wait for the budget, then
        the exchange."""
        if data is None:
            data = req.bytes()      # before waiting: the writer may build others meanwhile
        await self.limiter.acquire(weight)
        if self.total_timeout is None:
            response = await self._exchange(req, reader, data, None)
        else:
            progress = [0, 0, None]
            response = await self._within_total_timeout(self._exchange(req, reader, data, progress), req,
                                                        progress)
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
