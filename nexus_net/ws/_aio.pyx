# cython: boundscheck=False, wraparound=False
"""WebSocket over asyncio: a ``BufferedProtocol`` around the sans-IO ``Session``.

Bytes are received straight into the reader's buffer (``get_buffer``);
``buffer_updated`` only moves its end and wakes a task waiting in ``recv()``.
Parsing happens in ``recv()``, which returns without suspending when a
message is already buffered. Pings are answered and close frames handled
while the application reads.
"""

import asyncio
import logging
import os
import socket

cimport cython
from cpython.buffer cimport PyObject_CheckBuffer
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_GET_LENGTH

from nexus_net._clock cimport monotonic, wall_ns
from nexus_net._outbuf cimport Coalescer, append_target, frames_appended, loop_turned
from nexus_net._tls cimport TlsCodec
from nexus_net._waiter cimport Ready, Waiter, new_waiter, resume, reusable
from nexus_net.buf cimport ReadBuf, Span, WriteBuf, point
from nexus_net.ws._reader cimport Message
from nexus_net.ws._writer cimport FrameWriter
from nexus_net.ws._session cimport CLOSING, CONNECTING, OPEN, Session

from nexus_net._sockopts import buffer_sizes_of
from nexus_net.tls import TlsError, TlsHandshakeError
from nexus_net.ws.errors import (ConcurrencyError, ConnectionClosedError, ConnectionClosedOK,
                                 InvalidHandshakeRequest, InvalidHandshakeResponse)
from nexus_net.ws.enums import Role
from nexus_net.ws.handshake import MAX_HEAD_BYTES
from nexus_net.ws.keepalive import start_keepalive
from nexus_net.ws.stats import ConnectionStats

log = logging.getLogger("nexus_net.ws")


cdef object _READY = Ready()      # send_*() return it when nothing has to wait
cdef Py_ssize_t MIN_READ = 16 * 1024
DEFAULT_LIMIT = 4 * 1024 * 1024


