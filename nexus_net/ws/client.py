"""``ws.connect()``: the asyncio WebSocket client."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Awaitable, Callable, Generator, Sequence

from nexus_net.tls import TlsCodec, TlsConfig
from nexus_net._sockopts import apply_buffer_sizes, check_buffer_sizes
from nexus_net.proxy import check_proxy
from nexus_net.proxy.tunnel import open_connection
from nexus_net.ws._aio import DEFAULT_LIMIT, Connection
from nexus_net.ws._reader import DEFAULT_MAX_MESSAGE_SIZE
from nexus_net.ws.enums import Role
from nexus_net.ws.errors import ConnectionClosed, HandshakeTimeout, TooManyRedirects
from nexus_net.ws.deflate import resolve as resolve_compression
from nexus_net.ws.handshake import build_request, check_response, redirect_target
from nexus_net.ws.heartbeat import Heartbeat
from nexus_net.ws.listener import Listener
from nexus_net.ws.reconnect import Backoff, ConnectionIterator, ReconnectingConnection
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
    * ``so_rcvbuf`` / ``so_sndbuf`` (None: the kernel's autotuning): SO_RCVBUF /
      SO_SNDBUF in bytes; ``conn.socket_buffers`` reads back what the kernel uses.
    * ``proxy`` (True: from the environment, ``https_proxy``/``http_proxy``/
      ``all_proxy`` and ``no_proxy``; None: direct; or a URL ``http://``,
      ``https://``, ``socks5://``, ``socks5h://``, ``socks4a://``, credentials
      in it): see docs/proxies.md. ``proxy_tls``: a ``TlsConfig`` for TLS to an
      ``https://`` proxy (default: the system store). ``open_timeout`` covers
      the proxy's handshake too.
    * ``compression`` (None): ``"deflate"`` or a ``ws.Deflate(...)`` offers
      permessage-deflate (RFC 7692); ``conn.compression`` is the negotiated
      codec (None when the server declined). See docs/compression.md.

    Feeds (docs/feeds.md):

    * ``async for conn in ws.connect(url)``: a new connection each time the
      previous one ended for a retryable reason (see ``reconnect``).
    * ``reconnect=True``: ``await ws.connect(...)`` returns a
      ``ReconnectingConnection`` whose ``recv()``/``async for msg`` go on
      across reconnects; ``on_connect`` (a coroutine function, ``await
      on_connect(conn)`` after every handshake, before that connection's
      first message) and ``on_disconnect`` (``on_disconnect(conn, exc)``).
    * Backoff between attempts: exponential with full jitter,
      ``backoff_initial`` (0.1 s), ``backoff_factor`` (2), ``backoff_max``
      (30 s), reset once a connection stayed up ``backoff_reset`` (60 s);
      ``max_attempts`` (None: forever) consecutive failed attempts at most.
    * ``idle_timeout``: close with 1011 (and reconnect) when nothing at all
      arrived for that long.
    * ``heartbeat``: a ``ws.Heartbeat`` (application-level ping/pong);
      ``auto_reply``: ``fn(msg)`` returning the reply to send for server
      pings (``None``: deliver the message), offered only messages that start
      with ``auto_reply_prefix``.
    * ``listener``: a ``ws.Listener``; messages go to its ``on_message``
      from the receive callback instead of through ``recv()``.
    """

    def __init__(self, url: str, *, headers: Any = None, subprotocols: Sequence[str] | None = None,
                 origin: str | None = None, tls: Any = None, nodelay: bool = True,
                 open_timeout: float | None = 10.0, close_timeout: float = 10.0,
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, max_frame_size: int | None = None,
                 ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0,
                 auto_pong: bool = True, read_buffer_size: int = 64 * 1024, limit: int = DEFAULT_LIMIT,
                 max_redirects: int = 5, loop: asyncio.AbstractEventLoop | None = None,
                 reconnect: bool = False, on_connect: Callable[[Connection], Awaitable[Any]] | None = None,
                 on_disconnect: Callable[[Connection, BaseException | None], Any] | None = None,
                 backoff_initial: float = 0.1, backoff_factor: float = 2.0, backoff_max: float = 30.0,
                 backoff_reset: float = 60.0, max_attempts: int | None = None,
                 idle_timeout: float | None = None, heartbeat: Heartbeat | None = None,
                 auto_reply: Callable[[Any], Any] | None = None, auto_reply_prefix: bytes = b"",
                 listener: Listener | None = None, so_rcvbuf: int | None = None,
                 so_sndbuf: int | None = None, proxy: Any = True, proxy_tls: Any = None,
                 compression: Any = None) -> None:
        self.url = parse_url(url)
        self.compression = resolve_compression(compression, server=False)
        self.proxy = check_proxy(proxy)           # a bad proxy URL fails now
        self.proxy_tls = proxy_tls
        check_buffer_sizes(so_rcvbuf, so_sndbuf)
        self.buffer_sizes = (so_rcvbuf, so_sndbuf)
        if tls is not None and not self.url.secure:
            raise ValueError(f"tls= was given for {url!r}: use a wss:// URL for TLS")
        if (on_connect is not None or on_disconnect is not None) and not reconnect:
            raise ValueError("on_connect/on_disconnect need reconnect=True")
        if idle_timeout is not None and not idle_timeout > 0:
            raise ValueError(f"idle_timeout must be positive or None, got {idle_timeout!r}")
        if max_attempts is not None and max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 or None, got {max_attempts!r}")
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
        self.reconnect = reconnect
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.make_backoff: Callable[[], Backoff] = functools.partial(
            Backoff, backoff_initial, backoff_factor, backoff_max, backoff_reset)
        self.max_attempts = max_attempts
        self.idle_timeout = idle_timeout
        self.heartbeat = heartbeat
        self.auto_reply = auto_reply
        self.auto_reply_prefix = bytes(auto_reply_prefix)
        self.listener = listener
        self.connection: Any = None
        self.make_backoff()                   # validate now, not at the first failure

    def __await__(self) -> Generator[Any, None, Any]:
        if self.reconnect:
            return ReconnectingConnection(self).start().__await__()
        return self._connect().__await__()

    async def __aenter__(self) -> Any:
        self.connection = await self
        return self.connection

    async def __aexit__(self, *exc: object) -> None:
        if self.connection is not None:
            await self.connection.close()

    def __aiter__(self) -> ConnectionIterator:
        if self.reconnect:
            raise TypeError("with reconnect=True, await ws.connect(...) and iterate over its messages")
        return ConnectionIterator(self)

    async def open_one(self) -> Connection:
        """One connection attempt (redirects followed), no retries."""
        return await self._connect()

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
        # (the proxy is looked up per URL: a redirect's target gets its own decision)
        transport, _ = await open_connection(loop, self.proxy, self.proxy_tls, url.scheme, url.host, url.port,
                                             lambda: conn)
        try:
            if not self.nodelay:
                conn.set_nodelay(False)
            apply_buffer_sizes(transport, *self.buffer_sizes)
            if url.secure:
                await conn.tls_handshake()
            request, key = build_request(url.host, url.resource, port=url.port, secure=url.secure,
                                         origin=self.origin, subprotocols=self.subprotocols,
                                         extra_headers=self.headers, compression=self.compression)
            conn.write_raw(request)
            head = await conn.read_head()
            location = redirect_target(head)
            if location is not None:
                transport.close()
                return resolve_redirect(url, location)
            response = check_response(head, key, self.subprotocols, self.compression)
        except BaseException:
            transport.abort()
            raise
        if response.extension is not None:
            conn.set_extension(response.extension)
        conn.subprotocol = response.subprotocol
        conn.response_headers = response.headers
        conn.handshake_status = response.status
        conn.request_path = url.resource
        if self.heartbeat is not None or self.auto_reply is not None:
            hb = self.heartbeat
            conn.set_interceptors(hb.prefix if hb else None, hb.is_pong if hb else None,
                                  self.auto_reply_prefix, self.auto_reply,
                                  hb_max_size=hb.max_size if hb else -1)
        if self.listener is not None and not self.reconnect:
            conn.set_listener(self.listener)     # (reconnecting: after on_connect)
        conn.opened(*self.ping)
        if self.heartbeat is not None or self.idle_timeout is not None:
            conn.watch_task = loop.create_task(watch(conn, self.heartbeat, self.idle_timeout))
        log.debug("connected to %s", url)
        return conn


