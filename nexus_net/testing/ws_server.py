"""``WsTestServer``: a WebSocket server for a bot's tests that records what the
clients sent, pushes, closes with any code, drops connections without a
close frame, and plays scripts (the failures a bot must survive)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nexus_net import ws
from nexus_net.testing.tls import TestTls

Step = tuple[Any, ...]


# ---- script steps ---------------------------------------------------------------------------

def send(message: str | bytes) -> Step:
    """Send a text (str) or binary (bytes) message."""
    return ("send", message)


def sleep(seconds: float) -> Step:
    """Wait."""
    return ("sleep", seconds)


def recv() -> Step:
    """Wait for the client's next message (it is recorded as always)."""
    return ("recv",)


def expect(message: str | bytes) -> Step:
    """Wait for the client's next message; it must equal ``message`` (else the
    test fails at teardown with what came instead)."""
    return ("expect", message)


def close(code: int = 1000, reason: str = "") -> Step:
    """Close the connection with ``code`` (1012 service restart, 1001 going away...)."""
    return ("close", code, reason)


def drop() -> Step:
    """Reset the TCP connection: no close frame (a network failure, as the bot sees it)."""
    return ("drop",)


def reset_connection(conn: Any) -> None:
    """RST, not FIN: SO_LINGER with a zero timeout, then abort."""
    transport = conn.transport_
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


class WsTestServer:
    """``server = await WsTestServer(handler=None, tls=None, **serve_kwargs).start()``.

    Without a handler every connection is echoed (or runs ``script(...)``),
    and ``received`` lists every message any client sent, in arrival order
    (text as ``str``, binary as ``bytes``). ``url``; ``connections`` (the open
    ones); ``await push(msg)`` to every client; ``await close(code, reason)``;
    ``await drop()``; ``await wait_connections(n)``; ``await
    wait_received(n)``. A failure inside a handler or a script (an
    ``expect`` that saw something else) is kept in ``errors`` and raised by
    ``aclose()``: a test never passes over a server that broke.
    """

    __test__ = False

    def __init__(self, handler: Callable[[Any], Awaitable[None]] | None = None, *,
                 tls: TestTls | None = None, **serve_kwargs: Any) -> None:
        self.handler = handler
        self.tls = tls
        self.serve_kwargs = {"ping_interval": None, **serve_kwargs}
        self.received: list[str | bytes] = []
        self.connections: list[Any] = []
        self.connected_total = 0
        self.errors: list[BaseException] = []
        self.steps: list[Step] | None = None
        self.server: Any = None
        self._changed: asyncio.Event | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    async def start(self) -> WsTestServer:
        self._changed = asyncio.Event()
        kw = dict(self.serve_kwargs)
        if self.tls is not None:
            kw["tls"] = self.tls.server_config
        self.server = await ws.serve(self._serve, "127.0.0.1", 0, **kw)
        return self

    @property
    def port(self) -> int:
        return int(self.server.port)

    @property
    def url(self) -> str:
        return f"wss://localhost:{self.port}" if self.tls is not None else f"ws://127.0.0.1:{self.port}"

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
            await asyncio.wait_for(self.server.wait_closed(), 10)
            self.server = None
        if self.errors:
            raise AssertionError(f"the test server failed: {self.errors[0]!r}") from self.errors[0]

    async def __aenter__(self) -> WsTestServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- what the test does -----------------------------------------------------------
    def script(self, steps: Sequence[Step]) -> None:
        """Every later connection plays ``steps`` (``send``, ``sleep``,
        ``recv``, ``expect``, ``close``, ``drop``), then echoes like the others."""
        self.steps = list(steps)

    async def push(self, message: str | bytes) -> int:
        """Send ``message`` to every open connection; returns how many."""
        conns = [c for c in self.connections if not c.closed]
        await asyncio.gather(*(c.send(message) for c in conns))
        return len(conns)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close every open connection with ``code``."""
        await asyncio.gather(*(c.close(code, reason) for c in list(self.connections)))

    async def drop(self) -> None:
        """Reset every connection (TCP RST, no close frame)."""
        for conn in list(self.connections):
            reset_connection(conn)
        await asyncio.sleep(0)

    async def wait_connections(self, n: int = 1, timeout: float = 10.0) -> None:
        """Until ``n`` connections were accepted in all."""
        await self._until(lambda: self.connected_total >= n, timeout, f"{n} connection(s)")

    async def wait_received(self, n: int = 1, timeout: float = 10.0) -> list[str | bytes]:
        """Until ``n`` messages were received in all; returns ``received``."""
        await self._until(lambda: len(self.received) >= n, timeout, f"{n} message(s)")
        return self.received

    async def _until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        assert self._changed is not None

        async def wait() -> None:
            while not done():
                self._changed.clear()               # type: ignore[union-attr]
                await self._changed.wait()          # type: ignore[union-attr]
        try:
            await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the test server did not see {what} within {timeout}s "
                                 f"(connections: {self.connected_total}, received: {len(self.received)})") from None

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    # ---- serving ---------------------------------------------------------------------------
    async def _serve(self, conn: Any) -> None:
        self.connections.append(conn)
        self.connected_total += 1
        self._notify()
        try:
            if self.handler is not None:
                await self.handler(conn)
            else:
                await self._default(conn)
        except ws.ConnectionClosed:
            pass
        except Exception as exc:                   # kept for the test, not lost in a task
            self.errors.append(exc)
        finally:
            self.connections.remove(conn)
            self._notify()

    def _record(self, msg: Any) -> str | bytes:
        item: str | bytes = msg.text() if msg.kind is ws.Kind.TEXT else msg.bytes()
        self.received.append(item)
        self._notify()
        return item

    async def _default(self, conn: Any) -> None:
        steps = self.steps
        if not steps:
            async for msg in conn:
                await conn.send(self._record(msg))
            return
        inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()

        async def reader() -> None:
            try:
                async for msg in conn:
                    inbox.put_nowait(self._record(msg))
            finally:
                inbox.put_nowait(None)
        task = asyncio.ensure_future(reader())
        try:
            for step in steps:
                kind = step[0]
                if kind == "send":
                    await conn.send(step[1])
                elif kind == "sleep":
                    await asyncio.sleep(step[1])
                elif kind in ("recv", "expect"):
                    got = await inbox.get()
                    if got is None:
                        raise AssertionError(f"script step {step!r}: the client closed instead")
                    if kind == "expect" and got != step[1]:
                        raise AssertionError(f"script step {step!r}: the client sent {got!r}")
                elif kind == "close":
                    await conn.close(step[1], step[2])
                    return
                elif kind == "drop":
                    reset_connection(conn)
                    return
                else:
                    raise ValueError(f"unknown script step {step!r}")
            # the script is over: echo like any other connection
            while (got := await inbox.get()) is not None:
                await conn.send(got)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
