# cython: boundscheck=False, wraparound=False
"""Sans-IO WebSocket connection: the codec plus the rules of RFC 6455 section 5.5 and 7.

A ``Session`` owns a ``FrameReader`` and a ``FrameWriter`` and decides what a
connection does with control frames: answer pings, match pongs to pings,
run the closing handshake, and turn a protocol error into the close frame to
send. It performs no I/O: frames to send pile up in ``outbox`` (take them
with ``data_to_send()``); the asyncio and blocking transports move them.
"""

from libc.string cimport memcmp

from nexus_net._clock cimport wall_ns
from nexus_net.buf cimport ReadBuf
from nexus_net.ws._reader cimport FrameReader, Message
from nexus_net.ws._writer cimport FrameWriter

import logging

from nexus_net.ws.enums import Role
from nexus_net.ws.errors import ConnectionClosedError, ConnectionClosedOK, ProtocolError

log = logging.getLogger("nexus_net.ws")

cdef object _ROLE_CLIENT = Role.CLIENT


def closed_exception(int code, str reason):
    """The ConnectionClosed subclass for a connection that ended, after a
    closing handshake, with ``code``."""
    if code in (1000, 1001, 1005):
        return ConnectionClosedOK(code, reason)
    return ConnectionClosedError(code, reason)


