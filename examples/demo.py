"""nexus-net demonstration: a WebSocket server and client over loopback.

The server runs in its own process. Phase 1: it pushes JSON market quotes as
fast as it can and the client consumes them with ``async for`` and
``msg.json()``. Phase 2: echo round trips of a 40-byte binary message, timed
one by one. Everything stays on 127.0.0.1.

    python examples/demo.py [--quotes 1000000] [--round-trips 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time

import nexus_net
from nexus_net import ws


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


async def serve(quotes: int) -> None:
    payloads = quote_stream(quotes)

    async def handler(conn: ws.Connection) -> None:
        if conn.request_path == "/quotes":
            send = conn.send_text
            for p in payloads:
                await send(p)
            await conn.close(1000, "end of stream")
        else:                                  # /echo
            async for msg in conn:
                await conn.send_binary(msg.data)

    server = await ws.serve(handler, "127.0.0.1", 0, ping_interval=None)
    print(f"PORT {server.port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)   # until parent exits
    server.close()
    await server.wait_closed()


# ---- client (this process) ------------------------------------------------------

def progress(label: str, done: int, total: int, t0: float) -> None:
    rate = done / max(time.perf_counter() - t0, 1e-9)
    print(f"\r  {label}: {done:>9,}/{total:,}  ({rate:,.0f}/s)", end="", flush=True)


async def receive_quotes(port: int, total: int) -> tuple[int, float]:
    async with ws.connect(f"ws://127.0.0.1:{port}/quotes", ping_interval=None) as conn:
        received = 0
        expect = 0
        t0 = time.perf_counter()
        next_report = t0 + 0.25
        async for msg in conn:
            quote = msg.json()
            if quote["seq"] != expect:
                raise SystemExit(f"quote {expect} missing: got {quote['seq']}")
            expect += 1
            received += 1
            if received % 4096 == 0 and time.perf_counter() >= next_report:
                progress("quotes", received, total, t0)
                next_report += 0.25
        elapsed = time.perf_counter() - t0
        progress("quotes", received, total, t0)
        print(f"   closed by server: {conn.close_code} {conn.close_reason!r}")
        return received, elapsed


async def echo_round_trips(port: int, count: int) -> list[int]:
    payload = os.urandom(40)
    times: list[int] = []
    async with ws.connect(f"ws://127.0.0.1:{port}/echo", ping_interval=None) as conn:
        for _ in range(1000):                  # warm-up
            await conn.send_binary(payload)
            await conn.recv()
        t_start = time.perf_counter()
        clock = time.perf_counter_ns
        for i in range(count):
            t0 = clock()
            await conn.send_binary(payload)
            msg = await conn.recv()
            times.append(clock() - t0)
            if msg is None or len(msg) != 40:
                raise SystemExit("echo failed")
            if i % 2000 == 0:
                progress("round trips", i, count, t_start)
        progress("round trips", count, count, t_start)
        print()
    return times


def pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


async def client(port: int, quotes: int, round_trips: int) -> None:
    received, elapsed = await receive_quotes(port, quotes)
    times = sorted(await echo_round_trips(port, round_trips))
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(f"\nresults (event loop: {loop_name}, server in a separate process)")
    print(f"  server -> client JSON quotes : {received:,} in {elapsed:.2f} s = "
          f"{received / elapsed:,.0f} msg/s, each parsed with msg.json(), none missing")
    print(f"  40-byte echo round trip      : p50 {pct(times, 0.5):.1f} us   p99 {pct(times, 0.99):.1f} us"
          f"   p99.9 {pct(times, 0.999):.1f} us   ({len(times):,} round trips)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quotes", type=int, default=1_000_000)
    ap.add_argument("--round-trips", type=int, default=50_000)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        nexus_net.run(serve(args.quotes))
        return
    print(f"nexus-net {nexus_net.__version__}: WebSocket server and client over 127.0.0.1")
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--quotes", str(args.quotes)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit(f"server failed to start: {line!r}")
        port = int(line.split()[1])
        print(f"  server process {server.pid} listening on 127.0.0.1:{port}")
        nexus_net.run(client(port, args.quotes, args.round_trips))
    finally:
        server.stdin.close()
        server.wait(10)


if __name__ == "__main__":
    main()
