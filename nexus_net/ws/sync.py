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

from nexus_net.ws._reader import DEFAULT_MAX_MESSAGE_SIZE, Message
from nexus_net.ws._session import Session
from nexus_net.ws.enums import Role
from nexus_net.ws.errors import (ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, HandshakeTimeout,
                                 InvalidHandshakeResponse, TooManyRedirects)
from nexus_net.ws.handshake import MAX_HEAD_BYTES, _parse_head, build_request, check_response
from nexus_net.ws.url import WsUrl, parse_url, resolve_redirect

log = logging.getLogger("nexus_net.ws.sync")

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
RECV_SIZE = 64 * 1024


class Connection:
    """A blocking WebSocket client connection. Not thread-safe: use it from
    one thread, or guard it with a lock."""

    def __init__(self, sock: socket.socket, session: Session, *, close_timeout: float,
                 subprotocol: str | None, response_headers: list[tuple[str, str]]) -> None:
        self.sock = sock
        self.session = session
        self.close_timeout = close_timeout
        self.subprotocol = subprotocol
        self.response_headers = response_headers
        self.lost = False
        self._reader = session.reader

    # ---- receiving ---------------------------------------------------------
    def recv(self, timeout: float | None = None) -> Message | None:
        """The next TEXT/BINARY message; ``None`` after a clean close.

        Raises ``TimeoutError`` when nothing arrives within ``timeout``
        seconds (the connection stays usable) and ``ConnectionClosedError``
        when the connection ended with an error or dropped (1006).
        """
        session, reader = self.session, self._reader
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
                n = self.sock.recv_into(reader.buffer(RECV_SIZE))
            except socket.timeout:
                raise TimeoutError(f"no message within {timeout}s") from None
            except OSError as exc:
                log.debug("socket error: %r", exc)
                n = 0
            if n == 0:
                self._lost()
                continue                  # deliver what is still buffered first
            reader.advance(n)
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
            self.sock.sendall(data)
        except OSError as exc:
            log.debug("send failed: %r", exc)
            self._lost()
            raise self._closed_exc() from exc

    def send_text(self, text: str) -> None:
        self.session.check_send()
        self._send_raw(self.session.writer.encode_text(text))

    def send_binary(self, data: Any) -> None:
        self.session.check_send()
        self._send_raw(self.session.writer.encode_binary(data))

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
                    n = self.sock.recv_into(self._reader.buffer(RECV_SIZE))
                except OSError:
                    n = 0
                if n == 0:
                    self._lost()
                    break
                self._reader.advance(n)
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
                self.sock.close()
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
    if tls is not None or wsurl.secure:
        raise NotImplementedError("wss:// and tls= need the TLS layer, which is not built yet")
    extra = list(headers.items() if hasattr(headers, "items") else (headers or ()))
    offered = list(subprotocols or ())
    deadline = None if open_timeout is None else time.monotonic() + open_timeout
    for _ in range(max_redirects + 1):
        session = Session(Role.CLIENT, max_message_size=max_message_size,
                          max_frame_size=max_frame_size, buffer_size=read_buffer_size,
                          auto_pong=auto_pong)
        result = _handshake(wsurl, session, extra, offered, origin, nodelay, deadline, close_timeout)
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
               close_timeout: float) -> Connection | WsUrl:
    try:
        sock = socket.create_connection((url.host, url.port), timeout=_remaining(deadline, url))
    except socket.timeout:
        raise HandshakeTimeout(f"TCP connect to {url} timed out") from None
    try:
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request, key = build_request(url.host, url.resource, port=url.port, secure=url.secure,
                                     origin=origin, subprotocols=offered, extra_headers=extra)
        sock.sendall(request)
        reader = session.reader
        while True:
            sock.settimeout(_remaining(deadline, url))
            try:
                n = sock.recv_into(reader.buffer(RECV_SIZE))
            except socket.timeout:
                raise HandshakeTimeout(f"opening handshake with {url} timed out") from None
            if n == 0:
                raise ConnectionError(f"{url} closed the connection during the opening handshake")
            reader.advance(n)
            pending = reader.peek(MAX_HEAD_BYTES + 4)
            end = pending.find(b"\r\n\r\n")
            if end >= 0:
                head = pending[:end + 4]
                reader.skip(end + 4)
                break
            if len(pending) > MAX_HEAD_BYTES:
                raise InvalidHandshakeResponse(f"HTTP head larger than {MAX_HEAD_BYTES} bytes")
        parts = head.split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
        if status in REDIRECT_STATUSES:
            _, headers = _parse_head(head, "redirect response", InvalidHandshakeResponse)
            location = next((v for k, v in headers if k.lower() == "location"), None)
            if location is None:
                raise InvalidHandshakeResponse(f"{status} redirect without a Location header",
                                               status, headers)
            sock.close()
            return resolve_redirect(url, location)
        response = check_response(head, key, offered)
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return Connection(sock, session, close_timeout=close_timeout,
                      subprotocol=response.subprotocol, response_headers=response.headers)
