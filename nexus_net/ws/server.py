"""``ws.serve()``: the asyncio WebSocket server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Sequence

from nexus_net._sockopts import apply_buffer_sizes, check_buffer_sizes
from nexus_net.tls import TlsCodec, TlsConfig, TlsError
from nexus_net.ws._aio import DEFAULT_LIMIT, Connection
from nexus_net.ws._aio import broadcast as broadcast  # re-exported: ws.broadcast
from nexus_net.ws._reader import DEFAULT_MAX_MESSAGE_SIZE
from nexus_net.ws.enums import Role
from nexus_net.ws.errors import ConnectionClosed, InvalidHandshakeRequest
from nexus_net.ws.deflate import Deflate
from nexus_net.ws.deflate import resolve as resolve_compression
from nexus_net.ws.handshake import accept_extensions, build_rejection, build_response, parse_request

log = logging.getLogger("nexus_net.ws.server")

Handler = Callable[[Connection], Awaitable[Any]]


class Server:
    """A listening WebSocket server; one task per connection runs ``handler(conn)``.

    ``close()`` stops accepting, sends 1001 (going away) to every open
    connection and lets handlers finish; ``wait_closed()`` waits for that.
    Use as ``async with await ws.serve(...) as server``.
    """

    def __init__(self, handler: Handler | None, *, tls: TlsConfig | None = None, subprotocols: Sequence[str] = (),
                 open_timeout: float | None = 10.0, ping_interval: float | None = 20.0,
                 ping_timeout: float | None = 20.0, conn_kwargs: dict[str, Any],
                 listener_factory: Callable[[], Any] | None = None,
                 buffer_sizes: tuple[int | None, int | None] = (None, None),
                 compression: Deflate | None = None) -> None:
        if (handler is None) == (listener_factory is None):
            raise ValueError("serve() needs either a handler or a listener_factory (not both)")
        self.handler = handler
        self.listener_factory = listener_factory
        if tls is not None and not tls.server_side:
            raise ValueError("serve(tls=...) needs a server config: TlsConfig.server(cert_file, key_file)")
        self.tls = tls
        self.subprotocols = list(subprotocols)
        self.compression = compression
        self.open_timeout = open_timeout
        self.ping = (ping_interval, ping_timeout)
        self.conn_kwargs = conn_kwargs
        self.buffer_sizes = buffer_sizes
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.base_events.Server | None = None
        self.closing = False

    # called for every accepted TCP connection
    def _factory(self) -> Connection:
        conn = Connection(Role.SERVER, **self.conn_kwargs)
        if self.tls is not None:
            conn.start_tls(TlsCodec(self.tls, True))
        conn.on_connection_made = self._start
        return conn

    def _start(self, conn: Connection) -> None:
        apply_buffer_sizes(conn.transport_, *self.buffer_sizes)
        task = asyncio.get_running_loop().create_task(self._serve_one(conn))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _serve_one(self, conn: Connection) -> None:
        transport = conn.transport_
        try:
            head = await asyncio.wait_for(self._opening(conn), self.open_timeout)
            request = parse_request(head)
        except InvalidHandshakeRequest as exc:
            log.info("rejected handshake from %s: %s", conn.remote_address, exc)
            conn.write_raw(build_rejection(exc.status or 400, f"{exc}\n"))
            transport.close()
            return
        except TlsError as exc:
            log.info("TLS handshake with %s failed: %s", conn.remote_address, exc)
            transport.close()                 # after the alert went out
            return
        except (asyncio.TimeoutError, ConnectionError, OSError) as exc:
            log.info("no valid handshake from %s: %r", conn.remote_address, exc)
            transport.abort()
            return
        chosen = next((p for p in request.subprotocols if p in self.subprotocols), None)
        extensions, codec = accept_extensions(request, self.compression)
        conn.write_raw(build_response(request, chosen, extensions=extensions))
        if codec is not None:
            conn.set_extension(codec)
        conn.subprotocol = chosen
        conn.request_path = request.path
        conn.request_headers = request.headers
        conn.handshake_status = 101
        if conn.closed:
            return                            # gone right after its request
        if self.listener_factory is not None and not self.closing:
            try:
                conn.set_listener(self.listener_factory())
            except Exception:
                log.exception("listener_factory failed; closing with 1011")
                conn.opened()
                await conn.close(1011, "internal error")
                return
        conn.opened(*self.ping)
        if self.closing:
            await conn.close(1001, "server shutting down")
            return
        self.connections.add(conn)
        try:
            if self.handler is None:
                await conn.wait_closed()      # the listener does the work
            else:
                await self.handler(conn)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection handler failed; closing with 1011")
            await conn.close(1011, "internal error")
        finally:
            self.connections.discard(conn)
        await conn.close(1000)

    @staticmethod
    async def _opening(conn: Connection) -> bytes:
        if conn.tls is not None:
            await conn.tls_handshake()
        return await conn.read_head()

    async def start(self, host: str | None, port: int, **kwargs: Any) -> Server:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._factory, host, port, **kwargs)
        return self

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self.server.sockets) if self.server is not None else ()

    @property
    def port(self) -> int:
        """The TCP port of the first listening socket (handy with port 0)."""
        return int(self.sockets[0].getsockname()[1])

    def broadcast(self, message: str | bytes, *, close_slow: int | None = None) -> int:
        """``ws.broadcast`` to every open connection of this server; returns
        how many were skipped (closing, or over their write high-water mark)."""
        return broadcast(self.connections, message, close_slow=close_slow)

    def close(self, close_connections: bool = True) -> None:
        """Stop accepting; with ``close_connections``, send 1001 to open ones."""
        self.closing = True
        if self.server is not None:
            self.server.close()
        if close_connections:
            loop = asyncio.get_running_loop()
            for conn in list(self.connections):
                task = loop.create_task(conn.close(1001, "server shutting down"))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def wait_closed(self) -> None:
        """Wait until the listener is closed and every connection task ended."""
        if self.server is not None:
            await self.server.wait_closed()
        # Wait on the tasks still running, never "until the set is empty": a
        # finished task leaves the set in a done-callback that the loop runs
        # later, and from Python 3.12 awaiting tasks that are all finished may
        # return without yielding to the loop, so such a loop would spin
        # forever without letting that callback run. close() may add tasks
        # while we wait, hence the re-check.
        while pending := [task for task in self.tasks if not task.done()]:
            await asyncio.wait(pending)

    async def serve_forever(self) -> None:
        assert self.server is not None
        await self.server.serve_forever()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


async def serve(handler: Handler | None, host: str | None, port: int, *,
                tls: TlsConfig | None = None, subprotocols: Sequence[str] = (), open_timeout: float | None = 10.0,
                close_timeout: float = 10.0, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                max_frame_size: int | None = None, ping_interval: float | None = 20.0,
                ping_timeout: float | None = 20.0, auto_pong: bool = True,
                read_buffer_size: int = 64 * 1024, limit: int = DEFAULT_LIMIT,
                listener_factory: Callable[[], Any] | None = None,
                so_rcvbuf: int | None = None, so_sndbuf: int | None = None,
                compression: Any = None, **create_server_kwargs: Any) -> Server:
    """Listen on ``host:port`` and run ``handler(conn)`` for each WebSocket connection.

    Limits and timeouts mean the same as for ``ws.connect``; other keyword
    arguments go to ``loop.create_server`` (``reuse_port``, ``backlog``...).
    A request that is not a valid WebSocket upgrade gets a 400/405/426
    answer and the server keeps serving others. ``tls``: a
    ``TlsConfig.server(...)`` to serve ``wss://``. ``listener_factory``
    (with ``handler=None``): each connection gets ``listener_factory()``, a
    ``ws.Listener`` called from the receive path (no task per message).
    ``so_rcvbuf`` / ``so_sndbuf``: SO_RCVBUF / SO_SNDBUF of every accepted
    connection (None: the kernel's autotuning). ``compression``:
    ``"deflate"`` or a ``ws.Deflate`` accepts a client's permessage-deflate
    offer (docs/compression.md); None (default) declines every offer.
    """
    check_buffer_sizes(so_rcvbuf, so_sndbuf)
    server = Server(handler, tls=tls, compression=resolve_compression(compression, server=True), subprotocols=subprotocols, open_timeout=open_timeout,
                    listener_factory=listener_factory, buffer_sizes=(so_rcvbuf, so_sndbuf),
                    ping_interval=ping_interval, ping_timeout=ping_timeout,
                    conn_kwargs=dict(max_message_size=max_message_size, max_frame_size=max_frame_size,
                                     read_buffer_size=read_buffer_size, limit=limit,
                                     auto_pong=auto_pong, close_timeout=close_timeout))
    return await server.start(host, port, **create_server_kwargs)