cdef class Session:
    """One end of an open WebSocket connection, without I/O.

    Feed received bytes through ``reader`` (``feed`` or ``buffer``/``advance``),
    then call ``next()``: it returns the next TEXT or BINARY ``Message`` and
    handles control frames itself; ``None`` means "need more bytes" unless
    ``closed_for_reading`` is true. After each call, send ``data_to_send()``.
    """

    def __init__(self, role, *, max_message_size=None, max_frame_size=None,
                 buffer_size=None, Py_ssize_t backlog=0, bint auto_pong=True, extension=None):
        kwargs = {}
        if max_message_size is not None:
            kwargs["max_message_size"] = max_message_size
        if max_frame_size is not None:
            kwargs["max_frame_size"] = max_frame_size
        if buffer_size is not None:
            kwargs["buffer_size"] = buffer_size
        role = Role(role)
        self.reader = FrameReader(role, backlog=backlog, extension=extension, **kwargs)
        self.writer = FrameWriter(role, extension=extension)
        self.is_client = role is _ROLE_CLIENT
        self.state = OPEN
        self.auto_pong = auto_pong
        self.outbox = []
        self.end_code = -1
        self.end_reason = ""
        self.close_exc = None
        self.ping_waiters = {}
        self.timestamps = True

    def set_extension(self, extension):
        """Use the negotiated ``PerMessageDeflate`` (from the handshake) for
        both directions; before any frame is read or written."""
        self.reader.set_extension(extension)
        self.writer.set_extension(extension)

    @property
    def compression(self):
        """The negotiated ``PerMessageDeflate`` codec, or None."""
        return self.reader.extension

    # ---- reading -----------------------------------------------------------
    cdef Message poll(self):
        """The next data message, or None (more bytes needed, or closed)."""
        cdef Message msg
        if self.read_done:
            return None
        while True:
            try:
                msg = self.reader.next_message()
            except ProtocolError as exc:
                self.fail(exc.close_code, str(exc), exc)
                return None
            if msg is None:
                return None
            if msg.opcode < 8:
                if self.mark_n == 1:
                    # the common case: one read pending, it completed msg
                    msg.received_ns = self.mark_ns[self.mark_first]
                elif self.mark_n:
                    self.stamp(msg)
                if self.intercepting:
                    try:
                        if self.intercept(msg):
                            continue
                    except Exception as exc:
                        log.exception("heartbeat or auto_reply callback failed; closing with 1011")
                        self.fail(1011, "internal error", exc)
                        return None
                self.messages_in += 1
                return msg
            self.handle_control(msg)
            if self.close_received:
                return None

    # ---- receive timestamps ------------------------------------------------
    cdef int begin_read(self) except -1:
        """A transport is about to add received bytes to the reader's buffer."""
        cdef ReadBuf b = self.reader.buf
        self.unread_before = b.end - b.start
        return 0

    cdef int end_read(self) except -1:
        """The bytes of one read are in: remember where they end, and when
        (one clock read per read). Unread counts, not offsets, are compared:
        the buffer may have compacted in between."""
        cdef ReadBuf b = self.reader.buf
        cdef Py_ssize_t added = (b.end - b.start) - self.unread_before
        cdef int slot
        if added <= 0:
            return 0
        self.plain_in += added
        if not self.timestamps:
            self.mark_n = 0           # no stale time for messages read while off
            return 0
        if self.mark_n == MARKS:
            # Nobody parsed for MARKS reads: merge into the newest mark (the
            # older bytes get this later time; never an earlier one).
            slot = (self.mark_first + MARKS - 1) & (MARKS - 1)
        else:
            slot = (self.mark_first + self.mark_n) & (MARKS - 1)
            self.mark_n += 1
        self.mark_pos[slot] = self.plain_in
        self.mark_ns[slot] = wall_ns()
        return 0

    cdef int stamp(self, Message msg) except -1:
        """Give ``msg`` the time of the read that brought its last byte."""
        cdef ReadBuf b = self.reader.buf
        cdef long long end = self.plain_in - (b.end - b.start)   # stream position after msg
        while self.mark_n > 1 and self.mark_pos[self.mark_first] < end:
            self.mark_first = (self.mark_first + 1) & (MARKS - 1)
            self.mark_n -= 1
        msg.received_ns = self.mark_ns[self.mark_first]
        return 0

    def before_read(self):
        """Blocking and user I/O: call before adding bytes to ``reader``'s buffer..."""
        self.begin_read()

    def after_read(self):
        """...and after, so messages carry ``received_ns``."""
        self.end_read()

    # ---- application-level interception -------------------------------------
    def set_interceptors(self, hb_prefix=None, hb_is_pong=None, ar_prefix=None, ar_fn=None,
                         Py_ssize_t hb_max_size=-1):
        """Take heartbeat answers (``hb_is_pong(msg)`` true) and messages that
        ``ar_fn(msg)`` answers (its reply, str or bytes, is sent; ``None``:
        deliver the message) out of the stream. Each callable sees only data
        messages starting with its prefix, and ``hb_is_pong`` only those of at
        most ``hb_max_size`` bytes (-1: any), both checked in C."""
        self.hb_prefix = bytes(hb_prefix or b"")
        self.hb_max_size = hb_max_size
        self.hb_is_pong = hb_is_pong
        self.ar_prefix = bytes(ar_prefix or b"")
        self.ar_fn = ar_fn
        self.intercepting = hb_is_pong is not None or ar_fn is not None

    cdef bint intercept(self, Message msg) except -1:
        cdef Py_ssize_t n
        if self.hb_is_pong is not None:
            n = len(self.hb_prefix)
            if (msg.length >= n and (self.hb_max_size < 0 or msg.length <= self.hb_max_size)
                    and memcmp(msg.ptr, <const char*>self.hb_prefix, n) == 0):
                if self.hb_is_pong(msg):
                    self.heartbeat_answers += 1
                    self.heartbeat_answer_ns = msg.received_ns if msg.received_ns else wall_ns()
                    return True
        if self.ar_fn is not None:
            n = len(self.ar_prefix)
            if msg.length >= n and memcmp(msg.ptr, <const char*>self.ar_prefix, n) == 0:
                reply = self.ar_fn(msg)
                if reply is None:
                    return False
                if not self.close_sent and self.state == OPEN:
                    self.queue(self.writer.emit_data(1 if type(reply) is str else 2, reply, None, True))
                    self.messages_out += 1
                return True
        return False

    cdef int handle_control(self, Message msg) except -1:
        cdef int code
        if msg.opcode == 9:
            if self.auto_pong and not self.close_sent:
                self.queue(self.writer.encode_pong(msg))
        elif msg.opcode == 10:
            if self.ping_waiters:
                self.pong_received(msg.bytes())
        else:
            self.close_received = True
            self.read_done = True
            code = msg.close_code
            reason = msg.close_reason
            if not self.close_sent:
                # Echo the peer's code (RFC 6455 section 5.5.1); an empty close
                # is answered with an empty close.
                self.queue(self.writer.encode_close(None if code == 1005 else code))
                self.close_sent = True
            # The peer's close frame may be parsed after TCP already dropped
            # (it was buffered): it still ends the connection cleanly, and
            # replaces the 1006 that mark_lost() assumed.
            if self.end_code < 0 or (self.state == CLOSED and self.end_code == 1006):
                self.end_code = code
                self.end_reason = reason
            if self.state != CLOSED:
                self.state = CLOSING
            self.close_exc = closed_exception(self.end_code, self.end_reason)
            log.debug("close frame received: %d %r", code, reason)
        return 0

    def pong_received(self, bytes payload):
        """Resolve the waiters of the ping with this payload, and of every earlier
        ping (a pong acknowledges all pings sent before it, RFC 6455 5.5.3)."""
        if payload not in self.ping_waiters:
            return
        for key in list(self.ping_waiters):
            for waiter in self.ping_waiters.pop(key):
                if not waiter.done():
                    waiter.set_result(None)
            if key == payload:
                break

    # ---- writing -----------------------------------------------------------
    cdef int queue(self, bytes frame) except -1:
        self.outbox.append(frame)
        return 0

    cdef int fail(self, int code, str reason, object cause) except -1:
        """Fail the connection (RFC 6455 7.1.7): queue a close frame with
        ``code`` and remember why; the transport then closes TCP."""
        if self.close_exc is not None:
            return 0
        reason_bytes = reason.encode("utf-8")
        if len(reason_bytes) > 123:
            reason = reason_bytes[:120].decode("utf-8", "ignore") + "..."
        if not self.close_sent:              # (a lost connection already has close_exc)
            self.queue(self.writer.encode_close(code, reason))
            self.close_sent = True
        self.end_code = code
        self.end_reason = reason
        self.state = CLOSING
        self.read_done = True
        exc = ConnectionClosedError(code, reason, f"connection failed with {code}: {reason}")
        exc.__cause__ = cause
        self.close_exc = exc
        log.debug("failing connection: %d %s", code, reason)
        return 0

    def fail_connection(self, int code, str reason):
        """Fail the connection with ``code`` (e.g. 1011 on a keepalive timeout)."""
        self.fail(code, reason, None)

    def start_close(self, code=1000, str reason=""):
        """Queue our close frame (once); returns False if one was already sent."""
        if self.close_sent or self.state == CLOSED:
            return False
        self.queue(self.writer.encode_close(code, reason))
        self.close_sent = True
        self.state = CLOSING
        return True

    def mark_lost(self):
        """The transport is gone: record 1006 unless the connection already ended."""
        self.state = CLOSED
        if self.close_exc is None:
            self.end_code = 1006
            self.end_reason = ""
            self.close_exc = ConnectionClosedError(
                1006, "", "connection closed without a closing handshake (1006)")
        for waiters in self.ping_waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(self.close_exc)
        self.ping_waiters.clear()

    def add_ping_waiter(self, bytes payload, waiter):
        self.ping_waiters.setdefault(payload, []).append(waiter)

    # ---- Python API (the blocking client and user I/O use these) ----------
    def next(self):
        """Next TEXT/BINARY message, or None; see ``closed_for_reading``."""
        return self.poll()

    def data_to_send(self):
        """Frames produced since the last call (pongs, close frames), as one bytes."""
        if not self.outbox:
            return b""
        out = b"".join(self.outbox)
        self.outbox.clear()
        return out

    @property
    def close_code(self):
        """How the connection ended: the close code, 1006 when TCP dropped
        without a closing handshake; None while it is open."""
        return None if self.end_code < 0 else self.end_code

    @property
    def close_reason(self):
        """The close reason text; None while the connection is open."""
        return None if self.end_code < 0 else self.end_reason

    @property
    def has_output(self):
        return bool(self.outbox)

    @property
    def closed_for_reading(self):
        """True once no more messages will come (close received or connection failed)."""
        return self.read_done

    def check_send(self):
        """Raise the ConnectionClosed exception if sending is no longer allowed."""
        if self.close_sent or self.state >= CLOSING:
            raise self.close_exc if self.close_exc is not None else ConnectionClosedOK(
                1000, "", "connection is closing: close() was called")
