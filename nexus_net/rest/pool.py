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
    """

    def __init__(self, url: str, connections: int, *, reconnect_initial: float = 0.05,
                 reconnect_max: float = 5.0, **client_kwargs: Any) -> None:
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

    @classmethod
    async def connect(cls, url: str, *, connections: int = 4, **kwargs: Any) -> ClientPool:
        """Open ``connections`` connections to ``url`` (all must succeed)."""
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
        self.idle.append(client)

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
            log.info("replaced a broken connection to %s", self.url)
            self.release(client)
            return

    @property
    def available(self) -> int:
        return len(self.idle)

    async def close(self) -> None:
        self.closed = True
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
