"""ClientPool against a real keep-alive HTTP server (aiohttp) on 127.0.0.1."""

import asyncio

import pytest

from nexus_net import rest

web = pytest.importorskip("aiohttp.web")


class Server:
    """aiohttp app that records the client address of every request (one
    address per TCP connection)."""

    def __init__(self):
        self.peers = set()
        self.runner = None
        self.port = 0

    async def start(self, port=0):
        async def get(request):
            self.peers.add(request.transport.get_extra_info("peername"))
            return web.json_response({"args": dict(request.query)})

        async def slow(request):
            await asyncio.sleep(float(request.query.get("s", "0.2")))
            return web.json_response({})

        app = web.Application()
        app.router.add_get("/get", get)
        app.router.add_get("/slow", slow)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self):
        await self.runner.cleanup()


@pytest.fixture
async def server():
    s = Server()
    url = await s.start()
    s.url = url
    yield s
    await s.stop()


async def test_pre_opened_lifo_and_reuse(server):
    pool = await rest.ClientPool.connect(server.url, connections=3)
    try:
        assert pool.available == 3
        a = pool.try_acquire()
        b = pool.try_acquire()
        pool.release(a)
        pool.release(b)
        assert pool.try_acquire() is b            # last in, first out
        pool.release(b)
        sockets = {id(c.proto) for c in pool.idle}
        for i in range(50):
            async with pool.acquire() as client:
                assert (await client.get("/get", params={"i": str(i)})).json()["args"] == {"i": str(i)}
        assert {id(c.proto) for c in pool.idle} == sockets      # nothing reconnected
        assert len(server.peers) == 1             # LIFO: sequential use stays on one connection
    finally:
        await pool.close()


async def test_try_acquire_none_and_acquire_timeout(server):
    pool = await rest.ClientPool.connect(server.url, connections=1)
    try:
        held = pool.try_acquire()
        assert held is not None and pool.try_acquire() is None
        with pytest.raises(rest.PoolTimeout):
            async with pool.acquire(timeout=0.05):
                pass
        pool.release(held)
        assert pool.available == 1
    finally:
        await pool.close()


async def test_slot_returns_on_exception_and_cancellation(server):
    pool = await rest.ClientPool.connect(server.url, connections=2)
    try:
        with pytest.raises(ZeroDivisionError):
            async with pool.acquire():
                1 / 0
        assert pool.available == 2

        async def hold():
            async with pool.acquire() as client:
                await client.get("/slow", params={"s": "1"})

        task = asyncio.ensure_future(hold())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.3)                   # a cancelled request breaks its connection: repaired
        assert pool.available == 2
    finally:
        await pool.close()


async def test_waiters_are_served_in_order(server):
    pool = await rest.ClientPool.connect(server.url, connections=1)
    try:
        order = []
        held = pool.try_acquire()

        async def user(n):
            async with pool.acquire(timeout=5) as client:
                order.append(n)
                await client.get("/get")

        tasks = [asyncio.ensure_future(user(n)) for n in range(4)]
        await asyncio.sleep(0.05)
        pool.release(held)
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3]
    finally:
        await pool.close()


async def test_broken_connections_are_replaced_in_the_background(server):
    pool = await rest.ClientPool.connect(server.url, connections=2, reconnect_initial=0.05)
    try:
        for client in list(pool.idle):
            client.proto.transport.abort()         # the connections die
        await asyncio.sleep(0.05)
        async with pool.acquire(timeout=5) as client:
            # dead idle connections are skipped and repaired; we get a live one
            assert client.connected
            assert (await client.get("/get")).status == 200
        # a broken client released to the pool is repaired before reuse
        broken = pool.try_acquire()
        broken.proto.transport.abort()
        await asyncio.sleep(0.02)
        pool.release(broken)
        await asyncio.sleep(0.3)
        assert pool.available == 2 and all(c.connected for c in pool.idle)
    finally:
        await pool.close()


async def test_reconnect_backs_off_until_the_server_returns(server):
    pool = await rest.ClientPool.connect(server.url, connections=1, reconnect_initial=0.02,
                                         reconnect_max=0.1)
    try:
        port = server.port
        await server.stop()                        # the server goes away, closing our connection
        await asyncio.sleep(0.1)
        assert pool.try_acquire() is None          # the dead connection went to repair
        await asyncio.sleep(0.3)                   # repair keeps failing, backing off
        assert pool.available == 0
        await server.start(port)                   # back on the same port
        for _ in range(50):
            if pool.available:
                break
            await asyncio.sleep(0.05)
        assert pool.available == 1
        async with pool.acquire() as c:
            assert (await c.get("/get")).status == 200
    finally:
        await pool.close()