cdef class Connection(Session, asyncio.BufferedProtocol):
    """An open WebSocket connection on asyncio (client or server side).

    Made by ``ws.connect()`` or handed to a ``ws.serve()`` handler. Use
    ``await recv()`` or ``async for msg in conn`` to receive, ``await
    send_text()`` / ``send_binary()`` to send, ``await close()`` to end.
    """

    def __init__(self, role, *, loop=None, max_message_size=None, max_frame_size=None,
                 read_buffer_size=None, limit=DEFAULT_LIMIT, bint auto_pong=True,
                 double close_timeout=10.0):
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        # Reading pauses once `limit` unread bytes pile up: the reader's buffer
        # needs room for that on top of one whole frame.
        Session.__init__(self, role, max_message_size=max_message_size,
                         max_frame_size=max_frame_size, buffer_size=read_buffer_size,
                         backlog=limit, auto_pong=auto_pong)
        self.loop = loop if loop is not None else asyncio.get_running_loop()
        self.state = CONNECTING
        self.read_high = limit
        self.read_low = limit // 4
        self.drain_waiters = []
        self.closed_waiter = self.loop.create_future()
        self.read_span = Span.__new__(Span)
        self.close_timeout = close_timeout
        self.response_headers = []
        self.request_headers = []

    # ---- asyncio.BufferedProtocol ----------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        self.out = Coalescer(self.loop, transport.write)
        self.out.tls = self.tls
        if self.on_connection_made is not None:
            self.on_connection_made(self)

    def get_buffer(self, Py_ssize_t sizehint):
        # With TLS the socket fills the ciphertext buffer; plaintext is
        # decrypted into the reader's buffer in buffer_updated.
        cdef ReadBuf b = self.reader.buf if self.tls is None else self.tls.cipher
        cdef Py_ssize_t need = self.reader.missing() if self.tls is None else 0
        # (the rest of a large frame is reserved in one allocation)
        cdef char* tail = b.reserve(need if need > MIN_READ else MIN_READ)
        # A span without an owner is safe here: the transport fills it and
        # calls buffer_updated() before anything else can touch the buffer.
        # Re-pointing one span per connection allocates nothing per read.
        return point(self.read_span, tail, b.cap - b.end, True)

    def buffer_updated(self, Py_ssize_t nbytes):
        cdef ReadBuf b = self.reader.buf
        loop_turned()
        self.begin_read()
        if self.tls is None:
            b.end += nbytes
        else:
            try:
                self.tls.received(nbytes, b)
            except TlsError as exc:
                self.tls_failed(exc)
                return
            if self.tls.peer_closed and not self.tls.close_sent:
                # The peer's close_notify: answer it and end TCP; what was
                # decrypted before it is still delivered.
                self.out.flush()
                self.transport.write(self.tls.shutdown())
                self.transport.close()
        self.end_read()
        self.bytes_received += nbytes
        if self.listener is not None:
            self.deliver()
        elif self.recv_waiter is not None:
            self.wake_reader(True)
        elif b.end - b.start > self.read_high and not self.read_paused:
            # Nobody is reading: stop taking bytes until the application
            # catches up (recv() resumes reading).
            self.read_paused = True
            self.transport.pause_reading()
        # What the listener or the task resumed above sent in this callback
        # leaves now, not at the end of the loop iteration.
        if self.out.pending is not None and self.out.pending.end:
            self.out.flush()

    def eof_received(self):
        return False                   # let the transport close

    def connection_lost(self, exc):
        self.lost = True
        if self.out is not None:
            self.out.discard()
        self.mark_lost()
        if exc is not None:
            log.debug("connection lost: %r", exc)
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
        if self.keepalive_task is not None:
            self.keepalive_task.cancel()
        if self.watch_task is not None:
            self.watch_task.cancel()
        self.wake_reader()
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.drain_waiters.clear()
        if not self.closed_waiter.done():
            self.closed_waiter.set_result(None)
        if self.listener is not None:
            try:
                self.listener.on_close(self, self.close_code, self.close_reason)
            except Exception:
                log.exception("listener on_close failed")

    def pause_writing(self):
        self.write_paused = True
        if self.listener is not None:
            try:
                self.listener.on_pause_writing(self)
            except Exception as exc:
                self.callback_failed(exc, "on_pause_writing")

    def resume_writing(self):
        self.write_paused = False
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.drain_waiters.clear()
        if self.listener is not None:
            try:
                self.listener.on_resume_writing(self)
            except Exception as exc:
                self.callback_failed(exc, "on_resume_writing")

    cdef int wake_reader(self, bint eager=False) except -1:
        cdef Waiter waiter = self.recv_waiter
        if waiter is not None:
            self.recv_waiter = None
            resume(waiter, eager)
        return 0

    # ---- listener mode ---------------------------------------------------------
    def set_listener(self, listener):
        """Deliver messages to ``listener`` (a ``ws.Listener``) from the receive
        callback instead of through ``recv()``: before ``opened()``."""
        self.listener = listener
        self.on_message_cb = listener.on_message
        if self.state == OPEN:         # attached after the handshake (reconnect)
            self.start_listener()
        elif self.lost and self.opened_ns:
            # It opened and was lost before the listener came (during
            # on_connect): deliver what it received, then report its end.
            self.start_listener()
            try:
                listener.on_close(self, self.close_code, self.close_reason)
            except Exception:
                log.exception("listener on_close failed")

    cdef int start_listener(self) except -1:
        try:
            self.listener.on_open(self)
        except Exception as exc:
            self.callback_failed(exc, "on_open")
            return 0
        self.deliver()
        return 0

    cdef int deliver(self) except -1:
        """Hand every complete data message to ``on_message``, in order, inside
        the protocol callback (no task switch); then send what reading
        produced (pongs, auto replies, close frames)."""
        cdef Message msg
        if self.delivering or self.state == CONNECTING:
            return 0                  # (a callback's own sends never re-enter)
        self.delivering = True
        try:
            while self.listener is not None:
                msg = self.poll()
                if msg is None:
                    break
                if self.close_sent:
                    continue          # we are closing: later messages are dropped
                try:
                    self.on_message_cb(self, msg)
                except Exception as exc:
                    self.callback_failed(exc, "on_message")
                    break
        finally:
            self.delivering = False
        if self.outbox:
            self.flush()
        if self.read_done:
            self.finish_reading()
        elif self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        return 0

    cdef int callback_failed(self, exc, str where) except -1:
        """A listener callback raised: log it and close with 1011 (never swallowed)."""
        log.error("listener %s failed; closing with 1011", where, exc_info=exc)
        self.fail(1011, "internal error", exc)
        self.flush()
        self.finish_reading()
        return 0

    def fail_connection(self, int code, str reason):
        """Fail the connection now: send a close frame with ``code``, end TCP,
        and make ``recv()`` raise (keepalive, heartbeat and idle timeouts)."""
        self.fail(code, reason, None)
        self.flush()
        self.finish_reading()
        self.wake_reader()

    def send_close(self, code=1000, str reason=""):
        """Start the closing handshake without waiting (for callbacks; from a
        task, ``await close()`` also waits for the end)."""
        if self.state == OPEN and not self.lost:
            self.start_close(code, reason)
            self.flush()

    # ---- internals ---------------------------------------------------------
    cdef int flush(self) except -1:
        """Send what the session produced while reading (pongs, close frames)."""
        if self.outbox and not self.lost:
            if len(self.outbox) == 1:
                self.send_frame(self.outbox[0])
            else:
                self.send_frame(b"".join(self.outbox))
        self.outbox.clear()
        return 0

    cdef int finish_reading(self) except -1:
        """No more messages will come: send our close frame and end TCP.

        The server closes TCP right away (RFC 6455 7.1.1); a client waits for
        the server to do it, at most ``close_timeout`` seconds.
        """
        self.flush()
        if self.closing_transport or self.lost:
            return 0
        self.out.flush()                 # everything sent so far goes before the end
        self.closing_transport = True
        if self.keepalive_task is not None:
            self.keepalive_task.cancel()
        if self.tls is not None and self.tls.handshake_done:
            # Nothing more to send: close_notify now (TLS servers such as
            # asyncio's wait for it before they close TCP).
            self.transport.write(self.tls.shutdown())
        if not self.is_client or not self.close_received:
            self.transport.close()
        self.close_timer = self.loop.call_later(self.close_timeout, self._abort)
        return 0

    def _abort(self):
        self.close_timer = None
        if not self.lost:
            log.debug("peer did not close TCP within %.1fs; aborting", self.close_timeout)
            self.transport.abort()

    # ---- TLS -----------------------------------------------------------------
    def start_tls(self, TlsCodec codec):
        """Run this connection over ``codec`` (before any bytes are received)."""
        self.tls = codec
        if self.out is not None:
            self.out.tls = codec

    cdef int send_frame(self, data) except -1:
        """Hand wire bytes to the transport, through TLS when it is on (no
        Python-level call in between: this runs per message)."""
        self.bytes_sent += len(data)
        if not self.lost:
            self.out.send(data)
        return 0

    cdef int send_data(self, unsigned int opcode, data) except -1:
        """Encode one data message and send it: written at once, or encoded
        straight into the loop step's buffer (see nexus_net._outbuf)."""
        cdef Coalescer out = self.out
        cdef WriteBuf wb
        cdef Py_ssize_t n
        if self.lost or out.closed:          # (closed: TLS failed, the transport was aborted)
            self.writer.emit_data(opcode, data, None, True)   # still checks the arguments
            return 0
        if PyBytes_CheckExact(data):
            n = PyBytes_GET_SIZE(data)
        elif type(data) is str:
            n = PyUnicode_GET_LENGTH(data)
        else:
            n = len(data)
        wb = append_target(out, n)
        if wb is None:
            frame = self.writer.emit_data(opcode, data, None, True)
            self.bytes_sent += len(frame)
            out.write_now(frame)
        else:
            self.bytes_sent += self.writer.append_message(opcode, data, wb)
            frames_appended(out)
        return 0

    def tls_failed(self, exc):
        """The TLS layer broke: nothing more can be sent or read; drop TCP."""
        log.debug("TLS failure: %r", exc)
        if self.close_exc is None:
            self.end_code = 1006
            self.end_reason = ""
            err = ConnectionClosedError(1006, "", f"TLS failure: {exc}")
            err.__cause__ = exc
            self.close_exc = err
        self.read_done = True
        self.state = CLOSING
        self.closing_transport = True
        self.out.discard()
        self.transport.abort()
        self.wake_reader()

    async def tls_handshake(self):
        """Drive the TLS handshake to completion (raises TlsHandshakeError)."""
        cdef TlsCodec tls = self.tls
        while True:
            try:
                done = tls.do_handshake()
            finally:
                out = tls.pending_output()    # handshake bytes, or the alert on failure
                if out and not self.lost:
                    self.transport.write(out)
            if done:
                tls.decrypt_into(self.reader.buf)   # application data sent right behind
                return
            if self.lost:
                raise TlsHandshakeError("the peer closed the connection during the TLS handshake")
            waiter = reuse_waiter(self)
            self.recv_waiter = waiter
            try:
                await waiter
            finally:
                self.recv_waiter = None

    def write_raw(self, data):
        """Send bytes outside WebSocket framing (the HTTP handshake), through TLS
        if on; on the wire before this returns, after anything pending."""
        self.bytes_sent += len(data)
        self.out.write_now(data)

    @property
    def tls_version(self):
        return self.tls.version if self.tls is not None else None

    # ---- the opening handshake (used by client.py / server.py) ------------
    async def read_head(self):
        """Wait for an HTTP head (up to the blank line) and return it as bytes."""
        cdef ReadBuf b = self.reader.buf
        cdef Py_ssize_t n, end
        while True:
            n = b.end - b.start
            if n >= 4:
                data = PyBytes_FromStringAndSize(b.data + b.start, min(n, MAX_HEAD_BYTES + 4))
                end = data.find(b"\r\n\r\n")
                if end >= 0:
                    b.drop(end + 4)
                    return data[:end + 4]
                if n > MAX_HEAD_BYTES:
                    if self.is_client:
                        raise InvalidHandshakeResponse(f"HTTP head larger than {MAX_HEAD_BYTES} bytes")
                    raise InvalidHandshakeRequest(f"HTTP head larger than {MAX_HEAD_BYTES} bytes", 431)
            if self.lost:
                raise ConnectionError("connection closed during the opening handshake")
            waiter = new_waiter(self.loop)
            self.recv_waiter = waiter
            try:
                await waiter
            finally:
                self.recv_waiter = None

    def shrink_buffers(self):
        """Give back the receive buffer's memory while nothing is buffered
        (it is allocated again when bytes arrive): done after the opening
        handshake and at every keepalive ping, so idle connections and
        connections after a burst of large messages hold no receive slab."""
        released = self.reader.buf.release()
        if self.tls is not None:
            released = self.tls.cipher.release() or released
        return released

    def opened(self, ping_interval=None, ping_timeout=None):
        """Switch to OPEN once the handshake succeeded; start keepalive pings.
        In listener mode: call ``on_open``, then deliver what is already buffered."""
        self.state = OPEN
        self.opened_ns = wall_ns()
        self.shrink_buffers()
        if ping_interval is not None and ping_interval > 0:
            # one timer per loop for every connection, not a task each
            self.keepalive_task = start_keepalive(self, self.loop, ping_interval, ping_timeout)
        if self.listener is not None:
            self.start_listener()

    def _pong_seen(self, future, double sent_at):
        if not future.cancelled() and future.exception() is None:
            self.ping_rtt = monotonic() - sent_at

    # ---- receiving ---------------------------------------------------------
    async def recv(self):
        """The next TEXT or BINARY ``Message`` (a coroutine: ``await conn.recv()``).

        Returns ``None`` once the connection closed cleanly (1000, 1001 or no
        code); raises ``ConnectionClosedError`` when it closed with an error,
        a protocol violation or without a closing handshake (1006).
        Messages already received are always delivered first.
        """
        cdef Message msg = self.ready_message()
        if msg is not None:
            return msg
        return await self.receive(False)

    def __aiter__(self):
        return self

    async def __anext__(self):
        cdef Message msg = self.ready_message()
        if msg is not None:
            return msg
        return await self.receive(True)

    cdef Message ready_message(self):
        """A message already buffered, taken without suspending (None: the
        caller has to wait in receive()). The checks run here, inside the
        caller's coroutine: nothing is taken before it is awaited."""
        cdef Message msg
        if self.in_recv:
            raise ConcurrencyError("another task is already waiting in recv() on this connection")
        if self.listener is not None:
            raise ConcurrencyError("this connection delivers its messages to its listener, not to recv()")
        msg = self.poll()
        if msg is not None:
            if self.outbox:
                self.flush()
            if self.read_paused and self.reader.buf.end - self.reader.buf.start < self.read_low:
                self.read_paused = False
                self.transport.resume_reading()
        return msg

    async def receive(self, bint iterating):
        # Waits for the next message. Only recv() and __anext__ await it, right
        # after ready_message() found nothing buffered and made the checks
        # (nothing can run in between: awaiting it starts it at once).
        cdef Message msg
        self.in_recv = True
        try:
            while True:
                if self.outbox:
                    self.flush()
                if self.read_done or self.lost:
                    if self.read_done:
                        self.finish_reading()
                    if isinstance(self.close_exc, ConnectionClosedOK):
                        if iterating:
                            raise StopAsyncIteration
                        return None
                    raise self.close_exc
                if self.read_paused:
                    self.read_paused = False
                    self.transport.resume_reading()
                waiter = reuse_waiter(self)
                self.recv_waiter = waiter
                await waiter
                msg = self.poll()
                if msg is not None:
                    if self.outbox:
                        self.flush()
                    return msg
        finally:
            self.in_recv = False
            self.recv_waiter = None

    # ---- sending -----------------------------------------------------------
    # send_text/send_binary/send are plain methods returning an awaitable:
    # already complete unless the transport asks us to wait (back-pressure).
    # Listener connections never get the drain() coroutine (callbacks do not
    # await): they learn of back-pressure through on_pause_writing.
    # The frame is handed to the transport before the method returns.
    @cython.binding(False)   # a plain METH_O method: the cheapest call (runs per message)
    def send_text(self, str text):
        """Send one TEXT message: ``await conn.send_text(s)`` (waits only when
        the transport's write buffer is above its high-water mark)."""
        if self.close_sent or self.state != OPEN:
            self.check_send()
        self.send_data(1, text)
        self.messages_out += 1
        if self.write_paused and self.listener is None:
            return self.drain()
        return _READY

    @cython.binding(False)
    def send_binary(self, data):
        """Send one BINARY message from any bytes-like object (not modified):
        ``await conn.send_binary(b)``."""
        if self.close_sent or self.state != OPEN:
            self.check_send()
        if type(data) is str:
            raise TypeError("send_binary takes a bytes-like object; use send_text for str")
        self.send_data(2, data)
        self.messages_out += 1
        if self.write_paused and self.listener is None:
            return self.drain()
        return _READY

    @cython.binding(False)
    def send(self, data):
        """``send_text`` for ``str``, ``send_binary`` for bytes-like objects."""
        if type(data) is str:
            return self.send_text(data)
        return self.send_binary(data)

    def send_many(self, messages):
        """Send several messages with a single write: an iterable of ``str``
        (TEXT) and bytes-like (BINARY) items, in order. Far fewer system calls
        than one ``send_*`` per message when pushing many small messages;
        ``await`` it like ``send_text``."""
        cdef Coalescer out = self.out
        cdef WriteBuf wb
        cdef Py_ssize_t before
        cdef bint now
        if self.close_sent or self.state != OPEN:
            self.check_send()
        # Encoded straight into the loop step's buffer, then written once: at
        # once if nothing else of this step was written before it.
        now = out.can_write_now()
        wb = out.buffer()
        before = wb.end
        try:
            for item in messages:
                self.writer.emit_data(1 if type(item) is str else 2, item, wb, True)
                self.messages_out += 1
        finally:
            self.bytes_sent += wb.end - before
            if now or wb.end >= out.flush_at:
                out.flush()
        if self.write_paused and self.listener is None:
            return self.drain()
        return _READY

    async def send_fragments(self, fragments):
        """Send one message in several frames: an iterable of all-``str`` (TEXT)
        or all-bytes-like (BINARY) pieces."""
        if self.close_sent or self.state != OPEN:
            self.check_send()
        pieces = list(fragments)
        if not pieces:
            raise ValueError("send_fragments needs at least one fragment")
        opcode = 1 if type(pieces[0]) is str else 2
        for i, piece in enumerate(pieces):
            if (type(piece) is str) != (opcode == 1):
                raise TypeError("fragments of one message must be all str or all bytes-like")
            last = i == len(pieces) - 1
            self.send_frame(self.writer.emit_data(opcode if i == 0 else 0, piece, None, last))
            if last:
                self.messages_out += 1
            if self.write_paused:
                await self.drain()

    async def drain(self):
        """Hand everything sent so far to the transport (this loop step's
        coalesced frames included), then wait until the transport's write
        buffer is below its high-water mark."""
        if self.lost:
            self.check_send()
            raise self.close_exc
        self.out.flush()
        if not self.write_paused:
            return
        waiter = self.loop.create_future()
        self.drain_waiters.append(waiter)
        await waiter
        if self.lost:
            raise self.close_exc

    def ping(self, data=None):
        """Send a PING; returns a Future that resolves when its PONG arrives.

        ``await conn.ping()`` waits for the pong (the pong is seen while some
        task is reading the connection). Default payload: 4 random bytes.
        """
        if self.close_sent or self.state != OPEN:
            self.check_send()
        payload = os.urandom(4) if data is None else (data.encode() if isinstance(data, str) else bytes(data))
        frame = self.writer.encode_ping(payload)      # refuses a payload over 125 bytes
        waiter = self.loop.create_future()
        self.add_ping_waiter(payload, waiter)
        self.send_frame(frame)
        return waiter

    async def pong(self, data=b""):
        """Send an unsolicited PONG (a unidirectional heartbeat)."""
        if self.close_sent or self.state != OPEN:
            self.check_send()
        self.send_frame(self.writer.encode_pong(data))

    # ---- closing -----------------------------------------------------------
    async def close(self, code=1000, str reason=""):
        """Run the closing handshake (at most ``close_timeout`` s), then end TCP.

        Idempotent. Messages that arrive after close() was called are dropped.
        """
        if self.state == CONNECTING:
            self.transport.abort()
        elif not self.lost:
            self.start_close(code, reason)
            self.flush()
            try:
                await asyncio.wait_for(self._close_handshake(), self.close_timeout)
            except asyncio.TimeoutError:
                log.debug("closing handshake timed out after %.1fs; aborting", self.close_timeout)
                self.transport.abort()
        await asyncio.shield(self.closed_waiter)

    async def _close_handshake(self):
        while not self.read_done and not self.lost:
            if self.in_recv or self.listener is not None:
                break                    # the reading task / the listener sees the close frame
            if self.poll() is not None:
                continue                 # discard: the application asked to close
            if self.read_done or self.lost:
                break
            waiter = new_waiter(self.loop)
            self.recv_waiter = waiter
            self.in_recv = True
            try:
                if self.read_paused:
                    self.read_paused = False
                    self.transport.resume_reading()
                await waiter
            finally:
                self.in_recv = False
                self.recv_waiter = None
        if self.read_done:
            self.finish_reading()
        await asyncio.shield(self.closed_waiter)

    async def wait_closed(self):
        """Wait until the TCP connection is closed."""
        await asyncio.shield(self.closed_waiter)

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.close()

    # ---- information ---------------------------------------------------------
    @property
    def stats(self):
        """A ``ConnectionStats`` snapshot: messages and bytes in/out, the last
        keepalive round trip, time connected."""
        return ConnectionStats.of(self)

    @property
    def write_buffer_size(self):
        """Bytes sent and not yet taken by the kernel: the transport's buffer
        plus this loop step's coalesced frames."""
        if self.transport is None:
            return 0
        return self.transport.get_write_buffer_size() + self.out.pending_size

    @property
    def socket_buffers(self):
        """The kernel's SO_RCVBUF / SO_SNDBUF of this connection
        (``SocketBuffers``; Linux reports twice what was asked for)."""
        return buffer_sizes_of(self.transport.get_extra_info("socket")) if self.transport is not None else None

    @property
    def closed(self):
        """True once the TCP connection is closed."""
        return self.lost

    @property
    def transport_(self):
        """The asyncio transport underneath."""
        return self.transport

    @property
    def local_address(self):
        return self.transport.get_extra_info("sockname") if self.transport is not None else None

    @property
    def remote_address(self):
        return self.transport.get_extra_info("peername") if self.transport is not None else None

    def set_nodelay(self, bint on):
        sock = self.transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if on else 0)

    def __repr__(self):
        state = {0: "CONNECTING", 1: "OPEN", 2: "CLOSING", 3: "CLOSED"}[self.state]
        return f"<ws.Connection {'client' if self.is_client else 'server'} {state} {self.remote_address}>"


