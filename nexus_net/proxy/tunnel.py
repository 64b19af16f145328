"""Drivers of the proxy handshakes: asyncio (``open_tunnel``) and blocking
(``open_tunnel_sync``), and the one step every client takes to reach its
origin, directly or through the proxy ``proxy=`` names (``open_connection``,
``open_socket``).

Both connect to the proxy (over TLS for ``https://`` proxies, with Python's
``ssl``: the origin's own TLS then runs through the tunnel in our codec, TLS
inside TLS), run one handshake from ``nexus_net.proxy`` to completion, and
hand over a connected transport or socket plus the bytes that came after the
proxy's reply (the tunnel's first bytes, never dropped).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any, Callable

from nexus_net.proxy._handshake import Handshake
from nexus_net.proxy.connect import ConnectHandshake
from nexus_net.proxy.env import resolve_proxy
from nexus_net.proxy.errors import ProxyProtocolError, ProxyTLSError
from nexus_net.proxy.socks import Socks4aHandshake, Socks5Handshake
from nexus_net.proxy.url import ProxyURL

log = logging.getLogger("nexus_net.proxy")


def make_handshake(proxy: ProxyURL, host: str, port: int, resolved: str | None = None) -> Handshake:
    """The handshake that asks ``proxy`` for a tunnel to ``host:port``
    (``resolved``: the address socks5 sends when DNS is local)."""
    if proxy.scheme in ("http", "https"):
        return ConnectHandshake(host, port, proxy.basic_auth())
    if proxy.scheme == "socks4a":
        return Socks4aHandshake(host, port, proxy.username)
    target = host if proxy.remote_dns else (resolved or host)
    return Socks5Handshake(target, port, proxy.username, proxy.password)


def _proxy_context(proxy: ProxyURL, proxy_tls: Any) -> ssl.SSLContext | None:
    if proxy.scheme != "https":
        if proxy_tls is not None:
            raise ValueError(f"proxy_tls= was given for {proxy!r}: only https:// proxies use TLS")
        return None
    if proxy_tls is None:
        from nexus_net.tls import TlsConfig
        proxy_tls = TlsConfig()
    return proxy_tls if isinstance(proxy_tls, ssl.SSLContext) else proxy_tls.context


# ---- asyncio -------------------------------------------------------------------

class _HandshakeProtocol(asyncio.Protocol):
    """Speaks one handshake, then waits to be replaced by the real protocol."""

    def __init__(self, handshake: Handshake, done: asyncio.Future[bytes]) -> None:
        self.handshake = handshake
        self.done = done
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self._flush()

    def _flush(self) -> None:
        out = self.handshake.data_to_send()
        if out and self.transport is not None:
            self.transport.write(out)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        try:
            self.handshake.receive_data(data)
            self._flush()
        except Exception as exc:
            self.done.set_exception(exc)
            return
        if self.handshake.done:
            # No more reads until the real protocol is in place: nothing can
            # arrive in between and be lost.
            assert self.transport is not None
            self.transport.pause_reading()
            self.done.set_result(self.handshake.leftover)

    def eof_received(self) -> bool:
        if not self.done.done():
            self.done.set_exception(ProxyProtocolError("the proxy closed the connection during the handshake"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ProxyProtocolError(
                f"the connection to the proxy was lost during the handshake ({exc or 'closed'})"))


def _unreachable(proxy: ProxyURL, exc: OSError) -> OSError:
    """The same kind of OSError, saying it was the proxy we could not reach."""
    text = f"cannot connect to the proxy {proxy.redacted}: {exc.strerror or exc}"
    return type(exc)(exc.errno, text) if exc.errno is not None else OSError(text)


def _deliver(protocol: Any, data: bytes) -> None:
    """Give ``data`` to a protocol as if it had just been read."""
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = 0
        while view < len(data):
            buf: Any = protocol.get_buffer(len(data) - view)
            n = min(len(buf), len(data) - view)
            buf[:n] = data[view:view + n]
            protocol.buffer_updated(n)
            view += n
    else:
        protocol.data_received(data)


async def open_connection(loop: asyncio.AbstractEventLoop, proxy: object, proxy_tls: Any, url_scheme: str,
                          host: str, port: int, protocol_factory: Callable[[], Any]) -> tuple[Any, Any]:
    """``loop.create_connection`` to ``host:port``, or a tunnel to it through
    the proxy the ``proxy=`` argument (and the environment) names for this
    target: (transport, protocol) either way. The caller bounds the time."""
    via = resolve_proxy(proxy, url_scheme, host, port)
    if via is None:
        return await loop.create_connection(protocol_factory, host, port)
    log.debug("connecting to %s:%d through %s", host, port, via.redacted)
    return await open_tunnel(loop, via, host, port, protocol_factory, proxy_tls=proxy_tls)


async def open_tunnel(loop: asyncio.AbstractEventLoop, proxy: ProxyURL, host: str, port: int,
                      protocol_factory: Callable[[], Any], *, proxy_tls: Any = None) -> tuple[Any, Any]:
    """Connect through ``proxy`` to ``host:port``; returns (transport,
    protocol) like ``create_connection``: the transport now drives
    ``protocol_factory()``, which got ``connection_made`` and any bytes that
    followed the proxy's reply. The caller bounds the time taken."""
    ctx = _proxy_context(proxy, proxy_tls)
    resolved = None
    if proxy.scheme == "socks5":                      # local DNS: we resolve, the proxy gets an address
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if not infos:
            raise OSError(f"cannot resolve {host!r}")
        resolved = str(infos[0][4][0])
    handshake = make_handshake(proxy, host, port, resolved)
    done: asyncio.Future[bytes] = loop.create_future()
    try:
        transport, _ = await loop.create_connection(
            lambda: _HandshakeProtocol(handshake, done), proxy.host, proxy.port,
            ssl=ctx, server_hostname=proxy.host if ctx is not None else None)
    except ssl.SSLError as exc:
        raise ProxyTLSError(f"TLS to the proxy {proxy.redacted} failed: {exc}") from exc
    except OSError as exc:
        raise _unreachable(proxy, exc) from exc
    try:
        leftover = await done
    except BaseException:
        transport.abort()
        raise
    protocol = protocol_factory()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    if leftover:
        _deliver(protocol, leftover)
    transport.resume_reading()
    return transport, protocol


