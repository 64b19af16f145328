"""Rate limits both sides, per-request timings and form bodies (issue 14,
parts 3-5)."""

from __future__ import annotations

import asyncio
import time

import pytest

from nexus_net import rest
from nexus_net.http import ResponseReader
from nexus_net.tls import TlsConfig
from test_rest_outcomes import OK, Recorder, status_reply


# ---- resp.rate_limit ------------------------------------------------------------------------

def one_response(*headers: str):
    reader = ResponseReader()
    extra = "".join(f"{h}\r\n" for h in headers)
    reader.feed(f"HTTP/1.1 200 OK\r\n{extra}Content-Length: 0\r\n\r\n".encode())
    return reader.next()


def test_standard_rate_limit_headers():
    info = one_response("RateLimit-Limit: 100", "RateLimit-Remaining: 37", "RateLimit-Reset: 12").rate_limit
    assert (info.limit, info.remaining, info.used, info.reset) == (100, 37, 63, 12.0)
    info = one_response("X-RateLimit-Limit: 1200", "X-RateLimit-Remaining: 1199").rate_limit
    assert (info.limit, info.remaining, info.used, info.reset) == (1200, 1199, 1, None)
    info = one_response("RateLimit-Limit: 10, 10;w=1", "RateLimit-Remaining: 4").rate_limit
    assert (info.limit, info.remaining) == (10, 4)
    assert one_response("Content-Type: text/plain").rate_limit is None


def test_exchange_specific_headers_declared_once():
    binance = rest.RateLimitHeaders(used="X-MBX-USED-WEIGHT-1M", limit=6000)
    resp = one_response("X-MBX-USED-WEIGHT-1M: 1500")
    assert resp.rate_limit is None                      # undeclared, and no standard header
    resp.rate_limit_headers = binance
    info = resp.rate_limit
    assert (info.limit, info.used, info.remaining) == (6000, 1500, 4500)
    epoch = rest.RateLimitHeaders(remaining="X-Left", reset="X-Reset-At", reset_epoch=True)
    resp = one_response("X-Left: 3", f"X-Reset-At: {time.time() + 20:.0f}")
    resp.rate_limit_headers = epoch
    assert 18 <= resp.rate_limit.reset <= 21
    ms = rest.RateLimitHeaders(remaining="X-Left", reset="X-Reset-Ms", reset_ms=True)
    resp = one_response("X-Left: 3", "X-Reset-Ms: 1500")
    resp.rate_limit_headers = ms
    assert resp.rate_limit.reset == 1.5
    with pytest.raises(ValueError, match="remaining= or used="):
        rest.RateLimitHeaders(limit=10)


async def test_the_client_puts_its_declaration_on_every_response():
    reply = b"HTTP/1.1 200 OK\r\nX-MBX-USED-WEIGHT-1M: 42\r\nContent-Length: 2\r\n\r\nok"
    async with Recorder(lambda n: reply) as srv:
        spec = rest.RateLimitHeaders(used="X-MBX-USED-WEIGHT-1M", limit=6000)
        async with await rest.connect(srv.url, rate_limit_headers=spec) as client:
            assert (await client.get("/api/v3/time")).rate_limit.remaining == 5958
            fut = asyncio.get_running_loop().create_future()
            client.send_callback(rest.RequestWriter("127.0.0.1").get("/x").finish(), ResponseReader(),
                                 lambda r, e: fut.set_result(r))
            assert (await fut).rate_limit.used == 42

        def blocking():
            with rest.sync.connect(srv.url, rate_limit_headers=spec) as c:
                return c.get("/y").rate_limit.used
        assert await asyncio.to_thread(blocking) == 42


# ---- the client-side budget: deterministic clock --------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_burst_of_1000_weighted_requests_never_exceeds_the_budget_in_any_window():
    import random
    rnd = random.Random(7)
    clock = FakeClock()
    limit = rest.RateLimit(1200, 60.0, clock=clock)
    weights = [rnd.choice([1, 1, 1, 2, 5, 10, 20, 40]) for _ in range(1000)]
    granted = []                                     # (time, weight), in grant order
    for w in weights:                                # FIFO: each waits for the one before
        while True:
            wait = limit.delay(w, clock.now)
            if wait == 0:
                limit.take(w, clock.now)
                granted.append((clock.now, w))
                break
            clock.now += wait                        # sleep exactly as long as it says
    assert [w for _, w in granted] == weights
    times = [t for t, _ in granted]
    assert times == sorted(times)
    # any window of 60 s: sliding over every grant as the window's end
    j, in_window = 0, 0
    for i, (t, w) in enumerate(granted):
        in_window += w
        while granted[j][0] <= t - 60.0:
            in_window -= granted[j][1]
            j += 1
        assert in_window <= 1200, f"{in_window} units in the 60 s window ending at {t}"
    # and it is not needlessly slow: each window after the first is filled to the budget's edge
    total = sum(weights)
    assert times[-1] - times[0] <= (total / 1200 + 1) * 60.0


