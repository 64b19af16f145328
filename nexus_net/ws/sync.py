"""Blocking WebSocket client over a plain socket: ``ws.sync.connect(url)``.

Bytes are received with ``socket.recv_into`` straight into the reader's
buffer; messages, errors and limits are the same as the asyncio client's.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Sequence

from nexus_net._blocking_io import BlockingIo
from nexus_net._sockopts import apply_buffer_sizes, buffer_sizes_of, check_buffer_sizes
from nexus_net.proxy import check_proxy
from nexus_net.proxy.tunnel import open_socket
from nexus_net.tls import TlsCodec, TlsConfig, TlsError
from nexus_net.ws._reader import DEFAULT_MAX_MESSAGE_SIZE, Message
from nexus_net.ws._session import Session
from nexus_net.ws.enums import Role
from nexus_net.ws.errors import (ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, HandshakeTimeout,
                                 InvalidHandshakeResponse, TooManyRedirects)
from nexus_net.ws.deflate import Deflate
from nexus_net.ws.deflate import resolve as resolve_compression
from nexus_net.ws.handshake import MAX_HEAD_BYTES, build_request, check_response, redirect_target
from nexus_net.ws.reconnect import Backoff, RetryPolicy
from nexus_net.ws.stats import ConnectionStats
from nexus_net.ws.url import WsUrl, parse_url, resolve_redirect

log = logging.getLogger("nexus_net.ws.sync")



class Connection:
    """A blocking WebSocket client connection. Not thread-safe: use it from
    one thread, or guard it with a lock."""

    def __init__(self, io: BlockingIo, session: Session, *, close_timeout: float,
                 subprotocol: str | None, response_headers: list[tuple[str, str]],
                 ping_interval: float | None = None, ping_timeout: float | None = None,
                 request_path: str | None = None) -> None:
        self.io = io
        self.sock = io.sock
        self.session = session
        self.close_timeout = close_timeout
        self.subprotocol = subprotocol
        self.response_headers = response_headers
        self.request_path = request_path   # the resource after redirects, as on the async client
        self.lost = False
        self.opened_ns = time.time_ns()
        self.bytes_received = 0           # plaintext bytes
        self.heartbeat_rtt: float | None = None   # (no application heartbeats here)
        # Keepalive runs inside recv() (no thread: see docs/decisions.md).
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.last_rx = time.monotonic()
        self.ping_sent_at: float | None = None
        self.ping_rtt: float | None = None

    # ---- receiving ---------------------------------------------------------
    def recv(self, timeout: float | None = None) -> Message | None:
        """The next TEXT/BINARY message; ``None`` after a clean close.

        Raises ``TimeoutError`` when nothing arrives within ``timeout``
        seconds (the connection stays usable) and ``ConnectionClosedError``
        when the connection ended with an error or dropped (1006).
        """
        session = self.session
        msg = session.next()
        if msg is not None:
            if session.has_output:
                self._send_raw(session.data_to_send())
            return msg
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if session.has_output:
                self._send_raw(session.data_to_send())
            if session.closed_for_reading or self.lost:
                self._finish()
                exc = self._closed_exc()
                if isinstance(exc, ConnectionClosedOK):
                    return None
                raise exc
            now = time.monotonic()
            wait = None
            if deadline is not None:
                wait = deadline - now
                if wait <= 0:
                    raise TimeoutError(f"no message within {timeout}s")
            if self.ping_interval is not None:
                tick = self._keepalive(now)
                if tick is None:                  # the keepalive failed the connection
                    continue
                wait = tick if wait is None else min(wait, tick)
            self.sock.settimeout(wait)
            try:
                session.before_read()
                n = self.io.fill(session.reader)
                session.after_read()
                self.bytes_received += n
            except socket.timeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"no message within {timeout}s") from None
                continue                          # a keepalive tick
            except (OSError, TlsError) as exc:
                log.debug("receive failed: %r", exc)
                n = 0
            if n:
                self.last_rx = time.monotonic()
            if n == 0:
                self._lost()
                continue                  # deliver what is still buffered first
            msg = session.next()
            if msg is not None:
                if session.has_output:
                    self._send_raw(session.data_to_send())
                return msg

    def _keepalive(self, now: float) -> float | None:
        """Send a ping when nothing arrived for ``ping_interval``; fail with
        1011 when nothing arrived for ``ping_timeout`` after it. Returns how
        long recv() may block before the next check (None: connection failed)."""
        assert self.ping_interval is not None
        if self.ping_sent_at is not None and self.last_rx > self.ping_sent_at:
            self.ping_sent_at = None              # any byte proves the peer alive
        if self.ping_sent_at is None:
            due = self.last_rx + self.ping_interval
            if now < due:
                return due - now
            if self.session.close_sent or self.lost:
                return self.ping_interval
            self.ping_sent_at = now
            payload = os.urandom(4)
            self.session.add_ping_waiter(payload, _PongClock(self, now))
            self._send_raw(self.session.writer.encode_ping(payload))
        if self.ping_timeout is None:
            return self.ping_interval
        expires = self.ping_sent_at + self.ping_timeout
        if now >= expires:
            log.warning("no answer to a keepalive ping within %.1fs; closing with 1011", self.ping_timeout)
            self.session.fail_connection(1011, "keepalive ping timeout")
            try:
                self._send_raw(self.session.data_to_send())
            except ConnectionClosed:
                pass
            self._lost()
            return None
        return expires - now

    def __iter__(self) -> Connection:
        return self

    def __next__(self) -> Message:
        msg = self.recv()
        if msg is None:
            raise StopIteration
        return msg

    def _closed_exc(self) -> ConnectionClosed:
        exc = self.session.close_exc
        return exc if exc is not None else ConnectionClosedError(1006, "", "connection lost")

    # ---- sending -----------------------------------------------------------
    def _send_raw(self, data: bytes) -> None:
        if self.lost:
            return
        try:
            self.io.send(data)
            self.session.bytes_sent += len(data)
        except OSError as exc:
            log.debug("send failed: %r", exc)
            self._lost()
            raise self._closed_exc() from exc

    @property
    def socket_buffers(self) -> Any:
        """The kernel's SO_RCVBUF / SO_SNDBUF of this connection (``SocketBuffers``)."""
        return buffer_sizes_of(self.sock)

    def send_text(self, text: str) -> None:
        self.session.check_send()
        self._send_raw(self.session.writer.encode_text(text))
        self.session.messages_out += 1

    def send_binary(self, data: Any) -> None:
        self.session.check_send()
        self._send_raw(self.session.writer.encode_binary(data))
        self.session.messages_out += 1

    def send(self, data: Any) -> None:
        if isinstance(data, str):
            self.send_text(data)
        else:
            self.send_binary(data)

    def ping(self, data: bytes = b"") -> None:
        """Send a PING (its PONG is consumed by a later ``recv``)."""
        self.session.check_send()
        self._send_raw(self.session.writer.encode_ping(data or os.urandom(4)))

    def pong(self, data: bytes = b"") -> None:
        self.session.check_send()
        self._send_raw(self.session.writer.encode_pong(data))

    # ---- closing -----------------------------------------------------------
    def close(self, code: int = 1000, reason: str = "") -> None:
        """Closing handshake (at most ``close_timeout`` s), then close the socket."""
        session = self.session
        if not self.lost and session.start_close(code, reason):
            try:
                self._send_raw(session.data_to_send())
            except ConnectionClosedError:
                pass
            deadline = time.monotonic() + self.close_timeout
            while not session.closed_for_reading and not self.lost:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.sock.settimeout(remaining)
                try:
                    session.before_read()
                    n = self.io.fill(session.reader)
                    session.after_read()
                except (OSError, TlsError):
                    n = 0
                if n == 0:
                    self._lost()
                    break
                while session.next() is not None:
                    pass              # the application asked to close: drop messages
        self._finish()

    def _finish(self) -> None:
        """After the closing handshake: wait briefly for the server's TCP close."""
        if not self.lost:
            if self.session.has_output:
                try:
                    self._send_raw(self.session.data_to_send())
                except ConnectionClosedError:
                    pass
            codec = self.io.codec
            if codec is not None and codec.handshake_done and not codec.close_sent:
                try:
                    self.sock.sendall(codec.shutdown())     # close_notify: we are done sending
                except OSError:
                    pass
            if self.session.close_received:
                self.sock.settimeout(self.close_timeout)
                try:
                    while self.sock.recv(4096):
                        pass
                except OSError:
                    pass
            self._lost()

    def _lost(self) -> None:
        if not self.lost:
            self.lost = True
            self.session.mark_lost()
            try:
                self.io.close()
            except OSError:
                pass

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def compression(self) -> Any:
        """The negotiated ``PerMessageDeflate`` codec, or None."""
        return self.session.compression

    @property
    def closed(self) -> bool:
        return self.lost

    @property
    def close_exc(self) -> ConnectionClosed | None:
        """How the connection ended (None while it is open)."""
        return self.session.close_exc

    @property
    def stats(self) -> ConnectionStats:
        """As for the asyncio client (``bytes_in`` counts plaintext here)."""
        return ConnectionStats.of(self)

    # the counters ConnectionStats.of reads, named as on the asyncio connection
    @property
    def messages_in(self) -> int:
        return self.session.messages_in

    @property
    def messages_out(self) -> int:
        return self.session.messages_out

    @property
    def bytes_sent(self) -> int:
        return self.session.bytes_sent

    @property
    def close_code(self) -> int | None:
        return self.session.close_code

    @property
    def close_reason(self) -> str | None:
        return self.session.close_reason

    @property
    def local_address(self) -> Any:
        return None if self.lost else self.sock.getsockname()

    @property
    def remote_address(self) -> Any:
        return None if self.lost else self.sock.getpeername()


