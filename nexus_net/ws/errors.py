"""WebSocket exceptions.

Every error found in received bytes is a ``ProtocolError`` that carries the
close code to send to the peer before dropping the connection.
"""

from __future__ import annotations

from nexus_net.errors import NexusNetError


class WebSocketError(NexusNetError):
    """Base class of WebSocket errors."""


class ProtocolError(WebSocketError):
    """The peer broke RFC 6455. ``close_code`` is what to answer with (1002)."""

    close_code: int = 1002

    def __init__(self, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        if close_code is not None:
            self.close_code = close_code


class InvalidDataError(ProtocolError):
    """Frame payload is not acceptable, e.g. invalid UTF-8 in a text message (1007)."""

    close_code = 1007


class CompressionError(InvalidDataError):
    """A compressed message (permessage-deflate) is not valid deflate data:
    corrupt, truncated inside a block, or data after a final block (1007: the
    frames are well formed, their payload is not what the message claims)."""


class MessageTooBigError(ProtocolError):
    """A frame or message is larger than the configured limit (1009)."""

    close_code = 1009


class HandshakeError(WebSocketError):
    """The opening handshake failed.

    ``status`` and ``headers`` are what the peer sent, when it sent anything.
    """

    def __init__(self, message: str, status: int | None = None,
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []


class InvalidHandshakeResponse(HandshakeError):
    """The server's answer to the upgrade request is not an acceptable 101."""


class NegotiationError(InvalidHandshakeResponse):
    """The server's ``Sec-WebSocket-Extensions`` answer is not a valid
    acceptance of what the client offered (RFC 7692 section 7.1): unknown,
    duplicate or out-of-range parameters, or one the client did not allow."""


class HandshakeTimeout(HandshakeError, TimeoutError):
    """The opening handshake did not finish within ``open_timeout``."""


class TooManyRedirects(HandshakeError):
    """The server redirected more than ``max_redirects`` times."""


class InvalidHandshakeRequest(HandshakeError):
    """A client's upgrade request is malformed. ``status`` is what to answer."""


class InvalidURI(WebSocketError, ValueError):
    """The URL is not a usable ws:// or wss:// URL."""


class ConnectionClosed(WebSocketError):
    """The connection is closed; ``code`` and ``reason`` say how.

    ``code`` is the close code the peer sent (or we sent, when we failed the
    connection), 1005 when the close frame had none, 1006 when the TCP
    connection ended without a closing handshake.
    """

    def __init__(self, code: int, reason: str = "", message: str | None = None) -> None:
        self.code = code
        self.reason = reason
        super().__init__(message or f"connection closed with code {code}" + (f": {reason}" if reason else ""))


class ConnectionClosedOK(ConnectionClosed):
    """Closed by a clean closing handshake with 1000, 1001 or no code."""


class ConnectionClosedError(ConnectionClosed):
    """Closed by an error: a protocol violation (ours or the peer's), an error
    close code, a keepalive timeout, or the TCP connection dropping (1006)."""


class ConcurrencyError(WebSocketError, RuntimeError):
    """Two tasks called ``recv()`` on one connection at the same time."""
