"""The async REST client's request path against small real servers on 127.0.0.1:
queueing of concurrent senders, cancellation, the lazily re-armed read timeout,
and the faults named by the issue (oversize bodies, a server closing mid-body
under a pool)."""

from __future__ import annotations

import asyncio

import pytest

from nexus_net import rest
from nexus_net.http import BodyTooLarge, ConnectionLost, RequestTimeout


class Server:
    """A keep-alive HTTP/1.1 server whose reply to each request is chosen by
    ``reply(path, n)`` (n counts requests on the connection). It may return
    bytes, or None to stall, or the string "close" to close the connection."""

    def __init__(self, reply):
        self.reply = reply
        self.connections = 0

    async def handle(self, reader, writer):
        self.connections += 1
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                path = head.split(b" ")[1].decode()
                out = self.reply(path, n)
                n += 1
                if out is None:
                    await asyncio.sleep(30)
                    return
                if out == "close":
                    break
                writer.write(out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def echo_path(path, n):
    return ok(path.encode())


async def test_concurrent_senders_are_served_in_order_on_one_connection():
    async with Server(echo_path) as srv:
        async with await rest.connect(srv.url) as conn:
            order = []

            async def one(i):
                r = await conn.get(f"/{i}")
                order.append(i)
                return r.bytes()

            # conn.get shares one writer, so each caller must build after the
            # previous send; separate writers and readers let them overlap.
            results = await asyncio.gather(*(one(i) for i in range(20)))
            assert results == [f"/{i}".encode() for i in range(20)]
            assert order == list(range(20))
            assert srv.connections == 1 and conn.reconnects == 0


async def test_overlapping_sends_with_own_readers_queue_in_order():
    from nexus_net.http import ResponseReader
    async with Server(echo_path) as srv:
        async with await rest.connect(srv.url) as conn:
            writers = [rest.RequestWriter("127.0.0.1") for _ in range(10)]
            readers = [ResponseReader() for _ in range(10)]
            sends = [conn.send(w.get(f"/{i}").finish(), r) for i, (w, r) in enumerate(zip(writers, readers))]
            got = await asyncio.gather(*sends)
            assert [g.bytes() for g in got] == [f"/{i}".encode() for i in range(10)]
            assert srv.connections == 1


async def test_cancelling_a_queued_sender_leaves_the_queue_working():
    def slow_first(path, n):
        return ok(path.encode())

    async with Server(slow_first) as srv:
        async with await rest.connect(srv.url) as conn:
            from nexus_net.http import ResponseReader
            w = [rest.RequestWriter("127.0.0.1") for _ in range(3)]
            r = [ResponseReader() for _ in range(3)]
            t0 = asyncio.ensure_future(conn.send(w[0].get("/a").finish(), r[0]))
            t1 = asyncio.ensure_future(conn.send(w[1].get("/b").finish(), r[1]))
            t2 = asyncio.ensure_future(conn.send(w[2].get("/c").finish(), r[2]))
            await asyncio.sleep(0)
            t1.cancel()
            assert (await t0).bytes() == b"/a"
            assert (await t2).bytes() == b"/c"
            with pytest.raises(asyncio.CancelledError):
                await t1
            assert (await conn.get("/d")).bytes() == b"/d"
            assert srv.connections == 1


async def test_cancelling_the_request_in_flight_discards_its_connection():
    def stall_first(path, n):
        return None if path == "/stall" else ok(path.encode())

    async with Server(stall_first) as srv:
        async with await rest.connect(srv.url) as conn:
            task = asyncio.ensure_future(conn.get("/stall"))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Its response could still come: the connection is not reused.
            assert not conn.connected
            assert (await conn.get("/after")).bytes() == b"/after"
            assert srv.connections == 2


async def test_read_timeout_fires_after_many_quick_requests():
    """The read timeout is a deadline moved by each wait and checked by a timer
    re-armed only when it fires: quick requests never time out, and a stall
    after them times out after about read_timeout."""
    def reply(path, n):
        return None if path == "/stalls" else ok(b"x")

    async with Server(reply) as srv:
        conn = await rest.connect(srv.url, read_timeout=0.15)
        loop = asyncio.get_running_loop()
        for _ in range(400):
            assert (await conn.get("/q")).bytes() == b"x"
        t0 = loop.time()
        with pytest.raises(RequestTimeout, match="read_timeout=0.15"):
            await conn.get("/stalls")
        elapsed = loop.time() - t0
        assert 0.14 <= elapsed < 1.0, elapsed
        assert not conn.connected
        await conn.close()


async def test_the_timer_armed_by_an_earlier_request_is_re_armed_to_the_new_deadline():
    """A request 0.8 s after the first arms no timer of its own: the first
    request's timer fires at 1.0 s, finds the deadline moved (0.8 + 1.0) and
    re-arms for the remainder, so the stall times out 1.0 s after it began.
    Timing out at the old deadline would take ~0.2 s; re-arming for a whole
    read_timeout instead of the remainder would take ~1.2 s."""
    def reply(path, n):
        return None if path == "/stalls" else ok(b"x")

    async with Server(reply) as srv:
        conn = await rest.connect(srv.url, read_timeout=1.0)
        loop = asyncio.get_running_loop()
        assert (await conn.get("/q")).bytes() == b"x"
        await asyncio.sleep(0.8)
        t0 = loop.time()
        with pytest.raises(RequestTimeout):
            await conn.get("/stalls")
        elapsed = loop.time() - t0
        assert 0.95 <= elapsed < 1.15, elapsed
        await conn.close()


@pytest.mark.parametrize("shape", ["content-length", "chunked", "until-close"])
async def test_oversize_response_is_an_error_and_its_bytes_never_become_the_next_response(shape):
    # The oversize body carries a complete, valid-looking response: if the
    # client kept reading that connection, the next request would "get" it.
    smuggled = ok(b"SMUGGLED")
    big = b"A" * 200 + smuggled * 4

    def reply(path, n):
        if path != "/big":
            return ok(b"real " + path.encode())
        if shape == "content-length":
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big)
        if shape == "chunked":
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
        return b"HTTP/1.1 200 OK\r\n\r\n" + big       # until close, and the server keeps it open

    async with Server(reply) as srv:
        async with await rest.connect(srv.url, max_body_size=100, read_timeout=2) as conn:
            with pytest.raises(BodyTooLarge, match="max_body_size=100"):
                await conn.get("/big")
            assert not conn.connected
            r = await conn.get("/next")
            assert r.bytes() == b"real /next"
            assert srv.connections == 2