class _PongClock:
    """A ping waiter (the Session resolves it when the pong arrives) that
    records the keepalive round trip."""

    def __init__(self, conn: Connection, sent_at: float) -> None:
        self.conn = conn
        self.sent_at = sent_at
        self.finished = False

    def done(self) -> bool:
        return self.finished

    def set_result(self, _: Any) -> None:
        self.finished = True
        self.conn.ping_rtt = time.monotonic() - self.sent_at

    def set_exception(self, _: BaseException) -> None:
        self.finished = True


def connect(url: str, *, headers: Any = None, subprotocols: Sequence[str] | None = None,
            origin: str | None = None, tls: Any = None, nodelay: bool = True,
            open_timeout: float | None = 10.0, close_timeout: float = 10.0,
            max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, max_frame_size: int | None = None,
            auto_pong: bool = True, read_buffer_size: int = 64 * 1024,
            max_redirects: int = 5, ping_interval: float | None = 20.0,
            ping_timeout: float | None = 20.0, reconnect: bool = False,
            backoff_initial: float = 0.1, backoff_factor: float = 2.0, backoff_max: float = 30.0,
            backoff_reset: float = 60.0, max_attempts: int | None = None,
            so_rcvbuf: int | None = None, so_sndbuf: int | None = None,
            proxy: Any = True, proxy_tls: Any = None, compression: Any = None) -> Any:
    """Open a blocking WebSocket connection; arguments as for ``ws.connect``
    (``proxy``/``proxy_tls`` and ``compression`` included: docs/proxies.md,
    docs/compression.md).

    ``ping_interval``/``ping_timeout`` (20 s/20 s): keepalive pings, checked
    while the application waits in ``recv()``. ``reconnect=True`` returns a
    ``ConnectionIterator`` instead: ``for conn in ws.sync.connect(url,
    reconnect=True)`` yields a fresh connection each time the previous one
    ended for a retryable reason (backoff and retry rules as ``ws.connect``).
    """
    check_buffer_sizes(so_rcvbuf, so_sndbuf)
    proxy = check_proxy(proxy)                # a bad proxy URL fails now
    deflate = resolve_compression(compression, server=False)

    def open_one() -> Connection:
        return _open(url, buffer_sizes=(so_rcvbuf, so_sndbuf), proxy=(proxy, proxy_tls), headers=headers,
                     subprotocols=subprotocols, origin=origin, tls=tls, compression=deflate,
                     nodelay=nodelay, open_timeout=open_timeout, close_timeout=close_timeout,
                     max_message_size=max_message_size, max_frame_size=max_frame_size,
                     auto_pong=auto_pong, read_buffer_size=read_buffer_size,
                     max_redirects=max_redirects, ping_interval=ping_interval, ping_timeout=ping_timeout)
    if not reconnect:
        return open_one()
    parse_url(url)                              # an InvalidURI is raised now
    policy = RetryPolicy(url, Backoff(backoff_initial, backoff_factor, backoff_max, backoff_reset),
                         max_attempts)
    return ConnectionIterator(open_one, policy)


