"""ws:// and wss:// URLs (RFC 6455 section 3)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from nexus_net.ws.errors import InvalidURI


@dataclass(frozen=True)
class WsUrl:
    secure: bool
    host: str          # without brackets for IPv6 literals
    port: int
    resource: str      # path and query, at least "/"

    @property
    def scheme(self) -> str:
        return "wss" if self.secure else "ws"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.resource}"


def parse_url(url: str) -> WsUrl:
    """Split a WebSocket URL; raises ``InvalidURI`` naming the problem."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise InvalidURI(f"{url!r}: scheme must be ws:// or wss://, not {parts.scheme or 'missing'}")
    if not parts.hostname:
        raise InvalidURI(f"{url!r} has no host")
    if parts.fragment or "#" in url:
        raise InvalidURI(f"{url!r}: WebSocket URLs cannot have a fragment")
    if parts.username is not None or parts.password is not None:
        raise InvalidURI(f"{url!r}: user information in the URL is not supported; send an "
                         "Authorization header instead")
    secure = parts.scheme == "wss"
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in resource):
        raise InvalidURI(f"{url!r}: path and query must be percent-encoded ASCII")
    return WsUrl(secure, parts.hostname, port if port is not None else (443 if secure else 80), resource)


def resolve_redirect(base: WsUrl, location: str) -> WsUrl:
    """The WebSocket URL a redirect's Location header points at.

    http(s) locations map to ws(s) (servers often redirect with web schemes);
    relative locations resolve against ``base``.
    """
    from urllib.parse import urljoin
    absolute = urljoin(str(base).replace("ws", "http", 1), location)
    if absolute.startswith("https://"):
        absolute = "wss://" + absolute[len("https://"):]
    elif absolute.startswith("http://"):
        absolute = "ws://" + absolute[len("http://"):]
    return parse_url(absolute)