async def watch(conn: Connection, heartbeat: Heartbeat | None, idle_timeout: float | None) -> None:
    """Application heartbeats and the idle timeout of one connection."""
    try:
        await _watch(conn, heartbeat, idle_timeout)
    except ConnectionClosed:
        pass                          # closing or closed: nothing left to watch
    except Exception:
        # e.g. a heartbeat payload callable that raised: never leave the
        # connection unwatched silently
        log.exception("heartbeat failed; closing with 1011")
        conn.fail_connection(1011, "heartbeat failed")


async def _watch(conn: Connection, heartbeat: Heartbeat | None, idle_timeout: float | None) -> None:
    """Sleeps until the next deadline only (one wake-up per interval while data
    flows). "Quiet" means no byte at all arrived: data, pings and pongs all
    prove the feed alive."""
    loop = asyncio.get_running_loop()
    last_bytes = conn.bytes_received
    quiet_since = loop.time()
    sent_at = 0.0                     # loop time of the heartbeat awaiting its answer (0: none)
    sent_ns = 0
    sent_bytes = 0
    answers = conn.heartbeat_answers
    while not conn.closed and conn.close_exc is None:
        now = loop.time()
        if conn.bytes_received != last_bytes:
            last_bytes = conn.bytes_received
            quiet_since = now
        if sent_at and conn.heartbeat_answers != answers:
            conn.heartbeat_rtt = max(0, conn.heartbeat_answer_ns - sent_ns) / 1e9
            sent_at = 0.0
        deadlines = []
        if idle_timeout is not None:
            if now - quiet_since >= idle_timeout:
                log.warning("nothing received for %.1fs (idle_timeout); closing with 1011", idle_timeout)
                conn.fail_connection(1011, "idle timeout")
                return
            deadlines.append(quiet_since + idle_timeout)
        if heartbeat is not None:
            if sent_at and conn.bytes_received != sent_bytes and now - sent_at >= (heartbeat.timeout or 0):
                # Bytes came but nobody parsed them yet (the application is not
                # reading): like keepalive pings, any byte proves the peer alive.
                sent_at = 0.0
            if sent_at:
                if heartbeat.timeout is not None:
                    if now - sent_at >= heartbeat.timeout:
                        log.warning("no heartbeat answer within %.1fs; closing with 1011", heartbeat.timeout)
                        conn.fail_connection(1011, "heartbeat timeout")
                        return
                    deadlines.append(sent_at + heartbeat.timeout)
            elif now - quiet_since >= heartbeat.interval:
                answers = conn.heartbeat_answers
                sent_ns = time.time_ns()
                sent_at = now
                sent_bytes = conn.bytes_received
                await conn.send(heartbeat.make_payload())
                if heartbeat.timeout is not None:
                    deadlines.append(now + heartbeat.timeout)
            else:
                deadlines.append(quiet_since + heartbeat.interval)
        # Woken at the earliest deadline; an answer or new bytes are seen then.
        # While a heartbeat waits for its answer, check a few times per timeout
        # so the round trip is recorded promptly.
        wake = min(deadlines) if deadlines else now + 1.0
        if sent_at and heartbeat is not None:
            wake = min(wake, now + max(0.01, (heartbeat.timeout or heartbeat.interval) / 20))
        await asyncio.sleep(max(0.0, wake - loop.time()))