# ---- blocking ------------------------------------------------------------------

def open_socket(proxy: object, proxy_tls: Any, url_scheme: str, host: str, port: int, *,
                timeout: float | None) -> tuple[socket.socket, bytes]:
    """A socket connected to ``host:port``, directly or through the proxy
    ``proxy=`` names for it, and the tunnel's first bytes (``b""`` direct)."""
    via = resolve_proxy(proxy, url_scheme, host, port)
    if via is None:
        return socket.create_connection((host, port), timeout=timeout), b""
    log.debug("connecting to %s:%d through %s", host, port, via.redacted)
    return open_tunnel_sync(via, host, port, timeout=timeout, proxy_tls=proxy_tls)


def open_tunnel_sync(proxy: ProxyURL, host: str, port: int, *, timeout: float | None,
                     proxy_tls: Any = None) -> tuple[socket.socket, bytes]:
    """Blocking ``open_tunnel``: a connected socket (an ``ssl.SSLSocket`` for
    an https:// proxy) and the bytes that followed the proxy's reply."""
    ctx = _proxy_context(proxy, proxy_tls)
    resolved = None
    if proxy.scheme == "socks5":
        resolved = str(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])
    handshake = make_handshake(proxy, host, port, resolved)
    try:
        sock: socket.socket = socket.create_connection((proxy.host, proxy.port), timeout=timeout)
    except OSError as exc:
        raise _unreachable(proxy, exc) from exc
    try:
        if ctx is not None:
            try:
                sock = ctx.wrap_socket(sock, server_hostname=proxy.host)
            except ssl.SSLError as exc:
                raise ProxyTLSError(f"TLS to the proxy {proxy.redacted} failed: {exc}") from exc
        sock.sendall(handshake.data_to_send())
        while not handshake.done:
            handshake.receive_data(sock.recv(65536))
            out = handshake.data_to_send()
            if out:
                sock.sendall(out)
        return sock, handshake.leftover
    except BaseException:
        sock.close()
        raise
