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
from nexus_net.tls import TlsCodec, TlsConfig, TlsError
from nexus_net.ws._reader import DEFAULT_MAX_MESSAGE_SIZE, Message
from nexus_net.ws._session import Session
from nexus_net.ws.enums import Role
from nexus_net.ws.errors import (ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, HandshakeTimeout,
                                 InvalidHandshakeResponse, TooManyRedirects)
from nexus_net.ws.handshake import MAX_HEAD_BYTES, build_request, check_response, redirect_target
from nexus_net.ws.stats import ConnectionStats
from nexus_net.ws.url import WsUrl, parse_url, resolve_redirect

log = logging.getLogger("nexus_net.ws.sync")



class Connection:
    """A blocking WebSocket client connection. Not thread-safe: use it from
    one thread, or guard it with a lock."""

    def __init__(self, io: BlockingIo, session: Session, *, close_timeout: float,
                 subprotocol: str | None, response_headers: list[tuple[str, str]]) -> None:
        self.io = io
        self.sock = io.sock
        self.session = session
        self.close_timeout = close_timeout
        self.subprotocol = subprotocol
        self.response_headers = response_headers
        self.lost = False
        self.opened_ns = time.time_ns()
        self.bytes_in = 0

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
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no message within {timeout}s")
                self.sock.settimeout(remaining)
            else:
                self.sock.settimeout(None)
            try:
                session.before_read()
                n = self.io.fill(session.reader)
                session.after_read()
                self.bytes_in += n
            except socket.timeout:
                raise TimeoutError(f"no message within {timeout}s") from None
            except (OSError, TlsError) as exc:
                log.debug("receive failed: %r", exc)
                n = 0
            if n == 0:
                self._lost()
                continue                  # deliver what is still buffered first
            msg = session.next()
            if msg is not None:
                if session.has_output:
                    self._send_raw(session.data_to_send())
                return msg

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
    def closed(self) -> bool:
        return self.lost

    @property
    def stats(self) -> ConnectionStats:
        """As for the asyncio client (``bytes_in`` counts plaintext here)."""
        s = self.session
        return ConnectionStats(messages_in=s.messages_in, messages_out=s.messages_out,
                               bytes_in=self.bytes_in, bytes_out=s.bytes_sent, ping_rtt=None,
                               heartbeat_rtt=None, reconnects=0, connected_at_ns=self.opened_ns,
                               connected_for=0.0 if self.lost else (time.time_ns() - self.opened_ns) / 1e9)

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


def connect(url: str, *, headers: Any = None, subprotocols: Sequence[str] | None = None,
            origin: str | None = None, tls: Any = None, nodelay: bool = True,
            open_timeout: float | None = 10.0, close_timeout: float = 10.0,
            max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, max_frame_size: int | None = None,
            auto_pong: bool = True, read_buffer_size: int = 64 * 1024,
            max_redirects: int = 5) -> Connection:
    """Open a blocking WebSocket connection; arguments as for ``ws.connect``."""
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
                            tls if wsurl.secure else None)
        if isinstance(result, Connection):
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
               close_timeout: float, tls: TlsConfig | None) -> Connection | WsUrl:
    try:
        sock = socket.create_connection((url.host, url.port), timeout=_remaining(deadline, url))
    except socket.timeout:
        raise HandshakeTimeout(f"TCP connect to {url} timed out") from None
    io = BlockingIo(sock, TlsCodec(tls, False, url.host) if tls is not None else None)
    try:
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if io.codec is not None:
            sock.settimeout(_remaining(deadline, url))
            try:
                io.tls_handshake(session.reader)
            except socket.timeout:
                raise HandshakeTimeout(f"TLS handshake with {url} timed out") from None
        request, key = build_request(url.host, url.resource, port=url.port, secure=url.secure,
                                     origin=origin, subprotocols=offered, extra_headers=extra)
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
        response = check_response(head, key, offered)
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return Connection(io, session, close_timeout=close_timeout,
                      subprotocol=response.subprotocol, response_headers=response.headers)
