"""Proxy URLs: ``http://``, ``https://``, ``socks5://``, ``socks5h://``, ``socks4a://``.

Credentials are kept apart from everything printable: ``repr()``, ``str()``
and ``redacted`` never show them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

SCHEMES = ("http", "https", "socks5", "socks5h", "socks4a")
DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080, "socks4a": 1080}


@dataclass(frozen=True)
class ProxyURL:
    """One proxy: where it is, how to speak to it, and with which credentials."""

    scheme: str
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def redacted(self) -> str:
        """The URL with any credentials replaced by ``***`` (for logs and errors)."""
        auth = "***@" if self.username is not None or self.password is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{auth}{host}:{self.port}"

    def __repr__(self) -> str:
        return f"ProxyURL({self.redacted!r})"

    __str__ = __repr__

    @property
    def remote_dns(self) -> bool:
        """The proxy resolves the target's name (socks5h, socks4a, HTTP CONNECT)."""
        return self.scheme != "socks5"

    def basic_auth(self) -> str | None:
        """The ``Proxy-Authorization`` value for HTTP proxies (never logged)."""
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def parse_proxy(url: str | ProxyURL) -> ProxyURL:
    """A ProxyURL from ``scheme://[user[:password]@]host[:port]``; a value
    without a scheme (``host:3128``, as in many environments) is an HTTP proxy.
    Raises ValueError (without the credentials in its message) when the URL is
    not a proxy URL."""
    if isinstance(url, ProxyURL):
        return url
    if not isinstance(url, str):
        raise TypeError(f"proxy must be a URL string, True, None or a ProxyURL, not {type(url).__name__}")
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    safe = _redact(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"unsupported proxy scheme {scheme!r} in {safe!r} "
                         f"(expected one of {', '.join(SCHEMES)})")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"a proxy URL has no path, query or fragment: {safe!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"invalid port in proxy URL {safe!r}") from None
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in proxy URL {safe!r}")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme == "socks4a" and password:
        raise ValueError(f"SOCKS4a has a user id but no password: {safe!r}")
    return ProxyURL(scheme, host, port if port is not None else DEFAULT_PORTS[scheme], username, password)


def _redact(text: str) -> str:
    head, sep, rest = text.partition("://")
    if not sep:
        return text
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return f"{head}://{netloc}{slash}{tail}"