class ConnectionIterator:
    """``for conn in ws.sync.connect(url, reconnect=True)``: the blocking twin
    of ``async for conn in ws.connect(url)`` (same RetryPolicy)."""

    def __init__(self, open_one: Any, policy: RetryPolicy, sleep: Any = time.sleep) -> None:
        self.open_one = open_one
        self.policy = policy
        self.sleep = sleep
        self.current: Connection | None = None
        self.opened_at = 0.0
        self.reconnects = 0

    def __iter__(self) -> ConnectionIterator:
        return self

    def __next__(self) -> Connection:
        why = "first connection"
        previous = self.current
        if previous is not None:
            still_open = previous.close_exc is None
            previous.close()
            step = self.policy.following(previous.close_exc, still_open, time.monotonic() - self.opened_at)
            if step is None:
                self.current = None
                raise StopIteration
            self.sleep(step[0])
            why = step[1]
            self.reconnects += 1
        while True:
            self.policy.attempt(why)
            try:
                self.current = self.open_one()
                break
            except Exception as exc:
                delay, reason = self.policy.failed(exc)
                why = f"retry after {reason}"
                self.sleep(delay)
        self.policy.succeeded()
        self.opened_at = time.monotonic()
        return self.current


def _open(url: str, *, headers: Any, subprotocols: Sequence[str] | None, origin: str | None, tls: Any,
          nodelay: bool, open_timeout: float | None, close_timeout: float, max_message_size: int,
          max_frame_size: int | None, auto_pong: bool, read_buffer_size: int, max_redirects: int,
          ping_interval: float | None, ping_timeout: float | None,
          buffer_sizes: tuple[int | None, int | None] = (None, None),
          proxy: tuple[Any, Any] = (True, None), compression: Deflate | None = None) -> Connection:
    wsurl = parse_url(url)
    if tls is not None and not wsurl.secure:
        raise ValueError(f"tls= was given for {url!r}: use a wss:// URL for TLS")
    extra = list(headers.items() if hasattr(headers, "items") else (headers or ()))
    offered = list(subprotocols or ())
    deadline = None if open_timeout is None else time.monotonic() + open_timeout
    for _ in range(max_redirects + 1):
        session = Session(Role.CLIENT, max_message_size=max_message_size,
                          max_frame_size=max_frame_size, buffer_size=read_buffer_size,
                          auto_pong=auto_pong)
        if wsurl.secure and tls is None:
            tls = TlsConfig()
        result = _handshake(wsurl, session, extra, offered, origin, nodelay, deadline, close_timeout,
                            tls if wsurl.secure else None, buffer_sizes, proxy, compression)
        if isinstance(result, Connection):
            result.ping_interval = ping_interval if ping_interval and ping_interval > 0 else None
            result.ping_timeout = ping_timeout
            return result
        wsurl = result
    raise TooManyRedirects(f"more than {max_redirects} redirects, last to {wsurl}")


