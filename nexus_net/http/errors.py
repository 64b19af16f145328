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


# ---- what happened to a request (issue 14) -------------------------------------------------
# A transport failure is one of two kinds, told apart by whether any byte of
# the request was handed to the connection. Each concrete class also keeps
# the base a caller caught before (RequestTimeout or ConnectionLost).

class _Outcome(HttpError):
    """Common fields: ``method``, ``target``, ``bytes_sent`` (bytes of the
    request handed to the connection), ``bytes_received`` (bytes of a response
    that arrived), ``status`` (the response's status if its head arrived)."""

    method: str | None = None
    target: str | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    status: int | None = None

    @classmethod
    def of(cls, message: str, *, method: str | None = None, target: str | None = None,
           bytes_sent: int = 0, bytes_received: int = 0, status: int | None = None) -> _Outcome:
        exc = cls(message)
        exc.method, exc.target = method, target
        exc.bytes_sent, exc.bytes_received, exc.status = bytes_sent, bytes_received, status
        return exc


class RequestNotSent(_Outcome):
    """Nothing of this request reached the wire (the connection could not be
    opened, or was found dead before any byte was written): always safe to
    retry, whatever the method. Caught as ``ConnectFailed`` (a
    ``ConnectionLost``) or ``ConnectTimeout`` (a ``RequestTimeout``)."""


class OutcomeUnknown(_Outcome):
    """Bytes of the request were written but no complete response came (read
    timeout, connection lost mid-response, TLS failure after the write): the
    server may or may not have acted on it. Never retried automatically for
    a non-idempotent method. ``bytes_sent`` / ``bytes_received`` / ``status``
    say how far it got. Caught as ``ResponseLost`` (a ``ConnectionLost``) or
    ``ResponseTimeout`` (a ``RequestTimeout``)."""


class ConnectFailed(RequestNotSent, ConnectionLost):
    """The request was not sent: connecting failed, or the connection was unusable."""


class ConnectTimeout(RequestNotSent, RequestTimeout):
    """The request was not sent within the time allowed (connect timeout, or
    ``total_timeout`` spent before it could be written)."""


class ResponseLost(OutcomeUnknown, ConnectionLost):
    """The connection ended after the request was written, before a complete response."""


class ResponseTimeout(OutcomeUnknown, RequestTimeout):
    """No complete response within ``read_timeout`` / ``total_timeout`` after the request was written."""


# ---- status codes as exceptions: Response.raise_for_status() -------------------------------

class StatusError(HttpError):
    """A response whose status says the request failed: ``status``,
    ``reason``, ``headers`` (list of pairs), ``body`` (bytes, decoded)."""

    def __init__(self, message: str, status: int, reason: str, headers: list[tuple[str, str]],
                 body: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


class ClientError(StatusError):
    """A 4xx other than 418/429: the request was refused as it stands; do not retry it unchanged."""


class RateLimited(ClientError):
    """429 Too Many Requests, or 418 (an exchange's ban after ignored 429s).
    ``retry_after``: seconds from the Retry-After header (seconds or an
    HTTP-date), or None."""

    retry_after: float | None = None


class ServerError(StatusError):
    """A 5xx. ``outcome_unknown`` is True when the request was not idempotent
    (or its method is unknown): exchanges document a 5xx to an order as
    "execution status unknown", so check before sending it again."""

    outcome_unknown: bool = True