def test_pause_and_try_acquire_and_bad_weights():
    clock = FakeClock()
    limit = rest.RateLimit(10, 1.0, clock=clock)
    assert limit.try_acquire(10) and not limit.try_acquire(1)
    clock.now += 1.0
    assert limit.try_acquire(1)
    limit.note_response(429, "5")
    assert limit.delay(1, clock.now) == pytest.approx(5.0) and not limit.try_acquire(1)
    clock.now += 5.0
    assert limit.try_acquire(1)
    limit.note_response(503, "30")                   # only 429/418 pause
    assert limit.try_acquire(1)
    with pytest.raises(ValueError, match="exceeds the whole budget"):
        limit.delay(11, clock.now)
    with pytest.raises(ValueError):
        rest.RateLimit(0, 1.0)


# ---- the budget on a real loop ------------------------------------------------------------

async def test_waiters_go_in_order_and_a_cancelled_one_gives_its_place_back():
    limit = rest.RateLimit(4, 0.3)
    assert limit.try_acquire(4)
    order = []

    async def want(name, weight):
        await limit.acquire(weight)
        order.append(name)
    heavy = asyncio.ensure_future(want("heavy", 3))
    await asyncio.sleep(0)
    light = [asyncio.ensure_future(want(f"light{i}", 1)) for i in range(3)]
    await asyncio.sleep(0)
    assert limit.timer is not None and len(limit.waiters) == 4    # one timer for all of them
    heavy.cancel()
    await asyncio.gather(*light)
    assert order == ["light0", "light1", "light2"] and heavy.cancelled()
    assert limit.used == 3 and sum(w for _, w in limit.log) == 3     # the heavy one took nothing


async def test_fifo_a_heavy_request_is_not_overtaken():
    limit = rest.RateLimit(4, 0.2)
    assert limit.try_acquire(3)
    order = []

    async def want(name, weight):
        await limit.acquire(weight)
        order.append(name)
    await asyncio.gather(want("heavy", 4), want("light", 1))     # light would fit now, heavy first
    assert order == ["heavy", "light"]


async def test_a_client_with_a_budget_spaces_its_requests():
    async with Recorder(lambda n: OK) as srv:
        arrivals = []
        orig = srv.script
        srv.script = lambda n: (arrivals.append(time.monotonic()), orig(n))[1]
        async with await rest.connect(srv.url, rate_limit=rest.RateLimit(3, 0.4)) as client:
            t0 = time.monotonic()
            got = await asyncio.gather(*(client.get(f"/t{i}") for i in range(9)))
            elapsed = time.monotonic() - t0
        assert all(r.status == 200 for r in got)
        assert elapsed >= 0.8                          # 9 requests at 3 per 0.4 s: two full windows wait
        for i in range(3, 9):                          # the server saw at most 3 in any 0.4 s (jitter allowed)
            assert arrivals[i] - arrivals[i - 3] >= 0.35


async def test_a_429_with_retry_after_pauses_every_request_of_the_budget():
    replies = [status_reply(429, "Too Many Requests", "Retry-After: 1"), OK, OK]
    async with Recorder(lambda n: replies[n]) as srv:
        limit = rest.RateLimit(100, 1.0)
        pool = await rest.ClientPool.connect(srv.url, connections=2, rate_limit=limit)
        try:
            async with pool.acquire() as c:
                first = await c.get("/a")
            t0 = time.monotonic()
            assert first.status == 429
            async with pool.acquire() as c:            # another connection, the same budget
                assert (await c.get("/b")).status == 200
            assert time.monotonic() - t0 >= 0.9
        finally:
            await pool.close()