def _remaining(deadline: float | None, url: WsUrl) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise HandshakeTimeout(f"opening handshake with {url} did not complete in time")
    return left


def _handshake(url: WsUrl, session: Session, extra: list[tuple[str, str]], offered: list[str],
               origin: str | None, nodelay: bool, deadline: float | None,
               close_timeout: float, tls: TlsConfig | None,
               buffer_sizes: tuple[int | None, int | None] = (None, None),
               proxy: tuple[Any, Any] = (True, None),
               compression: Deflate | None = None) -> Connection | WsUrl:
    try:
        # (the proxy is looked up per URL: a redirect's target gets its own decision)
        sock, first = open_socket(proxy[0], proxy[1], url.scheme, url.host, url.port,
                                  timeout=_remaining(deadline, url))
    except socket.timeout:
        raise HandshakeTimeout(f"TCP connect to {url} (or its proxy's handshake) timed out") from None
    io = BlockingIo(sock, TlsCodec(tls, False, url.host) if tls is not None else None, first)
    try:
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        apply_buffer_sizes(sock, *buffer_sizes)
        if io.codec is not None:
            sock.settimeout(_remaining(deadline, url))
            try:
                io.tls_handshake(session.reader)
            except socket.timeout:
                raise HandshakeTimeout(f"TLS handshake with {url} timed out") from None
        request, key = build_request(url.host, url.resource, port=url.port, secure=url.secure,
                                     origin=origin, subprotocols=offered, extra_headers=extra,
                                     compression=compression)
        io.send(request)
        reader = session.reader
        while True:
            pending = reader.peek(MAX_HEAD_BYTES + 4)
            end = pending.find(b"\r\n\r\n")
            if end >= 0:
                head = pending[:end + 4]
                reader.skip(end + 4)          # frames may follow in the same read
                break
            if len(pending) > MAX_HEAD_BYTES:
                raise InvalidHandshakeResponse(f"HTTP head larger than {MAX_HEAD_BYTES} bytes")
            sock.settimeout(_remaining(deadline, url))
            try:
                n = io.fill(reader)
            except socket.timeout:
                raise HandshakeTimeout(f"opening handshake with {url} timed out") from None
            if n == 0:
                raise ConnectionError(f"{url} closed the connection during the opening handshake")
        location = redirect_target(head)
        if location is not None:
            sock.close()
            return resolve_redirect(url, location)
        response = check_response(head, key, offered, compression)
    except BaseException:
        sock.close()
        raise
    if response.extension is not None:
        session.set_extension(response.extension)
    sock.settimeout(None)
    return Connection(io, session, close_timeout=close_timeout,
                      subprotocol=response.subprotocol, response_headers=response.headers,
                      request_path=url.resource)
