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


class InvalidHandshakeRequest(HandshakeError):
    """A client's upgrade request is malformed. ``status`` is what to answer."""