cdef inline Waiter reuse_waiter(Connection conn):
    """The connection's waiter, reset for another wait (see _waiter.reusable)."""
    conn.spare_waiter = reusable(conn.spare_waiter, conn.loop)
    return conn.spare_waiter


# ---- broadcast -----------------------------------------------------------------
# Server-role frames are unmasked, so one encoding serves every server-side
# connection (client-side connections mask, and get a frame each).
cdef FrameWriter _SERVER_FRAMES = FrameWriter(Role.SERVER)


def broadcast(connections, message, *, close_slow=None):
    """Send ``message`` (``str``: TEXT, bytes-like: BINARY) to every open
    connection of ``connections``, encoding the frame once; returns how many
    were skipped.

    A connection that is closing or closed, or whose transport is over its
    write-buffer high-water mark (a slow consumer), is skipped: it can neither
    stall the others nor make memory grow. With ``close_slow=1008`` (policy)
    or ``1013`` (try again later), slow consumers are also closed with that
    code. Never waits; writes are coalesced per loop step like any send.
    """
    cdef Connection conn
    cdef unsigned int opcode
    cdef Py_ssize_t skipped = 0
    cdef object frame = None
    if type(message) is str:
        opcode = 1
    elif PyObject_CheckBuffer(message):
        opcode = 2
    else:
        raise TypeError(f"broadcast takes str or a bytes-like object, not {type(message).__name__}")
    if close_slow is not None:
        _SERVER_FRAMES.encode_close(close_slow, "")      # a code a close frame may carry, or ValueError
    for item in connections:
        if type(item) is not Connection:
            raise TypeError(f"broadcast takes ws.Connection objects, not {type(item).__name__}")
        conn = <Connection>item
        if conn.state != OPEN or conn.close_sent or conn.lost:
            skipped += 1
            continue
        if conn.write_paused:
            skipped += 1
            if close_slow is not None:
                log.info("closing a slow consumer %s with %s", conn.remote_address, close_slow)
                conn.fail_connection(close_slow, "slow consumer")
            continue
        if conn.is_client or conn.writer.extension is not None:
            # (masked, or compressed with this connection's own context)
            data = conn.writer.emit_data(opcode, message, None, True)
        else:
            if frame is None:
                frame = _SERVER_FRAMES.emit_data(opcode, message, None, True)
            data = frame
        conn.messages_out += 1
        conn.send_frame(data)
    return skipped