async def test_closed_pool_refuses():
    s = Server()
    url = await s.start()
    pool = await rest.ClientPool.connect(url, connections=1)
    await pool.close()
    with pytest.raises(rest.PoolClosed):
        pool.try_acquire()
    await s.stop()


async def test_cancelled_waiter_never_leaks_a_connection(server):
    pool = await rest.ClientPool.connect(server.url, connections=1)
    try:
        held = pool.try_acquire()

        async def waiter():
            async with pool.acquire(timeout=5):
                pass

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0.02)
        pool.release(held)          # handed to the waiter...
        task.cancel()               # ...which is cancelled before it runs
        try:
            await task              # asyncio.wait_for may deliver the result instead
        except asyncio.CancelledError:
            pass
        assert pool.available == 1  # either way the connection came back
    finally:
        await pool.close()


# ---- fresh and warm connections (issue 14, part 5) ---------------------------------------

class KeepAliveServer:
    """A keep-alive server that closes a connection idle for ``server_idle``
    seconds (as nginx's keepalive_timeout does) and records every request
    line with its connection number."""

    def __init__(self, server_idle: float):
        self.server_idle = server_idle
        self.lines: list[tuple[int, bytes]] = []
        self.connections = 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def handle(self, reader, writer):
        self.connections += 1
        me = self.connections
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.server_idle)
                length = next((int(v.split(b":")[1]) for v in head.split(b"\r\n")
                               if v.lower().startswith(b"content-length:")), 0)
                if length:
                    await reader.readexactly(length)
                self.lines.append((me, head.split(b"\r\n")[0]))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def test_connections_the_server_closed_while_idle_are_never_handed_out():
    async with KeepAliveServer(server_idle=0.2) as srv:
        pool = await rest.ClientPool.connect(srv.url, connections=3, reconnect_initial=0.01)
        try:
            await asyncio.sleep(0.5)                         # the server closed all three
            for _ in range(3):
                client = pool.try_acquire()
                assert client is None or client.connected    # a dead one is never returned
                if client is not None:
                    pool.release(client)
            for i in range(6):                               # and orders go through without a race
                async with pool.acquire(timeout=5) as client:
                    assert (await client.post("/api/v3/order", json={"n": i})).status == 200
        finally:
            await pool.close()


async def test_idle_timeout_replaces_connections_before_the_server_closes_them():
    async with KeepAliveServer(server_idle=0.6) as srv:
        pool = await rest.ClientPool.connect(srv.url, connections=2, idle_timeout=0.25)
        try:
            first = [c.proto for c in pool.idle]       # (held: an id() could be reused once freed)
            for _ in range(4):                                # idle periods past the server's timeout
                await asyncio.sleep(0.8)
                async with pool.acquire(timeout=5) as client:
                    assert client.connected                   # replaced in time, never found dead
                    assert (await client.post("/api/v3/order", json={})).status == 200
            assert srv.connections >= 2 + 4                   # the pool replaced them itself
            assert not any(c.proto is p for c in pool.idle for p in first)
        finally:
            await pool.close()
    with pytest.raises(ValueError, match="idle_timeout"):
        rest.ClientPool("http://127.0.0.1:9", 1, idle_timeout=0)


async def test_warm_keeps_idle_connections_hot():
    async with KeepAliveServer(server_idle=0.6) as srv:
        pool = await rest.ClientPool.connect(srv.url, connections=2)
        try:
            await pool.warm("/api/v3/ping")                   # once, now, on both
            assert [line for _, line in srv.lines] == [b"GET /api/v3/ping HTTP/1.1"] * 2
            await pool.warm("/api/v3/ping", keep_hot=0.15)
            await asyncio.sleep(1.5)                          # well past the server's idle timeout
            assert srv.connections == 2                       # kept alive: never reconnected
            pings = [conn for conn, line in srv.lines if line == b"GET /api/v3/ping HTTP/1.1"]
            assert pings.count(1) >= 4 and pings.count(2) >= 4
            async with pool.acquire(timeout=5) as client:     # user requests are not held up
                assert (await client.post("/api/v3/order", json={})).status == 200
        finally:
            await pool.close()
        count = len(srv.lines)
        await asyncio.sleep(0.4)
        assert len(srv.lines) == count                        # closing the pool stops it
