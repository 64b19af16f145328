"""``ClientPool``: a fixed set of keep-alive connections to one origin."""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from nexus_net.http import HttpError
from nexus_net.rest.client import Client, connect

log = logging.getLogger("nexus_net.rest.pool")


class PoolTimeout(HttpError, TimeoutError):
    """No connection became free within the ``acquire`` timeout."""


class PoolClosed(HttpError):
    """The pool was closed."""


class _Lease:
    def __init__(self, pool: ClientPool, timeout: float | None) -> None:
        self.pool = pool
        self.timeout = timeout
        self.client: Client | None = None

    async def __aenter__(self) -> Client:
        self.client = await self.pool._acquire(self.timeout)
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        client, self.client = self.client, None
        if client is not None:
            self.pool.release(client)


class ClientPool:
    """``connections`` keep-alive clients, handed out last-in first-out (the
    most recently used connection is the warmest).

    ``try_acquire()`` returns a client or None at once; ``async with
    pool.acquire(timeout=...) as client`` waits (``PoolTimeout``). The client
    goes back when the block ends, also on exceptions and cancellation. A
    client that comes back broken is reconnected in the background with
    exponential backoff (``reconnect_initial`` doubling up to
    ``reconnect_max`` seconds) before it is handed out again.

    ``proxy=`` is as for ``rest.connect``, or a list of such values, one per
    connection in turn (connection ``i`` uses ``proxy[i % len(proxy)]``): a
    pool spread over several egress gateways, ``None`` in the list for direct
    connections. A repaired connection goes through its own proxy again.

    A connection the server closed while idle is never handed out (its EOF
    is a flag the protocol set when it arrived; checking it costs nothing).
    ``idle_timeout``: a connection idle that long is closed and replaced in
    the background, before the server's own keep-alive timeout can race a
    request (a POST that meets a closing connection is ``OutcomeUnknown``).
    ``warm(path, keep_hot=s)``: a cheap request on every connection idle for
    ``s`` seconds, so an order never pays a TCP + TLS handshake. Both run in
    one maintenance task per pool.
    """

    def __init__(self, url: str, connections: int, *, reconnect_initial: float = 0.05,
                 reconnect_max: float = 5.0, idle_timeout: float | None = None,
                 **client_kwargs: Any) -> None:
        if connections < 1:
            raise ValueError("a pool needs at least one connection")
        self.url = url
        self.size = connections
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        proxy = client_kwargs.pop("proxy", True)
        self.proxies = list(proxy) if isinstance(proxy, (list, tuple)) else [proxy]
        if not self.proxies:
            raise ValueError("proxy=[] names no proxy: give None for direct connections")
        self.client_kwargs = client_kwargs
        self.idle: list[Client] = []
        self.waiters: collections.deque[asyncio.Future[Client]] = collections.deque()
        self.repairing: set[asyncio.Task[None]] = set()
        self.closed = False
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive (or None)")
        self.idle_timeout = idle_timeout
        self.keep_hot: float | None = None
        self.warm_path = "/"
        self.idle_since: dict[int, float] = {}       # id(client) -> loop time it went idle
        self.maintenance: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str, *, connections: int = 4, **kwargs: Any) -> ClientPool:
        """Open ``connections`` connections to ``url`` (all must succeed).
        Keyword arguments: the pool's (``reconnect_initial``, ``reconnect_max``,
        ``idle_timeout``) and ``rest.connect``'s for each connection; a
        ``rate_limit`` given here is shared by all of them."""
        pool = cls(url, connections, **kwargs)
        clients = await asyncio.gather(*(connect(url, proxy=pool.proxies[i % len(pool.proxies)],
                                                 **pool.client_kwargs) for i in range(connections)),
                                       return_exceptions=True)
        errors = [c for c in clients if isinstance(c, BaseException)]
        if errors:
            for c in clients:
                if isinstance(c, Client):
                    await c.close()
            raise errors[0]
        pool.idle.extend(c for c in clients if isinstance(c, Client))
        now = asyncio.get_running_loop().time()
        for c in pool.idle:
            pool.idle_since[id(c)] = now
        if pool.idle_timeout is not None:
            pool._start_maintenance()
        return pool

    # ---- handing out ----------------------------------------------------------------
    def try_acquire(self) -> Client | None:
        """A free client (the most recently returned), or None."""
        if self.closed:
            raise PoolClosed("the pool is closed")
        while self.idle:
            client = self.idle.pop()
            if client.connected:
                return client
            self._start_repair(client)        # died while idle (server timeout, network)
        return None

    def acquire(self, timeout: float | None = None) -> _Lease:
        """``async with pool.acquire() as client: ...``"""
        return _Lease(self, timeout)

    async def _acquire(self, timeout: float | None) -> Client:
        client = self.try_acquire()
        if client is not None:
            return client
        fut: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                client = fut.result()          # handed to us just as we gave up
                if not isinstance(exc, asyncio.CancelledError):
                    return client
                self.release(client)           # cancelled: give it back, never leak it
            else:
                fut.cancel()
                try:
                    self.waiters.remove(fut)
                except ValueError:
                    pass
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise PoolTimeout(f"no connection free within {timeout}s ({self.size} in the pool)") from None

    def release(self, client: Client) -> None:
        """Give a client back (``acquire``'s context manager does this for you)."""
        if self.closed:
            asyncio.get_running_loop().create_task(client.close())
            return
        if not client.connected:
            self._start_repair(client)
            return
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(client)
                return
        self.idle_since[id(client)] = asyncio.get_running_loop().time()
        self.idle.append(client)

    # ---- keeping connections fresh and warm ---------------------------------------------
    async def warm(self, path: str = "/", *, keep_hot: float | None = None) -> None:
        """GET ``path`` once on every idle connection now (a cheap endpoint:
        a ping, the server time); with ``keep_hot``, go on doing it for every
        connection idle that many seconds, until the pool closes. The
        requests count against a ``rate_limit`` like any other."""
        if keep_hot is not None and keep_hot <= 0:
            raise ValueError("keep_hot must be positive (or None)")
        self.warm_path = path
        clients, self.idle = self.idle, []
        await asyncio.gather(*(self._ping(c) for c in clients))
        if keep_hot is not None:
            self.keep_hot = keep_hot
            self._start_maintenance()

    async def _ping(self, client: Client) -> None:
        try:
            await client.get(self.warm_path)
        except Exception as exc:               # a broken connection: release() repairs it
            log.info("keep-hot request to %s%s failed: %s", self.url, self.warm_path, exc)
        self.release(client)

    def _start_maintenance(self) -> None:
        if self.maintenance is None or self.maintenance.done():
            self.maintenance = asyncio.get_running_loop().create_task(self._maintain())

    async def _maintain(self) -> None:
        """The pool's one maintenance task: idle connections past
        ``idle_timeout`` are replaced, those past ``keep_hot`` get a request."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            periods = [p for p in (self.idle_timeout, self.keep_hot) if p]
            await asyncio.sleep(max(0.01, min(periods) / 4))
            now = loop.time()
            for client in list(self.idle):
                idle_for = now - self.idle_since.get(id(client), now)
                if self.idle_timeout is not None and idle_for >= self.idle_timeout:
                    self.idle.remove(client)
                    log.debug("closing a connection to %s idle for %.1fs", self.url, idle_for)
                    self._start_repair(client)
                elif self.keep_hot is not None and idle_for >= self.keep_hot:
                    self.idle.remove(client)
                    task = loop.create_task(self._ping(client))
                    self.repairing.add(task)
                    task.add_done_callback(self.repairing.discard)

    def _start_repair(self, client: Client) -> None:
        task = asyncio.get_running_loop().create_task(self._repair(client))
        self.repairing.add(task)
        task.add_done_callback(self.repairing.discard)

    async def _repair(self, client: Client) -> None:
        delay = self.reconnect_initial
        while not self.closed:
            try:
                client._discard()
                await client._connect()
            except Exception as exc:
                log.warning("reconnecting to %s failed (%s); retrying in %.2fs", self.url, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max)
                continue
            log.info("opened a replacement connection to %s", self.url)
            self.release(client)
            return

    @property
    def available(self) -> int:
        return len(self.idle)

    async def close(self) -> None:
        self.closed = True
        if self.maintenance is not None:
            self.maintenance.cancel()
        for task in list(self.repairing):
            task.cancel()
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_exception(PoolClosed("the pool was closed"))
        for client in self.idle:
            await client.close()
        self.idle.clear()

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
