"""Round trip through proxies (issue 13): direct against each proxy, one run.

    python bench/perf_proxy.py [--round-trips 5000] [--reps 5] [--markdown]

An echo server (``ws.serve``) in a process of its own; the proxies as
processes of their own (pproxy from PyPI for HTTP CONNECT and SOCKS5,
Debian's tinyproxy and Dante when installed); this process is the client
(``ws.connect``, uvloop), sending 40 B binary messages one at a time and
waiting for each echo. Routes alternate inside every repetition.

Per route: round trip p50 / p99 (us, over all repetitions), and the client's
CPU time per round trip (getrusage of this process). The tunnel adds no code
of ours to the byte path (after the handshake the connection's protocol is
our Connection on the transport, as without a proxy), so our CPU per round
trip should not move; what the round trip gains is the proxy's own relay
(two more hops through another process). Never a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import uvloop  # noqa: E402

from _machine import describe  # noqa: E402
from _stats import pct  # noqa: E402

PAYLOAD = b"x" * 40


def serve_echo() -> None:
    from nexus_net import ws

    async def echo(conn):
        async for msg in conn:
            await conn.send_binary(msg.data)

    async def main():
        server = await ws.serve(echo, "127.0.0.1", 0, ping_interval=None)
        print(server.port, flush=True)
        await asyncio.sleep(3600)
    uvloop.run(main())


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def measure(url: str, proxy: object, n: int) -> tuple[list[int], float]:
    from nexus_net import ws
    async with ws.connect(url, proxy=proxy, ping_interval=None, open_timeout=30) as conn:
        for _ in range(200):                          # warm-up
            await conn.send_binary(PAYLOAD)
            await conn.recv()
        samples = []
        c0 = cpu_s()
        for _ in range(n):
            t0 = time.perf_counter_ns()
            await conn.send_binary(PAYLOAD)
            await conn.recv()
            samples.append(time.perf_counter_ns() - t0)
        return samples, (cpu_s() - c0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--round-trips", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve_echo()
        return
    import proxies as P                                # tests/proxies.py: how the tests start them

    print("machine:", describe(["nexus-net", "uvloop", "pproxy"]))
    with ExitStack() as stack:
        server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
        stack.callback(server.kill)
        port = int(server.stdout.readline())
        url = f"ws://127.0.0.1:{port}/"
        routes: dict[str, object] = {"direct": None}
        pp = stack.enter_context(P.pproxy("http+socks5"))
        routes["pproxy HTTP CONNECT"] = f"http://127.0.0.1:{pp}"
        routes["pproxy SOCKS5"] = f"socks5://127.0.0.1:{pp}"
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        if os.path.exists(P.TINYPROXY):
            routes["tinyproxy HTTP CONNECT"] = f"http://127.0.0.1:{stack.enter_context(P.tinyproxy(folder))}"
        else:
            print("skipped tinyproxy: not installed")
        if os.path.exists(P.DANTED):
            routes["Dante SOCKS5"] = f"socks5://127.0.0.1:{stack.enter_context(P.danted(folder))}"
        else:
            print("skipped Dante: not installed")

        rtt: dict[str, list[int]] = {r: [] for r in routes}
        cpu: dict[str, list[float]] = {r: [] for r in routes}
        names = list(routes)
        for rep in range(args.reps):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                samples, per = uvloop.run(measure(url, routes[name], args.round_trips))
                rtt[name] += samples
                cpu[name].append(per)
                print(f"  rep {rep + 1} {name:<24} p50 {pct(samples, 0.5):7.1f} us  cpu {per:6.1f} us/rt",
                      flush=True)

    direct50 = pct(rtt["direct"], 0.5)
    direct_cpu = statistics.median(cpu["direct"])
    head = ("| route | p50 us | p99 us | p50 vs direct | client CPU us per round trip (median of reps) | "
            "CPU vs direct |")
    print(f"\n40 B echo round trips, {args.round_trips} x {args.reps} reps per route, uvloop client\n")
    print(head if args.markdown else head.replace("|", " "))
    if args.markdown:
        print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        p50, p99, c = pct(rtt[name], 0.5), pct(rtt[name], 0.99), statistics.median(cpu[name])
        row = (f"| {name} | {p50:.1f} | {p99:.1f} | {p50 / direct50:.2f}x | {c:.1f} | "
               f"{c / direct_cpu:.2f}x |")
        print(row if args.markdown else row.replace("|", " "))


if __name__ == "__main__":
    main()