async def test_pool_replaces_a_connection_the_server_closed_mid_body():
    cut = {"armed": True}

    def reply(path, n):
        if path == "/cut" and cut["armed"]:
            cut["armed"] = False
            return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"   # then the server closes
        return ok(path.encode())

    class CuttingServer(Server):
        async def handle(self, reader, writer):
            orig = writer.write

            def write(data):
                orig(data)
                if data.endswith(b"partial"):
                    writer.transport.close()
            writer.write = write
            await super().handle(reader, writer)

    async with CuttingServer(reply) as srv:
        pool = await rest.ClientPool.connect(srv.url, connections=2, reconnect_initial=0.01)
        try:
            with pytest.raises(ConnectionLost, match="mid-response"):
                async with pool.acquire() as conn:
                    await conn.post("/cut", json={})         # POST: never retried
            assert pool.available == 1                        # the broken one is being repaired
            for _ in range(100):
                if pool.available == 2:
                    break
                await asyncio.sleep(0.01)
            assert pool.available == 2
            results = []
            for i in range(4):
                async with pool.acquire(timeout=1) as conn:
                    results.append((await conn.get(f"/{i}")).bytes())
            assert results == [f"/{i}".encode() for i in range(4)]
            assert srv.connections == 3                       # two at start, one replacement
        finally:
            await pool.close()


async def test_a_closed_client_refuses_requests_instead_of_reconnecting():
    from nexus_net.http import ClientClosed
    async with Server(echo_path) as srv:
        conn = await rest.connect(srv.url)
        assert (await conn.get("/a")).bytes() == b"/a"
        await conn.close()
        with pytest.raises(ClientClosed, match="closed"):
            await conn.get("/b")
        assert srv.connections == 1
        sconn = await asyncio.to_thread(rest.sync.connect, srv.url)
        assert (await asyncio.to_thread(sconn.get, "/c")).bytes() == b"/c"
        sconn.close()
        with pytest.raises(ClientClosed):
            await asyncio.to_thread(sconn.get, "/d")


# ---- send_callback ---------------------------------------------------------------------

async def test_send_callback_chains_requests_from_the_callback():
    from nexus_net.http import ResponseReader
    async with Server(echo_path) as srv:
        async with await rest.connect(srv.url) as conn:
            writer, reader = rest.RequestWriter("127.0.0.1"), ResponseReader()
            done = asyncio.get_running_loop().create_future()
            got = []

            def on_response(resp, exc):
                assert exc is None, exc
                got.append(resp.bytes())
                if len(got) == 500:
                    done.set_result(None)
                else:
                    conn.send_callback(writer.post(f"/{len(got)}").body(b"x").finish(), reader, on_response)

            conn.send_callback(writer.post("/0").body(b"x").finish(), reader, on_response)
            await asyncio.wait_for(done, 10)
            assert got == [f"/{i}".encode() for i in range(500)]
            assert srv.connections == 1


