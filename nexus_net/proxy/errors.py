"""What can go wrong between us and a proxy, named by where it went wrong."""

from __future__ import annotations

from nexus_net.errors import NexusNetError


class ProxyError(NexusNetError):
    """The proxy did not open the tunnel.

    For HTTP CONNECT, ``status``, ``reason`` and ``headers`` are the proxy's
    answer (the proxy's own headers: nothing of ours, so no credentials).
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str = "",
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.headers = headers or []


class ProxyAuthRequired(ProxyError):
    """407 (or 401) from an HTTP proxy, or a SOCKS5 proxy that refused our credentials
    (or wants credentials we did not give)."""


class ProxyConnectFailed(ProxyError):
    """A SOCKS proxy answered, but could not reach the target: ``reply`` is the
    reply code, ``reply_name`` its name from RFC 1928 (SOCKS5) or the SOCKS4
    protocol."""

    def __init__(self, message: str, *, reply: int, reply_name: str) -> None:
        super().__init__(message)
        self.reply = reply
        self.reply_name = reply_name


class ProxyProtocolError(ProxyError):
    """The proxy's bytes make no sense for the protocol we speak to it (not a
    SOCKS server, a truncated reply, ...)."""


class ProxyTLSError(ProxyError):
    """TLS to the proxy itself failed (an ``https://`` proxy), as opposed to
    TLS to the origin through the tunnel."""
