"""REST order-entry benchmark: POST with 4 headers and a ~100 B JSON body, 200 OK
with a ~60 B JSON body, keep-alive, one request in flight.

    python bench/perf_rest.py [--requests 20000] [--reps 5] [--markdown]

(a) in memory: build the request, "write" it (hand it to a no-op sink), parse
    the canned response: ns per request, side by side with httptools (request
    built with one b"".join, response parsed by HttpResponseParser) and h11.
(b) loopback: round trips against a uvloop + httptools server in another
    process (client and server on one core): our async client, our blocking
    client, aiohttp, httpx, and a raw-socket floor (hand-made request bytes,
    the response recognised by its length). ``--baseline LIBDIR`` adds our
    async client from another build (e.g. the commit before a change, built
    into LIBDIR) beside this tree's, both in subprocesses of their own.
(c) a 64 KB gzip-compressed JSON response (an exchange-info-like document,
    ~7x compressible): GET + decode + ``json()``, ns per response, ours vs
    aiohttp (its default ``json()``, and with ``loads=orjson.loads``) vs httpx;
    in memory too, against zlib.decompressobj + orjson.loads as the floor.
    ``--only gzip`` runs this part alone.
(d) overheads of issue 14's per-request features: our async client with a
    ``RateLimit`` that never binds vs without one (same run, alternating),
    and in memory the limiter's ``try_acquire`` / uncontended ``acquire``
    and the Python-level cost of reading ``resp.timings``. The timing stamps
    themselves (three C clock reads per request, no allocation) are inside
    every round trip of (b): compare ``--baseline`` with the commit before.
    ``--only overhead`` runs this part alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import uvloop  # noqa: E402

from _machine import describe  # noqa: E402
from _stats import pct  # noqa: E402

BODY = b'{"symbol":"BTC-USD","side":"buy","type":"limit","qty":"0.0125","px":"67012.50","tif":"GTC"}'
HEADERS = [("Content-Type", "application/json"), ("X-API-KEY", "k" * 32),
           ("X-TS", "1732492800000"), ("X-SIGNATURE", "s" * 64)]
REPLY_BODY = b'{"id":"8f2c1e7a","status":"accepted","filled":"0","ts":17324928}'
REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
         + str(len(REPLY_BODY)).encode() + b"\r\n\r\n" + REPLY_BODY)


def exchange_info(target: int = 64_000) -> bytes:
    """A deterministic exchange-info-like JSON document of about ``target`` bytes."""
    import random
    import orjson
    rnd = random.Random(14)
    symbols = []
    while True:
        base = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rnd.randint(3, 6)))
        tick = 10 ** -rnd.randint(1, 8)
        symbols.append({"symbol": base + "USDT", "status": rnd.choice(["TRADING", "BREAK"]),
                        "baseAsset": base, "quoteAsset": "USDT", "baseAssetPrecision": rnd.randint(2, 8),
                        "filters": [{"filterType": "PRICE_FILTER", "minPrice": f"{tick:.8f}",
                                     "maxPrice": f"{rnd.uniform(1e3, 1e6):.8f}", "tickSize": f"{tick:.8f}"},
                                    {"filterType": "LOT_SIZE", "minQty": f"{rnd.uniform(0, 1):.8f}",
                                     "maxQty": f"{rnd.uniform(1e4, 1e7):.8f}", "stepSize": f"{tick * 10:.8f}"}],
                        "orderTypes": ["LIMIT", "MARKET", "STOP_LOSS_LIMIT"][:rnd.randint(1, 3)]})
        doc = orjson.dumps({"timezone": "UTC", "serverTime": 1764633600000, "symbols": symbols})
        if len(doc) >= target:
            return doc


INFO = exchange_info()
INFO_GZ = __import__("gzip").compress(INFO, compresslevel=6)
GZ_REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: " + str(len(INFO_GZ)).encode() + b"\r\n\r\n" + INFO_GZ)


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


# ---- (a) in memory ---------------------------------------------------------------------

def mem_nexus(n: int, bulk: bool = True) -> Callable[[], None]:
    from nexus_net.http import ResponseReader
    from nexus_net.rest import RequestWriter
    writer = RequestWriter("api.exchange.example", base_path="/api/v3")
    reader = ResponseReader()
    sink = []
    h = HEADERS

    def run() -> None:
        for _ in range(n):
            b = writer.post("/order")
            if bulk:
                b.headers(h)
            else:
                b.header(h[0][0], h[0][1]).header(h[1][0], h[1][1]).header(h[2][0], h[2][1]).header(h[3][0], h[3][1])
            req = b.body(BODY).finish()
            sink.append(req.data)
            sink.clear()
            reader.feed(REPLY)
            resp = reader.next()
            resp.status
            resp.body
    return run


def mem_httptools(n: int) -> Callable[[], None]:
    import httptools
    prefix = b"POST /api/v3/order HTTP/1.1\r\nHost: api.exchange.example\r\n"
    sink = []

    class P:
        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name, value))

        def on_body(self, body: bytes) -> None:
            self.body = body

    def run() -> None:
        for _ in range(n):
            hdrs = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in HEADERS)
            req = b"".join([prefix, hdrs, b"Content-Length: ", str(len(BODY)).encode(), b"\r\n\r\n", BODY])
            sink.append(req)
            sink.clear()
            p = P()
            p.headers = []
            parser = httptools.HttpResponseParser(p)
            parser.feed_data(REPLY)
            parser.get_status_code()
    return run


def mem_h11(n: int) -> Callable[[], None]:
    import h11

    def run() -> None:
        for _ in range(n):
            c = h11.Connection(h11.CLIENT)
            data = c.send(h11.Request(method="POST", target="/api/v3/order",
                                      headers=[("Host", "api.exchange.example")] + HEADERS
                                      + [("Content-Length", str(len(BODY)))]))
            data += c.send(h11.Data(data=BODY)) + c.send(h11.EndOfMessage())
            c.receive_data(REPLY)
            while True:
                ev = c.next_event()
                if isinstance(ev, h11.EndOfMessage):
                    break
    return run


# ---- (b) loopback ------------------------------------------------------------------------

class Server(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        import httptools
        self.t = transport
        self.p = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        self.p.feed_data(data)

    def on_message_complete(self) -> None:
        self.t.write(self.reply)

    reply = REPLY


class GzipServer(Server):
    reply = GZ_REPLY


async def serve(protocol: type = Server) -> None:
    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def rtt_nexus(port: int, n: int, warm: int) -> list[int]:
    from nexus_net import rest
    from nexus_net.http import ResponseReader
    writer = rest.RequestWriter("127.0.0.1", port=port, secure=False, base_path="/api/v3")
    reader = ResponseReader()
    conn = await rest.connect(f"http://127.0.0.1:{port}")
    out, clock = [], time.perf_counter_ns
    for i in range(warm + n):
        t0 = clock()
        req = writer.post("/order").headers(HEADERS).body(BODY).finish()
        resp = await conn.send(req, reader)
        resp.body
        if i >= warm:
            out.append(clock() - t0)
    await conn.close()
    return out


async def rtt_nexus_limited(port: int, n: int, warm: int) -> list[int]:
    """rtt_nexus with a rate limit that never binds (the limiter's own cost)."""
    from nexus_net import rest
    from nexus_net.http import ResponseReader
    writer = rest.RequestWriter("127.0.0.1", port=port, secure=False, base_path="/api/v3")
    reader = ResponseReader()
    conn = await rest.connect(f"http://127.0.0.1:{port}", rate_limit=rest.RateLimit(10 ** 9, 1.0))
    out, clock = [], time.perf_counter_ns
    for i in range(warm + n):
        t0 = clock()
        req = writer.post("/order").headers(HEADERS).body(BODY).finish()
        resp = await conn.send(req, reader)
        resp.body
        if i >= warm:
            out.append(clock() - t0)
    await conn.close()
    return out


async def rtt_nexus_callback(port: int, n: int, warm: int) -> list[int]:
    """send_callback: each response handed over inside the protocol's receive
    callback, which builds and sends the next request (no task switch)."""
    from nexus_net import rest
    from nexus_net.http import ResponseReader
    writer = rest.RequestWriter("127.0.0.1", port=port, secure=False, base_path="/api/v3")
    reader = ResponseReader()
    conn = await rest.connect(f"http://127.0.0.1:{port}")
    done = asyncio.get_running_loop().create_future()
    out: list[int] = []
    clock = time.perf_counter_ns
    state = [0, 0]                      # requests done, start time

    def send() -> None:
        state[1] = clock()
        conn.send_callback(writer.post("/order").headers(HEADERS).body(BODY).finish(), reader, on_response)

    def on_response(resp: Any, exc: BaseException | None) -> None:
        if exc is not None:
            done.set_exception(exc)
            return
        resp.body
        if state[0] >= warm:
            out.append(clock() - state[1])
        state[0] += 1
        if state[0] == warm + n:
            done.set_result(None)
        else:
            send()

    send()
    await done
    await conn.close()
    return out


def rtt_nexus_sync(port: int, n: int, warm: int) -> list[int]:
    from nexus_net import rest
    from nexus_net.http import ResponseReader
    writer = rest.RequestWriter("127.0.0.1", port=port, secure=False, base_path="/api/v3")
    reader = ResponseReader()
    conn = rest.sync.connect(f"http://127.0.0.1:{port}")
    out, clock = [], time.perf_counter_ns
    for i in range(warm + n):
        t0 = clock()
        req = writer.post("/order").headers(HEADERS).body(BODY).finish()
        resp = conn.send(req, reader)
        resp.body
        if i >= warm:
            out.append(clock() - t0)
    conn.close()
    return out


async def rtt_aiohttp(port: int, n: int, warm: int) -> list[int]:
    import aiohttp
    out, clock = [], time.perf_counter_ns
    url = f"http://127.0.0.1:{port}/api/v3/order"
    async with aiohttp.ClientSession() as s:
        for i in range(warm + n):
            t0 = clock()
            async with s.post(url, data=BODY, headers=dict(HEADERS)) as r:
                await r.read()
            if i >= warm:
                out.append(clock() - t0)
    return out


async def rtt_httpx(port: int, n: int, warm: int) -> list[int]:
    import httpx
    out, clock = [], time.perf_counter_ns
    url = f"http://127.0.0.1:{port}/api/v3/order"
    async with httpx.AsyncClient() as c:
        for i in range(warm + n):
            t0 = clock()
            r = await c.post(url, content=BODY, headers=dict(HEADERS))
            r.content
            if i >= warm:
                out.append(clock() - t0)
    return out


async def rtt_raw(port: int, n: int, warm: int) -> list[int]:
    loop = asyncio.get_running_loop()
    request = (b"POST /api/v3/order HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               + b"".join(f"{k}: {v}\r\n".encode() for k, v in HEADERS)
               + b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
    done = loop.create_future()
    out: list[int] = []
    clock = time.perf_counter_ns

    class Raw(asyncio.Protocol):
        def connection_made(self, t: Any) -> None:
            self.t, self.got, self.i = t, 0, 0
            self.t0 = clock()
            t.write(request)

        def data_received(self, data: bytes) -> None:
            self.got += len(data)
            if self.got < len(REPLY):
                return
            self.got -= len(REPLY)
            if self.i >= warm:
                out.append(clock() - self.t0)
            self.i += 1
            if self.i == warm + n:
                done.set_result(None)
                return
            self.t0 = clock()
            self.t.write(request)

    t, _ = await loop.create_connection(Raw, "127.0.0.1", port)
    await done
    t.close()
    return out


async def rtt_raw_await(port: int, n: int, warm: int) -> list[int]:
    """The floor for any client whose caller awaits each response: the raw
    protocol above plus one asyncio Future per reply, awaited by the task."""
    loop = asyncio.get_running_loop()
    request = (b"POST /api/v3/order HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               + b"".join(f"{k}: {v}\r\n".encode() for k, v in HEADERS)
               + b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

    class Raw(asyncio.Protocol):
        fut: asyncio.Future[None] | None = None
        got = 0

        def connection_made(self, t: Any) -> None:
            self.t = t

        def data_received(self, data: bytes) -> None:
            self.got += len(data)
            if self.got >= len(REPLY) and self.fut is not None:
                self.got -= len(REPLY)
                self.fut.set_result(None)

    t, p = await loop.create_connection(Raw, "127.0.0.1", port)
    out: list[int] = []
    clock = time.perf_counter_ns
    for i in range(warm + n):
        t0 = clock()
        p.fut = loop.create_future()
        t.write(request)
        await p.fut
        if i >= warm:
            out.append(clock() - t0)
    t.close()
    return out


# ---- (c) a 64 KB gzip JSON response ---------------------------------------------------------

async def gz_nexus(port: int, n: int, warm: int) -> list[int]:
    from nexus_net import rest
    conn = await rest.connect(f"http://127.0.0.1:{port}", accept_encoding=("gzip",))
    out, clock = [], time.perf_counter_ns
    for i in range(warm + n):
        t0 = clock()
        (await conn.get("/api/v3/exchangeInfo")).json()
        if i >= warm:
            out.append(clock() - t0)
    await conn.close()
    return out


def _gz_aiohttp(loads: Any) -> Callable[[int, int, int], Any]:
    async def run(port: int, n: int, warm: int) -> list[int]:
        import aiohttp
        out, clock = [], time.perf_counter_ns
        url = f"http://127.0.0.1:{port}/api/v3/exchangeInfo"
        async with aiohttp.ClientSession() as s:
            for i in range(warm + n):
                t0 = clock()
                async with s.get(url) as r:
                    await (r.json() if loads is None else r.json(loads=loads))
                if i >= warm:
                    out.append(clock() - t0)
        return out
    return run


async def gz_httpx(port: int, n: int, warm: int) -> list[int]:
    import httpx
    out, clock = [], time.perf_counter_ns
    url = f"http://127.0.0.1:{port}/api/v3/exchangeInfo"
    async with httpx.AsyncClient() as c:
        for i in range(warm + n):
            t0 = clock()
            (await c.get(url)).json()
            if i >= warm:
                out.append(clock() - t0)
    return out


def mem_gz_nexus(n: int) -> Callable[[], None]:
    from nexus_net.http import ResponseReader
    reader = ResponseReader()

    def run() -> None:
        for _ in range(n):
            reader.feed(GZ_REPLY)
            reader.next().json()
    return run


def mem_gz_floor(n: int) -> Callable[[], None]:
    import zlib
    import orjson

    def run() -> None:
        for _ in range(n):
            orjson.loads(zlib.decompressobj(31).decompress(INFO_GZ))
    return run


def mem_gz_stdlib_json(n: int) -> Callable[[], None]:
    import json
    import zlib

    def run() -> None:
        for _ in range(n):
            json.loads(zlib.decompressobj(31).decompress(INFO_GZ))
    return run


def run_gzip(args: argparse.Namespace) -> None:
    md = args.markdown
    import orjson
    n = 300
    mems = {"nexus-net ResponseReader (inflate in Cython + orjson)": mem_gz_nexus(n),
            "floor: zlib.decompressobj + orjson.loads": mem_gz_floor(n),
            "zlib.decompressobj + json.loads (stdlib)": mem_gz_stdlib_json(n)}
    res: dict[str, list[float]] = {k: [] for k in mems}
    for rep in range(max(args.reps, 7)):
        for name, fn in mems.items():
            t0 = time.perf_counter_ns()
            fn()
            res[name].append((time.perf_counter_ns() - t0) / n)
    floor = statistics.median(res["floor: zlib.decompressobj + orjson.loads"])
    print(f"\n(c) {len(INFO):,} B JSON, gzip level 6 -> {len(INFO_GZ):,} B: decode + parse in memory, "
          "ns per response (median over repetitions)")
    if md:
        print("\n| decoder | median ns | vs floor |\n|---|---:|---:|")
    for name, v in res.items():
        med = statistics.median(v)
        print(f"| {name} | {med:,.0f} | {med / floor:.2f}x |" if md else f"  {name:<58}{med:>10,.0f}   {med / floor:.2f}x")

    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--serve-gzip"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().split()[1])
    clients = [("nexus-net async", gz_nexus), ("aiohttp (json())", _gz_aiohttp(None)),
               ("aiohttp (json(loads=orjson.loads))", _gz_aiohttp(orjson.loads)), ("httpx", gz_httpx)]
    reqs = max(args.requests // 10, 200)
    p50s: dict[str, list[float]] = {k: [] for k, _ in clients}
    try:
        for rep in range(args.reps):
            for name, fn in clients[rep % len(clients):] + clients[:rep % len(clients)]:
                got = uvloop.run(fn(port, reqs, max(reqs // 10, 20)))
                p50s[name].append(pct(got, 0.5))
                print(f"    rep {rep + 1}: {name:<36} p50 {pct(got, 0.5):.1f} us", file=sys.stderr, flush=True)
    finally:
        proc.stdin.close()
        proc.wait(10)
    ref = statistics.median(p50s["aiohttp (json())"])
    print(f"\n    GET + gunzip + json() over loopback (uvloop + httptools server, same core), "
          f"{reqs:,} x {args.reps}, us per response (p50)")
    if md:
        print("\n| client | p50 us | vs aiohttp |\n|---|---:|---:|")
    for name, _ in clients:
        p50 = statistics.median(p50s[name])
        print(f"| {name} | {p50:.1f} | {p50 / ref:.2f}x |" if md else f"  {name:<38} p50 {p50:7.1f}   {p50 / ref:.2f}x")


def run_overhead(args: argparse.Namespace) -> None:
    md = args.markdown
    from nexus_net import rest
    from nexus_net.http import ResponseReader
    n = 200_000
    limit = rest.RateLimit(10 ** 9, 1.0)

    def try_acquire() -> None:
        t = limit.try_acquire
        for _ in range(n):
            t(1)

    async def acquire_loop() -> None:
        a = limit.acquire
        for _ in range(n):
            await a(1)

    reader = ResponseReader()
    reader.feed(REPLY)
    resp = reader.next()
    resp._set_timings(0, 0, 0, 1, 2, 3)

    def timings() -> None:
        for _ in range(n):
            resp.timings

    def empty() -> None:
        for _ in range(n):
            pass
    rows: dict[str, list[float]] = {"RateLimit.try_acquire(1), uncontended": [],
                                    "await RateLimit.acquire(1), uncontended": [],
                                    "resp.timings (building the NamedTuple)": [], "empty loop (subtracted)": []}
    for rep in range(max(args.reps, 7)):
        limit.log.clear()
        limit.used = 0
        for name, fn in (("RateLimit.try_acquire(1), uncontended", try_acquire),
                         ("resp.timings (building the NamedTuple)", timings), ("empty loop (subtracted)", empty)):
            t0 = time.perf_counter_ns()
            fn()
            rows[name].append((time.perf_counter_ns() - t0) / n)
        limit.log.clear()
        limit.used = 0
        t0 = time.perf_counter_ns()
        uvloop.run(acquire_loop())
        rows["await RateLimit.acquire(1), uncontended"].append((time.perf_counter_ns() - t0) / n)
    base = statistics.median(rows["empty loop (subtracted)"])
    print("\n(d) per-request overheads in memory, ns per call (median; the empty loop subtracted)")
    if md:
        print("\n| operation | ns |\n|---|---:|")
    for name, v in rows.items():
        if name.startswith("empty"):
            continue
        print(f"| {name} | {statistics.median(v) - base:,.0f} |" if md else
              f"  {name:<46}{statistics.median(v) - base:>8,.0f}")

    proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().split()[1])
    clients = [("nexus-net async", rtt_nexus), ("nexus-net async + RateLimit (never binding)", rtt_nexus_limited)]
    p50s: dict[str, list[float]] = {k: [] for k, _ in clients}
    try:
        for rep in range(args.reps):
            for name, fn in clients[rep % 2:] + clients[:rep % 2]:
                got = uvloop.run(fn(port, args.requests, args.warmup))
                p50s[name].append(pct(got, 0.5))
                print(f"    rep {rep + 1}: {name:<44} p50 {pct(got, 0.5):.1f} us", file=sys.stderr, flush=True)
    finally:
        proc.stdin.close()
        proc.wait(10)
    ref = statistics.median(p50s["nexus-net async"])
    print(f"\n    loopback round trip with and without a limiter, {args.requests:,} x {args.reps}, us (p50)")
    if md:
        print("\n| client | p50 us | vs without |\n|---|---:|---:|")
    for name, _ in clients:
        p50 = statistics.median(p50s[name])
        print(f"| {name} | {p50:.1f} | {p50 / ref:.3f}x |" if md else f"  {name:<46} p50 {p50:6.1f}   {p50 / ref:.3f}x")


def run_client_subprocess(libdir: str | None, port: int, n: int, warm: int, kind: str = "async") -> list[int]:
    """Our async (rtt_nexus) or blocking (rtt_nexus_sync) client in a fresh
    process, importing nexus_net from ``libdir`` (another build) or from this tree."""
    import json
    env = dict(os.environ)
    if libdir:
        env["PYTHONPATH"] = libdir
    out = subprocess.run([sys.executable, __file__, "--client", str(port), "--client-kind", kind,
                          "--requests", str(n), "--warmup", str(warm)],
                         env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1])


def run_loopback(args: argparse.Namespace) -> None:
    md = args.markdown
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().split()[1])
    clients = [("nexus-net async", rtt_nexus), ("nexus-net async (send_callback)", rtt_nexus_callback),
               ("nexus-net blocking", rtt_nexus_sync),
               ("aiohttp", rtt_aiohttp), ("httpx", rtt_httpx), ("raw socket floor", rtt_raw),
               ("raw + await Future", rtt_raw_await)]
    if args.baseline:
        def sub(libdir: str | None, kind: str) -> Callable[[int, int, int], list[int]]:
            return lambda port, n, warm: run_client_subprocess(libdir, port, n, warm, kind)
        base = os.path.basename(args.baseline.rstrip('/'))
        clients += [("nexus-net async (this tree, subprocess)", sub(None, "async")),
                    (f"nexus-net async (baseline {base}, subprocess)", sub(args.baseline, "async")),
                    ("nexus-net blocking (this tree, subprocess)", sub(None, "sync")),
                    (f"nexus-net blocking (baseline {base}, subprocess)", sub(args.baseline, "sync"))]
        if args.only == "baseline":
            clients = clients[-4:] + [("raw socket floor", rtt_raw)]
    rtts: dict[str, list[int]] = {k: [] for k, _ in clients}
    p50s: dict[str, list[float]] = {k: [] for k, _ in clients}
    try:
        for rep in range(args.reps):
            for name, fn in clients[rep % len(clients):] + clients[:rep % len(clients)]:
                r = fn(port, args.requests, args.warmup)
                got = uvloop.run(r) if asyncio.iscoroutine(r) else r
                rtts[name].extend(got)
                p50s[name].append(pct(got, 0.5))
                print(f"    rep {rep + 1}: {name:<32} p50 {pct(got, 0.5):.1f} us", file=sys.stderr, flush=True)
    finally:
        proc.stdin.close()
        proc.wait(10)
    floor = statistics.median(p50s["raw socket floor"])
    print(f"\n(b) loopback round trip vs a uvloop + httptools server (same core), "
          f"{args.requests:,} x {args.reps} after {args.warmup:,} warm-up, us")
    if md:
        print("\n| client | p50 | p99 | p99.9 | req/s (1/p50) | p50 vs floor |\n|---|---:|---:|---:|---:|---:|")
    for name, _ in clients:
        p50 = statistics.median(p50s[name])
        v = rtts[name]
        print(f"| {name} | {p50:.1f} | {pct(v, 0.99):.1f} | {pct(v, 0.999):.1f} | {1e6 / p50:,.0f} | {p50 / floor:.2f}x |"
              if md else f"  {name:<32} p50 {p50:6.1f}  p99 {pct(v, 0.99):6.1f}  p99.9 {pct(v, 0.999):6.1f}  "
              f"({p50 / floor:.2f}x floor)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=2_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--serve-gzip", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--client", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--client-kind", default="async", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", metavar="LIBDIR",
                    help="also run our async client from the nexus_net built into LIBDIR")
    ap.add_argument("--only", choices=["gzip", "overhead", "baseline"], help="run one part alone")
    args = ap.parse_args()
    if args.serve:
        pin(0)
        uvloop.run(serve(GzipServer if args.serve_gzip else Server))
        return
    if args.client:
        import json
        import nexus_net
        pin(0)
        print(nexus_net.__file__, file=sys.stderr)
        if args.client_kind == "sync":
            print(json.dumps(rtt_nexus_sync(args.client, args.requests, args.warmup)))
        else:
            print(json.dumps(uvloop.run(rtt_nexus(args.client, args.requests, args.warmup))))
        return
    if args.only == "gzip":
        print("machine:", describe(["nexus-net", "aiohttp", "httpx", "uvloop", "orjson"]))
        pin(0)
        run_gzip(args)
        return
    if args.only == "overhead":
        print("machine:", describe(["nexus-net", "uvloop"]))
        pin(0)
        run_overhead(args)
        return
    md = args.markdown
    print("machine:", describe(["nexus-net", "httptools", "h11", "aiohttp", "httpx", "uvloop"]))
    pin(0)
    if args.only == "baseline":
        if not args.baseline:
            ap.error("--only baseline needs --baseline LIBDIR")
        run_loopback(args)
        return
    n = 10_000
    mems = {"nexus-net (RequestWriter, headers() + ResponseReader)": mem_nexus(n),
            "nexus-net (RequestWriter, header() x4 + ResponseReader)": mem_nexus(n, bulk=False),
            "httptools (b''.join + HttpResponseParser)": mem_httptools(n), "h11": mem_h11(n // 10)}
    counts = {"h11": n // 10}
    res: dict[str, list[float]] = {k: [] for k in mems}
    for rep in range(max(args.reps, 10)):
        for name, fn in mems.items():
            t0 = time.perf_counter_ns()
            fn()
            res[name].append((time.perf_counter_ns() - t0) / counts.get(name, n))
    best = statistics.median(res["httptools (b''.join + HttpResponseParser)"])
    print("\n(a) build + write + parse in memory, ns per request (median and p99 over repetitions)")
    if md:
        print("\n| library | median ns | p99 ns | vs httptools |\n|---|---:|---:|---:|")
    for name, v in res.items():
        med, worst = statistics.median(v), sorted(v)[-1]
        print(f"| {name} | {med:,.0f} | {worst:,.0f} | {med / best:.2f}x |" if md else
              f"  {name:<56}{med:>10,.0f}{worst:>10,.0f}   {med / best:.2f}x")

    run_loopback(args)
    run_gzip(args)
    run_overhead(args)


if __name__ == "__main__":
    main()
