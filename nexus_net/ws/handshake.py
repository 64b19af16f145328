"""Sans-IO opening handshake of RFC 6455 (section 4): functions over bytes.

Client side: ``generate_key`` -> ``build_request`` -> (send, receive until
``find_head_end`` finds the blank line) -> ``check_response``.
Server side: ``parse_request`` -> ``build_response`` or ``build_rejection``.
Nothing here touches a socket.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from nexus_net.ws.deflate import Deflate
from nexus_net.ws._deflate import PerMessageDeflate
from nexus_net.ws.errors import InvalidHandshakeRequest, InvalidHandshakeResponse, NegotiationError

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100

Headers = list[tuple[str, str]]


def generate_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value that answers ``key``."""
    digest = hashlib.sha1(key.encode("ascii") + GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def find_head_end(data: bytes | bytearray | memoryview) -> int:
    """Index just past the ``\\r\\n\\r\\n`` ending an HTTP head, or -1."""
    end = bytes(data[:MAX_HEAD_BYTES + 4]).find(b"\r\n\r\n")
    return -1 if end < 0 else end + 4


def _check_token(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
        raise ValueError(f"header {name!r} contains CR, LF or a colon in its name")


def build_request(host: str, path: str = "/", key: str | None = None, *,
                  port: int | None = None, secure: bool = False, origin: str | None = None,
                  subprotocols: Sequence[str] = (),
                  extra_headers: Iterable[tuple[str, str]] = (),
                  compression: Deflate | None = None) -> tuple[bytes, str]:
    """The upgrade request bytes and the key they carry.

    ``port`` is left out of Host when it is the scheme's default;
    ``compression`` adds its permessage-deflate offer.
    """
    if key is None:
        key = generate_key()
    if not path.startswith("/"):
        raise ValueError(f"request path must start with '/', got {path!r}")
    host_value = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if port is not None and port != (443 if secure else 80):
        host_value = f"{host_value}:{port}"
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host_value}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
    if compression is not None:
        lines.append(f"Sec-WebSocket-Extensions: {compression.offer()}")
    for name, value in extra_headers:
        _check_token(name, value)
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


def _parse_head(head: bytes, what: str, error: type) -> tuple[str, Headers]:
    if len(head) > MAX_HEAD_BYTES + 4:
        raise error(f"{what} head is over {MAX_HEAD_BYTES} bytes")
    try:
        text = head.decode("latin-1")
    except Exception as exc:  # pragma: no cover - latin-1 decodes every byte
        raise error(f"{what} head is not text") from exc
    if not text.endswith("\r\n\r\n"):
        raise error(f"{what} head does not end with an empty line")
    lines = text[:-4].split("\r\n")
    headers: Headers = []
    for line in lines[1:]:
        if not line or line[0] in " \t":
            raise error(f"{what} has an empty or folded header line: {line!r}")
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise error(f"{what} has a malformed header line: {line!r}")
        headers.append((name, value.strip(" \t")))
        if len(headers) > MAX_HEADERS:
            raise error(f"{what} has more than {MAX_HEADERS} headers")
    return lines[0], headers


def _get(headers: Headers, name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def _tokens(headers: Headers, name: str) -> list[str]:
    return [t.strip().lower() for v in _get(headers, name) for t in v.split(",") if t.strip()]


REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def redirect_target(head: bytes) -> str | None:
    """The ``Location`` of a redirect response head; None if it is no redirect.

    Raises ``InvalidHandshakeResponse`` for a redirect without a Location.
    """
    parts = bytes(head).split(b" ", 2)
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else -1
    if status not in REDIRECT_STATUSES:
        return None
    _, headers = _parse_head(bytes(head), "redirect response", InvalidHandshakeResponse)
    location = next((v for k, v in headers if k.lower() == "location"), None)
    if location is None:
        raise InvalidHandshakeResponse(f"{status} redirect without a Location header", status, headers)
    return location


@dataclass
class HandshakeResponse:
    """What a successful ``check_response`` found."""

    status: int
    headers: Headers
    subprotocol: str | None = None
    extension: PerMessageDeflate | None = None


def check_response(head: bytes, key: str, subprotocols: Sequence[str] = (),
                   compression: Deflate | None = None) -> HandshakeResponse:
    """Validate the server's answer (the head up to and including the blank line).

    Raises ``InvalidHandshakeResponse`` carrying the status and headers
    (``NegotiationError``, a subclass, for a bad permessage-deflate answer to
    the ``compression`` offer). ``extension``: the negotiated codec, if any.
    """
    status_line, headers = _parse_head(bytes(head), "handshake response", InvalidHandshakeResponse)
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise InvalidHandshakeResponse(f"malformed status line {status_line!r}")
    status = int(parts[1])
    if status != 101:
        raise InvalidHandshakeResponse(
            f"server answered {status_line!r} instead of 101 Switching Protocols",
            status, headers)
    if "websocket" not in _tokens(headers, "Upgrade"):
        raise InvalidHandshakeResponse("response lacks 'Upgrade: websocket'", status, headers)
    if "upgrade" not in _tokens(headers, "Connection"):
        raise InvalidHandshakeResponse("response lacks 'Connection: Upgrade'", status, headers)
    accept = _get(headers, "Sec-WebSocket-Accept")
    if accept != [accept_key(key)]:
        raise InvalidHandshakeResponse(
            f"wrong Sec-WebSocket-Accept {accept!r}; expected {accept_key(key)!r}", status, headers)
    extension = None
    chosen_extensions = _get(headers, "Sec-WebSocket-Extensions")
    if chosen_extensions:
        if compression is None:
            raise InvalidHandshakeResponse(
                f"server selected an extension we did not offer: {chosen_extensions!r}", status, headers)
        try:
            extension = compression.accept_response(chosen_extensions)
        except NegotiationError as exc:
            raise NegotiationError(str(exc), status, headers) from None
    chosen = _get(headers, "Sec-WebSocket-Protocol")
    subprotocol = None
    if chosen:
        if len(chosen) > 1 or chosen[0] not in subprotocols:
            raise InvalidHandshakeResponse(
                f"server selected subprotocol {chosen!r}, not one of {list(subprotocols)!r}",
                status, headers)
        subprotocol = chosen[0]
    return HandshakeResponse(status, headers, subprotocol, extension)


@dataclass
class HandshakeRequest:
    """A validated client upgrade request."""

    path: str
    headers: Headers
    key: str
    subprotocols: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = _get(self.headers, name)
        return values[0] if values else None


def parse_request(head: bytes) -> HandshakeRequest:
    """Validate a client's upgrade request head.

    Raises ``InvalidHandshakeRequest`` whose ``status`` (400, 405, 426) is
    the answer to send with ``build_rejection``.
    """
    request_line, headers = _parse_head(bytes(head), "upgrade request", InvalidHandshakeRequest)
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise InvalidHandshakeRequest(f"malformed request line {request_line!r}", 400)
    method, path, version = parts
    if method != "GET":
        raise InvalidHandshakeRequest(f"method {method} instead of GET", 405)
    if version != "HTTP/1.1":
        raise InvalidHandshakeRequest(f"{version} instead of HTTP/1.1", 400)
    if not _get(headers, "Host"):
        raise InvalidHandshakeRequest("request lacks a Host header", 400)
    if "websocket" not in _tokens(headers, "Upgrade"):
        raise InvalidHandshakeRequest("request lacks 'Upgrade: websocket'", 426)
    if "upgrade" not in _tokens(headers, "Connection"):
        raise InvalidHandshakeRequest("request lacks 'Connection: Upgrade'", 426)
    if _get(headers, "Sec-WebSocket-Version") != ["13"]:
        raise InvalidHandshakeRequest("Sec-WebSocket-Version must be 13", 426)
    keys = _get(headers, "Sec-WebSocket-Key")
    if len(keys) != 1:
        raise InvalidHandshakeRequest("request needs exactly one Sec-WebSocket-Key", 400)
    try:
        raw = base64.b64decode(keys[0], validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise InvalidHandshakeRequest(f"Sec-WebSocket-Key {keys[0]!r} is not 16 bytes in base64", 400)
    offered = [t.strip() for v in _get(headers, "Sec-WebSocket-Protocol") for t in v.split(",") if t.strip()]
    return HandshakeRequest(path, headers, keys[0], offered)


def accept_extensions(request: HandshakeRequest,
                      compression: Deflate | None) -> tuple[str | None, PerMessageDeflate | None]:
    """The server's permessage-deflate decision for ``request``: the
    ``Sec-WebSocket-Extensions`` value to answer with and the codec, or
    ``(None, None)`` (not configured, not offered, or every offer declined)."""
    if compression is None:
        return None, None
    accepted = compression.accept_offer(_get(request.headers, "Sec-WebSocket-Extensions"))
    if accepted is None:
        return None, None
    return accepted


def build_response(request: HandshakeRequest, subprotocol: str | None = None,
                   extra_headers: Iterable[tuple[str, str]] = (),
                   extensions: str | None = None) -> bytes:
    """The 101 answer to a validated request (``extensions``: the
    ``Sec-WebSocket-Extensions`` value from ``accept_extensions``)."""
    if subprotocol is not None and subprotocol not in request.subprotocols:
        raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(request.key)}",
    ]
    if subprotocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    if extensions is not None:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    for name, value in extra_headers:
        _check_token(name, value)
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 426: "Upgrade Required", 431: "Request Header Fields Too Large",
            500: "Internal Server Error"}


def build_rejection(status: int, body: str = "") -> bytes:
    """A complete non-101 HTTP answer that closes the connection."""
    payload = body.encode("utf-8")
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
             "Content-Type: text/plain; charset=utf-8",
             f"Content-Length: {len(payload)}",
             "Connection: close"]
    if status == 426:
        lines.append("Sec-WebSocket-Version: 13")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