async def test_weights_and_a_shared_pool_budget():
    async with Recorder(lambda n: OK) as srv:
        limit = rest.RateLimit(10, 0.5)
        pool = await rest.ClientPool.connect(srv.url, connections=3, rate_limit=limit)
        try:
            async def heavy(i):
                async with pool.acquire() as c:
                    return await c.get(f"/w{i}", weight=5)
            t0 = time.monotonic()
            await asyncio.gather(*(heavy(i) for i in range(6)))      # 30 units at 10 per 0.5 s
            assert time.monotonic() - t0 >= 0.9
        finally:
            await pool.close()


def test_the_blocking_client_waits_for_its_budget():
    async def main():
        async with Recorder(lambda n: OK) as srv:
            def run():
                with rest.sync.connect(srv.url, rate_limit=rest.RateLimit(2, 0.3)) as client:
                    t0 = time.monotonic()
                    for i in range(5):
                        assert client.get(f"/s{i}").status == 200
                    return time.monotonic() - t0
            assert await asyncio.to_thread(run) >= 0.55
    asyncio.run(main())


# ---- resp.timings ---------------------------------------------------------------------------

def ordered(*stamps):
    return all(a <= b for a, b in zip(stamps, stamps[1:]))


async def test_timings_of_a_request_that_opened_its_connection_and_of_one_that_did_not(localhost_pki):
    import ssl
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(localhost_pki["server"])

    async def handle(reader, writer):
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(0.05)                      # the server "thinks" for 50 ms
                writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        client = rest.Client("https", "127.0.0.1", port, tls=TlsConfig(ca_file=localhost_pki["ca"]),
                             connect_timeout=5, read_timeout=5, total_timeout=None, max_body_size=1 << 20,
                             headers=None)
        before = time.monotonic_ns()
        first = await client.get("/opens-the-connection")
        second = await client.get("/reuses-it")
        after = time.monotonic_ns()
        t = first.timings
        assert ordered(before, t.connect_start, t.connected, t.tls_done, t.written, t.first_byte, t.complete, after)
        assert t.tls_ns > 0 and t.wait_ns >= 40_000_000 and t.total_ns == t.complete - t.connect_start
        t = second.timings
        assert t.connect_start is None and t.connected is None and t.tls_done is None and t.connect_ns is None
        assert ordered(first.timings.complete, t.written, t.first_byte, t.complete, after)
        assert t.wait_ns >= 40_000_000
        await client.close()
    finally:
        server.close()


async def test_timings_from_the_callback_path_and_the_blocking_client():
    async with Recorder(lambda n: OK) as srv:
        async with await rest.connect(srv.url) as client:
            fut = asyncio.get_running_loop().create_future()
            client.send_callback(rest.RequestWriter("127.0.0.1").get("/x").finish(), ResponseReader(),
                                 lambda r, e: fut.set_result(r))
            t = (await fut).timings
            assert ordered(t.written, t.first_byte, t.complete) and t.connect_start is None

        def blocking():
            with rest.sync.connect(srv.url) as c:
                return c.get("/y").timings
        t = await asyncio.to_thread(blocking)
        assert ordered(t.written, t.first_byte, t.complete)
    reader = ResponseReader()
    reader.feed(OK)
    assert reader.next().timings is None                # nobody stamped it


# ---- form bodies ----------------------------------------------------------------------------

def test_body_form_is_encoded_like_the_query_and_signed_as_sent():
    seen = []

    def signer(method, path, query, body):
        seen.append(bytes(body))
        return [("X-SIG", "s")]
    w = rest.RequestWriter("api.example", signer=signer)
    req = w.post("/api/v3/order").body_form([("symbol", "BTCUSDT"), ("note", "a b&c=d"), ("qty", 0.5)]).finish()
    wire = req.bytes()
    assert wire.endswith(b"\r\n\r\nsymbol=BTCUSDT&note=a%20b%26c%3Dd&qty=0.5")
    assert b"\r\nContent-Type: application/x-www-form-urlencoded\r\n" in wire
    assert seen == [b"symbol=BTCUSDT&note=a%20b%26c%3Dd&qty=0.5"]
    q = w.get("/q").query("note", "a b&c=d").finish().bytes()
    assert b"?note=a%20b%26c%3Dd " in q                              # the same encoding


async def test_form_through_httpbin(httpbin):
    async with await rest.connect(httpbin.url) as client:
        r = await client.post("/post", form={"symbol": "ETHUSDT", "side": "SELL", "memo": "x y"})
        assert r.json()["form"] == {"symbol": "ETHUSDT", "side": "SELL", "memo": "x y"}
        with pytest.raises(ValueError, match="one of json=, data= and form="):
            await client.post("/post", form={"a": 1}, json={"b": 2})
