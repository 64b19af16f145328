"""``ws.connect()``: the asyncio WebSocket client."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Generator, Sequence

from nexus_net.tls import TlsCodec, TlsConfig
from nexus_net.ws._aio import DEFAULT_LIMIT, Connection
from nexus_net.ws._reader import DEFAULT_MAX_MESSAGE_SIZE
from nexus_net.ws.enums import Role
from nexus_net.ws.errors import HandshakeTimeout, TooManyRedirects
from nexus_net.ws.handshake import build_request, check_response, redirect_target
from nexus_net.ws.url import WsUrl, parse_url, resolve_redirect

log = logging.getLogger("nexus_net.ws.client")

class connect:
    """Open a WebSocket client connection.

    ``conn = await ws.connect(url, ...)`` or ``async with ws.connect(url) as conn``.

    Keyword arguments:

    * ``headers``: extra request headers, a mapping or ``(name, value)`` pairs;
      ``subprotocols``: offered subprotocols; ``origin``: the Origin header.
    * ``tls``: a ``nexus_net.tls.TlsConfig`` for ``wss://`` URLs; default:
      ``TlsConfig()`` (system trust store, host name checked, SNI sent).
    * ``open_timeout`` (10 s): TCP connect + handshake, redirects included;
      ``close_timeout`` (10 s): closing handshake.
    * ``max_message_size`` (16 MiB), ``max_frame_size`` (same): incoming
      limits, enforced from frame headers (close code 1009).
    * ``ping_interval`` (20 s), ``ping_timeout`` (20 s): keepalive pings; the
      connection closes with 1011 if the peer sends nothing for
      ``ping_timeout`` after a ping. ``None`` disables.
    * ``auto_pong``: answer pings while reading (default True).
    * ``read_buffer_size`` (64 KiB): initial receive buffer; ``limit``
      (4 MiB): unread bytes after which reading from the socket pauses.
    * ``nodelay`` (True): TCP_NODELAY. ``max_redirects`` (5).
    """

    def __init__(self, url: str, *, headers: Any = None, subprotocols: Sequence[str] | None = None,
                 origin: str | None = None, tls: Any = None, nodelay: bool = True,
                 open_timeout: float | None = 10.0, close_timeout: float = 10.0,
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, max_frame_size: int | None = None,
                 ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0,
                 auto_pong: bool = True, read_buffer_size: int = 64 * 1024, limit: int = DEFAULT_LIMIT,
                 max_redirects: int = 5, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.url = parse_url(url)
        if tls is not None and not self.url.secure:
            raise ValueError(f"tls= was given for {url!r}: use a wss:// URL for TLS")
        self.tls = tls
        self.headers: list[tuple[str, str]] = list(
            headers.items() if hasattr(headers, "items") else (headers or ()))
        self.subprotocols = list(subprotocols or ())
        self.origin = origin
        self.nodelay = nodelay
        self.open_timeout = open_timeout
        self.max_redirects = max_redirects
        self.loop = loop
        self.conn_kwargs: dict[str, Any] = dict(max_message_size=max_message_size, max_frame_size=max_frame_size,
                                read_buffer_size=read_buffer_size, limit=limit, auto_pong=auto_pong,
                                close_timeout=close_timeout)
        self.ping = (ping_interval, ping_timeout)
        self.connection: Connection | None = None

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._connect().__await__()

    async def __aenter__(self) -> Connection:
        self.connection = await self._connect()
        return self.connection

    async def __aexit__(self, *exc: object) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def _connect(self) -> Connection:
        loop = self.loop or asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(self._follow_redirects(loop), self.open_timeout)
        except asyncio.TimeoutError:
            raise HandshakeTimeout(
                f"opening handshake with {self.url} did not complete within {self.open_timeout}s"
            ) from None

    async def _follow_redirects(self, loop: asyncio.AbstractEventLoop) -> Connection:
        url = self.url
        for _ in range(self.max_redirects + 1):
            result = await self._handshake(loop, url)
            if isinstance(result, Connection):
                return result
            log.debug("redirected from %s to %s", url, result)
            url = result
        raise TooManyRedirects(f"more than {self.max_redirects} redirects, last to {url}")

    async def _handshake(self, loop: asyncio.AbstractEventLoop, url: WsUrl) -> Connection | WsUrl:
        conn = Connection(Role.CLIENT, loop=loop, **self.conn_kwargs)
        if url.secure:
            if self.tls is None:
                self.tls = TlsConfig()
            conn.start_tls(TlsCodec(self.tls, False, url.host))
        transport, _ = await loop.create_connection(lambda: conn, url.host, url.port)
        try:
            if not self.nodelay:
                conn.set_nodelay(False)
            if url.secure:
                await conn.tls_handshake()
            request, key = build_request(url.host, url.resource, port=url.port, secure=url.secure,
                                         origin=self.origin, subprotocols=self.subprotocols,
                                         extra_headers=self.headers)
            conn.write_raw(request)
            head = await conn.read_head()
            location = redirect_target(head)
            if location is not None:
                transport.close()
                return resolve_redirect(url, location)
            response = check_response(head, key, self.subprotocols)
        except BaseException:
            transport.abort()
            raise
        conn.subprotocol = response.subprotocol
        conn.response_headers = response.headers
        conn.handshake_status = response.status
        conn.request_path = url.resource
        conn.opened(*self.ping)
        log.debug("connected to %s", url)
        return conn