async def test_send_callback_reports_errors_and_timeouts():
    from nexus_net.http import ResponseReader

    def reply(path, n):
        if path == "/stall":
            return None
        if path == "/cut":
            return "close"
        return ok(b"fine")

    async with Server(reply) as srv:
        conn = await rest.connect(srv.url, read_timeout=0.2)
        writer, reader = rest.RequestWriter("127.0.0.1"), ResponseReader()
        loop = asyncio.get_running_loop()

        async def call(path):
            fut = loop.create_future()
            conn.send_callback(writer.post(path).finish(), reader, lambda r, e: fut.set_result((r, e)))
            return await asyncio.wait_for(fut, 5)

        resp, exc = await call("/ok")
        assert exc is None and resp.bytes() == b"fine"
        t0 = loop.time()
        resp, exc = await call("/stall")
        assert resp is None and isinstance(exc, RequestTimeout) and 0.15 <= loop.time() - t0 < 2
        assert not conn.connected
        resp, exc = await call("/cut")                     # a POST: reported, not retried
        assert resp is None and isinstance(exc, ConnectionLost)
        resp, exc = await call("/after")                   # reconnects (the task path), works
        assert exc is None and resp.bytes() == b"fine"
        await conn.close()


async def test_send_callback_and_send_share_the_connection_in_order(caplog):
    from nexus_net.http import ResponseReader
    async with Server(echo_path) as srv:
        async with await rest.connect(srv.url) as conn:
            w1, w2, w3 = (rest.RequestWriter("127.0.0.1") for _ in range(3))
            r1, r2, r3 = (ResponseReader() for _ in range(3))
            loop = asyncio.get_running_loop()
            order = []
            first = loop.create_future()

            def raises(resp, exc):
                order.append(resp.bytes())
                first.set_result(None)
                raise RuntimeError("a bug in the user's callback")

            conn.send_callback(w1.get("/cb").finish(), r1, raises)          # fast path
            awaited = asyncio.ensure_future(conn.send(w2.get("/await").finish(), r2))
            second = loop.create_future()
            await asyncio.sleep(0)
            conn.send_callback(w3.get("/queued").finish(), r3,               # busy: queued in a task
                               lambda r, e: (order.append(r.bytes()), second.set_result(None)))
            await asyncio.wait_for(first, 5)
            assert (await awaited).bytes() == b"/await"
            await asyncio.wait_for(second, 5)
            assert order == [b"/cb", b"/queued"]
            assert "send_callback() raised" in caplog.text
            assert (await conn.get("/last")).bytes() == b"/last"
            assert srv.connections == 1


@pytest.mark.parametrize("total_timeout", [None, 5.0])
async def test_send_callback_on_a_busy_connection_takes_the_request_bytes_at_once(total_timeout):
    """The slow path (connection busy) runs later in a task; the request is
    copied before send_callback returns, so the caller may reuse its writer
    right away (the Request would be stale by the time the task runs)."""
    from nexus_net.http import ResponseReader
    async with Server(echo_path) as srv:
        async with await rest.connect(srv.url, total_timeout=total_timeout) as conn:
            writer = rest.RequestWriter("127.0.0.1")
            readers = [ResponseReader() for _ in range(3)]
            loop = asyncio.get_running_loop()
            futs = [loop.create_future() for _ in range(3)]
            for i in range(3):                      # the 2nd and 3rd find the connection busy
                conn.send_callback(writer.get(f"/{i}").finish(), readers[i],
                                   lambda r, e, f=futs[i]: f.set_result((r, e)))
            got = await asyncio.wait_for(asyncio.gather(*futs), 5)
            assert [(r.bytes(), e) for r, e in got] == [(b"/0", None), (b"/1", None), (b"/2", None)]


# ---- retries, trickling responses, callback edge cases ---------------------------------

class FirstRequestDropped(Server):
    """Closes the first connection on its first request without answering (a
    server that timed out the idle connection just as the request went out)."""

    def __init__(self, reply=echo_path):
        super().__init__(reply)
        self.armed = True

    async def handle(self, reader, writer):
        if self.armed:
            self.armed = False
            self.connections += 1
            await reader.readuntil(b"\r\n\r\n")
            writer.close()
            return
        await super().handle(reader, writer)


