"""HTTP/1.1 exceptions."""

from __future__ import annotations

from nexus_net.errors import BufferFullError, NexusNetError


class HttpError(NexusNetError):
    """Base class of HTTP errors."""


class InvalidMessage(HttpError):
    """The bytes are not a well-formed HTTP/1.x message (or are a smuggling shape)."""


class InvalidResponse(InvalidMessage):
    """The bytes are not a well-formed HTTP/1.x response (or are a smuggling shape)."""


class ContentEncodingError(InvalidResponse):
    """A compressed body could not be decoded: corrupt or truncated data, an
    unsupported or stacked Content-Encoding, or text()/json() asked of a body
    left encoded (``decode=False``)."""


class HeadTooLarge(InvalidResponse):
    """The status line and headers exceed ``max_head_bytes`` or ``max_headers``."""


class InvalidRequest(InvalidMessage):
    """The bytes are not a well-formed HTTP/1.x request (a server answers 400)."""


class RequestHeadTooLarge(InvalidRequest):
    """The request line and headers exceed ``max_head_bytes`` or ``max_headers``
    (a server answers 431)."""


class BufferTooSmall(HttpError, ValueError):
    """``write_request``/``write_response`` was given a buffer too small for the
    message; ``needed`` is the size it takes."""

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = needed


class BodyTooLarge(HttpError):
    """The body is (or is declared to be) larger than ``max_body_size``."""


class RequestTimeout(HttpError, TimeoutError):
    """Connecting, or waiting for the response, took longer than allowed."""


class ConnectionLost(HttpError, ConnectionError):
    """The server closed the connection before the response was complete."""


class ClientClosed(HttpError):
    """A request was sent on a client after its ``close()``."""


class ReadBufferFull(HttpError, BufferFullError):
    """More bytes were fed than the reader may buffer without ``next()`` being called."""
