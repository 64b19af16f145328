"""nexus-net demonstration: WebSocket and REST over loopback, and the peers beside it.

The servers (a nexus-net WebSocket server and a REST "exchange" built from
nexus-net's HTTP codecs) run in their own process. The client, in this one:

1. quotes: the server pushes JSON market quotes as fast as it can; the
   client consumes them with ``async for`` and ``msg.json()``;
2. echo: round trips of a small binary message, timed one by one;
3. orders: JSON orders POSTed over a keep-alive ``rest.ClientPool``, each
   round trip timed.

With the peers installed (``pip install -e '.[demo]'``: websockets, aiohttp,
picows), the same workloads run with their clients against the same
servers, and a table compares them. Everything stays on 127.0.0.1.

    python examples/demo.py [--quotes N] [--round-trips N] [--orders N]
                            [--size BYTES] [--tls] [--no-peers]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import ssl
import subprocess
import sys
import time
from typing import Any, Callable

import orjson

import nexus_net
from nexus_net import rest, ws
from nexus_net.http import InvalidRequest, RequestReader, write_response
from nexus_net.tls import TlsConfig


# ---- server process -----------------------------------------------------------

def quote_stream(n: int) -> list[str]:
    rng = random.Random(11)
    price = 67000.0
    out = []
    for i in range(n):
        price += rng.uniform(-3, 3)
        out.append('{"s":"BTC-USD","b":"%.2f","a":"%.2f","q":"%.4f","seq":%d}'
                   % (price, price + 0.5, rng.uniform(0, 2), i))
    return out


class Exchange(asyncio.Protocol):
    """POST /order -> 201 {"id": n, "status": "accepted"}, built into one buffer."""

    orders = 0

    def __init__(self) -> None:
        self.reader = RequestReader(max_body_size=64 * 1024)
        self.out = bytearray(16 * 1024)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (req := self.reader.next()) is not None:
                order = req.json()
                Exchange.orders += 1
                body = orjson.dumps({"id": Exchange.orders, "status": "accepted", "side": order["side"]})
                n = write_response(self.out, 201, [("Content-Type", "application/json")], body)
                self.transport.write(self.out[:n])
        except (InvalidRequest, ValueError) as exc:
            n = write_response(self.out, 400, [("Connection", "close")], str(exc).encode())
            self.transport.write(self.out[:n])
            self.transport.close()


async def serve(quotes: int, cert: str | None) -> None:
    payloads = quote_stream(quotes)

    async def handler(conn: ws.Connection) -> None:
        if conn.request_path.startswith("/quotes"):
            count = int(conn.request_path.partition("?n=")[2] or quotes)
            send = conn.send_text
            for p in payloads[:count]:
                await send(p)
            await conn.close(1000, "end of stream")
        else:                                  # /echo
            async for msg in conn:
                await conn.send_binary(msg.data)

    tls = TlsConfig.server(cert, cert) if cert else None
    server = await ws.serve(handler, "127.0.0.1", 0, ping_interval=None, tls=tls)
    context = None
    if cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert)
    api = await asyncio.get_running_loop().create_server(Exchange, "127.0.0.1", 0, ssl=context)
    print(f"PORT {server.port} {api.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)   # until parent exits
    api.close()
    server.close()
    await server.wait_closed()


# ---- measuring ----------------------------------------------------------------

def progress(label: str, done: int, total: int, t0: float) -> None:
    rate = done / max(time.perf_counter() - t0, 1e-9)
    print(f"\r  {label:<28}{done:>10,}/{total:,}  ({rate:,.0f}/s)   ", end="", flush=True)


def pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


class Target:
    def __init__(self, ws_port: int, rest_port: int, ca: str | None) -> None:
        scheme = "wss" if ca else "ws"
        self.ws = f"{scheme}://{'localhost' if ca else '127.0.0.1'}:{ws_port}"
        self.rest = f"{'https' if ca else 'http'}://{'localhost' if ca else '127.0.0.1'}:{rest_port}"
        self.tls = TlsConfig(ca_file=ca) if ca else None
        self.ssl = ssl.create_default_context(cafile=ca) if ca else None


async def timed(label: str, count: int, one: Callable[[], Any]) -> list[int]:
    """Run ``one()`` ``count`` times (after a warm-up), timing each."""
    for _ in range(min(1000, count)):
        await one()
    times: list[int] = []
    clock = time.perf_counter_ns
    t_start = time.perf_counter()
    for i in range(count):
        t0 = clock()
        await one()
        times.append(clock() - t0)
        if i % 2000 == 0:
            progress(label, i, count, t_start)
    progress(label, count, count, t_start)
    print()
    return sorted(times)


# ---- nexus-net -----------------------------------------------------------------

async def ours_quotes(t: Target, total: int) -> float:
    async with ws.connect(f"{t.ws}/quotes?n={total}", ping_interval=None, tls=t.tls) as conn:
        expect = 0
        t0 = time.perf_counter()
        next_report = t0 + 0.25
        async for msg in conn:
            if msg.json()["seq"] != expect:
                raise SystemExit(f"quote {expect} missing")
            expect += 1
            if expect % 4096 == 0 and time.perf_counter() >= next_report:
                progress("nexus-net quotes", expect, total, t0)
                next_report += 0.25
        elapsed = time.perf_counter() - t0
        progress("nexus-net quotes", expect, total, t0)
        print(f" closed by server: {conn.close_code} {conn.close_reason!r}")
        if expect != total:
            raise SystemExit(f"{total - expect} quotes missing")
        return total / elapsed


async def ours_echo(t: Target, count: int, size: int) -> list[int]:
    payload = os.urandom(size)
    async with ws.connect(f"{t.ws}/echo", ping_interval=None, tls=t.tls) as conn:
        async def one() -> None:
            await conn.send_binary(payload)
            msg = await conn.recv()
            if msg is None or len(msg) != size:
                raise SystemExit("echo failed")
        return await timed("nexus-net echo", count, one)


async def ours_orders(t: Target, count: int) -> list[int]:
    pool = await rest.ClientPool.connect(t.rest, connections=2, tls=t.tls)
    order = {"symbol": "BTC-USD", "side": "buy", "qty": "0.01", "px": "67012.5"}

    async def one() -> None:
        async with pool.acquire() as conn:
            resp = await conn.post("/order", json=order)
        if resp.status != 201:
            raise SystemExit(f"order refused: {resp.status}")
    try:
        return await timed("nexus-net orders (pool)", count, one)
    finally:
        await pool.close()


# ---- the peers -------------------------------------------------------------------

async def websockets_quotes(t: Target, total: int) -> float:
    from websockets.asyncio.client import connect
    async with connect(f"{t.ws}/quotes?n={total}", max_size=None, ssl=t.ssl, compression=None) as conn:
        t0 = time.perf_counter()
        n = 0
        async for message in conn:
            orjson.loads(message)
            n += 1
        return n / (time.perf_counter() - t0)


async def websockets_echo(t: Target, count: int, size: int) -> list[int]:
    from websockets.asyncio.client import connect
    payload = os.urandom(size)
    async with connect(f"{t.ws}/echo", ssl=t.ssl, compression=None) as conn:
        async def one() -> None:
            await conn.send(payload)
            await conn.recv()
        return await timed("websockets echo", count, one)


async def aiohttp_quotes(t: Target, total: int) -> float:
    import aiohttp
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{t.ws}/quotes?n={total}", ssl=t.ssl or False, max_msg_size=0) as conn:
            t0 = time.perf_counter()
            n = 0
            async for message in conn:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                orjson.loads(message.data)
                n += 1
            return n / (time.perf_counter() - t0)


async def aiohttp_echo(t: Target, count: int, size: int) -> list[int]:
    import aiohttp
    payload = os.urandom(size)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{t.ws}/echo", ssl=t.ssl or False) as conn:
            async def one() -> None:
                await conn.send_bytes(payload)
                await conn.receive()
            return await timed("aiohttp echo", count, one)


async def aiohttp_orders(t: Target, count: int) -> list[int]:
    import aiohttp
    order = {"symbol": "BTC-USD", "side": "buy", "qty": "0.01", "px": "67012.5"}
    connector = aiohttp.TCPConnector(limit=2, ssl=t.ssl or False)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one() -> None:
            async with session.post(f"{t.rest}/order", json=order) as resp:
                await resp.read()
                if resp.status != 201:
                    raise SystemExit(f"order refused: {resp.status}")
        return await timed("aiohttp orders (session)", count, one)


async def picows_quotes(t: Target, total: int) -> float:
    import picows
    done = asyncio.get_running_loop().create_future()

    class Quotes(picows.WSListener):
        n = 0

        def on_ws_connected(self, transport: Any) -> None:
            self.t0 = time.perf_counter()

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == picows.WSMsgType.TEXT:
                orjson.loads(frame.get_payload_as_memoryview())
                self.n += 1
            elif frame.msg_type == picows.WSMsgType.CLOSE and not done.done():
                done.set_result(self.n / (time.perf_counter() - self.t0))

    transport, _ = await picows.ws_connect(Quotes, f"{t.ws}/quotes?n={total}", ssl_context=t.ssl)
    rate = await done
    transport.disconnect()
    return rate


async def picows_echo(t: Target, count: int, size: int) -> list[int]:
    import picows
    loop = asyncio.get_running_loop()
    payload = os.urandom(size)
    state: dict[str, Any] = {}

    class Echo(picows.WSListener):
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            state["reply"].set_result(None)

    transport, _ = await picows.ws_connect(Echo, f"{t.ws}/echo", ssl_context=t.ssl)

    async def one() -> None:
        state["reply"] = loop.create_future()
        transport.send(picows.WSMsgType.BINARY, payload)
        await state["reply"]
    try:
        return await timed("picows echo (awaited)", count, one)
    finally:
        transport.send_close()
        transport.disconnect()


PEERS = {
    "websockets": (websockets_quotes, websockets_echo, None),
    "aiohttp": (aiohttp_quotes, aiohttp_echo, aiohttp_orders),
    "picows": (picows_quotes, picows_echo, None),
}


async def client(ports: tuple[int, int], ca: str | None, args: argparse.Namespace) -> None:
    t = Target(*ports, ca)
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    rows: dict[str, dict[str, str]] = {}
    print("nexus-net:")
    rate = await ours_quotes(t, args.quotes)
    echo = await ours_echo(t, args.round_trips, args.size)
    orders = await ours_orders(t, args.orders)
    rows["nexus-net"] = {"quotes": f"{rate:,.0f}", "echo": f"{pct(echo, 0.5):.1f} / {pct(echo, 0.99):.1f}",
                         "orders": f"{pct(orders, 0.5):.1f} / {pct(orders, 0.99):.1f}"}
    print(f"\nresults (event loop: {loop_name}, servers in a separate process, {'TLS' if ca else 'plain TCP'})")
    print(f"  server -> client JSON quotes : {args.quotes:,} at {rate:,.0f} msg/s, "
          f"each parsed with msg.json(), none missing")
    print(f"  {args.size}-byte echo round trip      : p50 {pct(echo, 0.5):.1f} us   p99 {pct(echo, 0.99):.1f} us"
          f"   p99.9 {pct(echo, 0.999):.1f} us   ({len(echo):,} round trips)")
    print(f"  order over a keep-alive pool : p50 {pct(orders, 0.5):.1f} us   p99 {pct(orders, 0.99):.1f} us"
          f"   ({len(orders):,} orders, every one answered 201)")
    if args.no_peers:
        return
    installed = [name for name in PEERS if importlib.util.find_spec(name) is not None]
    missing = [name for name in PEERS if name not in installed]
    if not installed:
        print("\n(peers not installed: pip install -e '.[demo]' to compare with websockets, aiohttp, picows)")
        return
    # the peers get fewer quotes and round trips: most are several times slower
    quotes, trips, n_orders = max(1, args.quotes // 5), max(1, args.round_trips // 5), max(1, args.orders // 5)
    print(f"\npeers, the same servers ({quotes:,} quotes, {trips:,} round trips, {n_orders:,} orders each):")
    for name in installed:
        q, e, o = PEERS[name]
        rate = await q(t, quotes)
        print(f"  {name + ' quotes':<28}{quotes:>10,}  ({rate:,.0f}/s)")
        times = await e(t, trips, args.size)
        row = {"quotes": f"{rate:,.0f}", "echo": f"{pct(times, 0.5):.1f} / {pct(times, 0.99):.1f}", "orders": "-"}
        if o is not None:
            times = await o(t, n_orders)
            row["orders"] = f"{pct(times, 0.5):.1f} / {pct(times, 0.99):.1f}"
        rows[name] = row
    print(f"\n| library | quotes/s (JSON parsed) | {args.size} B echo p50 / p99 (us) | order p50 / p99 (us) |")
    print("|---|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['quotes']} | {row['echo']} | {row['orders']} |")
    if missing:
        print(f"(not installed: {', '.join(missing)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quotes", type=int, default=1_000_000, help="quotes pushed to our client (default 1,000,000)")
    ap.add_argument("--round-trips", type=int, default=50_000, help="timed echo round trips (default 50,000)")
    ap.add_argument("--orders", type=int, default=20_000, help="timed REST orders (default 20,000)")
    ap.add_argument("--size", type=int, default=40, help="echo payload in bytes (default 40)")
    ap.add_argument("--tls", action="store_true", help="wss:// and https:// (a throw-away trustme CA)")
    ap.add_argument("--no-peers", action="store_true", help="only nexus-net, even if the peers are installed")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cert", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        nexus_net.run(serve(args.quotes, args.cert))
        return
    print(f"nexus-net {nexus_net.__version__}: WebSocket and REST, servers and clients over 127.0.0.1")
    pki = None
    cmd = [sys.executable, __file__, "--serve", "--quotes", str(args.quotes)]
    if args.tls:
        from nexus_net.testing import TestTls
        pki = TestTls()
        cmd += ["--cert", pki.cert_file]
    server = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit(f"server failed to start: {line!r}")
        ports = (int(line.split()[1]), int(line.split()[2]))
        print(f"  server process {server.pid}: WebSocket on 127.0.0.1:{ports[0]}, REST on 127.0.0.1:{ports[1]}")
        nexus_net.run(client(ports, pki.ca_file if pki else None, args))
    finally:
        server.stdin.close()
        server.wait(10)
        if pki is not None:
            pki.cleanup()


if __name__ == "__main__":
    main()