async def test_an_idempotent_request_is_retried_once_when_the_server_closed_without_answering():
    async with FirstRequestDropped() as srv:
        async with await rest.connect(srv.url) as conn:
            assert (await conn.get("/g")).bytes() == b"/g"
            assert srv.connections == 2


async def test_a_post_is_not_retried_when_the_server_closed_without_answering():
    async with FirstRequestDropped() as srv:
        async with await rest.connect(srv.url) as conn:
            with pytest.raises(ConnectionLost, match="before responding"):
                await conn.post("/p", data=b"x")
            assert srv.connections == 1


async def test_an_idempotent_request_cut_mid_body_is_not_retried():
    """Bytes of the response arrived: the server acted on the request, so even
    a PUT is not sent twice."""
    def reply(path, n):
        return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart" if path == "/cut" else ok(b"x")

    class Cut(Server):
        async def handle(self, reader, writer):
            write = writer.write
            writer.write = lambda data: (write(data), writer.transport.close()) if data.endswith(b"part") \
                else write(data)
            await super().handle(reader, writer)

    async with Cut(reply) as srv:
        async with await rest.connect(srv.url) as conn:
            with pytest.raises(ConnectionLost, match="mid-response"):
                await conn.request("PUT", "/cut", data=b"x")
            assert srv.connections == 1


async def test_the_read_timeout_applies_per_wait_not_to_the_whole_response():
    """A response trickling in over 0.6 s with gaps shorter than read_timeout
    completes, awaited or through send_callback; total_timeout bounds the whole."""
    class Trickle(Server):
        async def handle(self, reader, writer):
            self.connections += 1
            try:
                while True:
                    await reader.readuntil(b"\r\n\r\n")
                    body = b"0123456789"
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
                    for i in range(0, len(body), 2):
                        await asyncio.sleep(0.12)
                        writer.write(body[i:i + 2])
            except (asyncio.IncompleteReadError, ConnectionError):
                pass

    from nexus_net.http import ResponseReader
    async with Trickle(None) as srv:
        async with await rest.connect(srv.url, read_timeout=0.3) as conn:
            assert (await conn.get("/t")).bytes() == b"0123456789"
            fut = asyncio.get_running_loop().create_future()
            conn.send_callback(rest.RequestWriter("127.0.0.1").get("/t").finish(), ResponseReader(),
                               lambda r, e: fut.set_result((r, e)))
            resp, exc = await asyncio.wait_for(fut, 5)
            assert exc is None and resp.bytes() == b"0123456789"
        async with await rest.connect(srv.url, read_timeout=0.3, total_timeout=0.3) as conn:
            with pytest.raises(RequestTimeout, match="took more than total_timeout=0.3s") as info:
                await conn.get("/t")
            assert isinstance(info.value, rest.ResponseTimeout) and info.value.bytes_sent > 0


async def test_send_callback_fast_path_edge_cases():
    """A Connection: close reply is delivered and the connection dropped; a
    request on a closed client reports ClientClosed through the callback (the
    task path); the fast path reports, and does not retry, a dropped GET."""
    from nexus_net.http import ClientClosed, ResponseReader

    def reply(path, n):
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye"

    loop = asyncio.get_running_loop()

    async def call(conn, path):
        fut = loop.create_future()
        conn.send_callback(rest.RequestWriter("127.0.0.1").get(path).finish(), ResponseReader(),
                           lambda r, e: fut.set_result((r, e)))
        return await asyncio.wait_for(fut, 5)

    async with Server(reply) as srv:
        conn = await rest.connect(srv.url)
        resp, exc = await call(conn, "/c")
        assert exc is None and resp.bytes() == b"bye" and not conn.connected
        await conn.close()
        resp, exc = await call(conn, "/after-close")
        assert resp is None and isinstance(exc, ClientClosed)
    async with FirstRequestDropped() as srv:
        conn = await rest.connect(srv.url)
        resp, exc = await call(conn, "/g")
        assert resp is None and isinstance(exc, ConnectionLost)
        assert srv.connections == 1
        await conn.close()


async def test_the_blocking_client_retries_the_same_way():
    async with FirstRequestDropped() as srv:
        conn = await asyncio.to_thread(rest.sync.connect, srv.url)
        assert (await asyncio.to_thread(conn.get, "/g")).bytes() == b"/g"
        assert srv.connections == 2
        conn.close()
    async with FirstRequestDropped() as srv:
        conn = await asyncio.to_thread(rest.sync.connect, srv.url)
        with pytest.raises(ConnectionLost):
            await asyncio.to_thread(conn.post, "/p", data=b"x")
        assert srv.connections == 1
        conn.close()
