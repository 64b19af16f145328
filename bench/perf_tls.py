"""WebSocket over TLS 1.3 on loopback, side by side, plus the plain-TCP figure.

    python bench/perf_tls.py [--round-trips 30000] [--reps 3] [--messages 1000000] [--markdown]

Certificates come from trustme (a throw-away CA). Each client uses its own
TLS path: nexus-net its MemoryBIO codec (async and blocking client), picows,
websockets and aiohttp asyncio's SSL transport. Round trips: every client
against the same picows echo server over TLS, client and server pinned to
the same core, timed one by one after a warm-up; the plain-TCP row is our
async client against the plain picows server in the same run. Throughput:
a TLS server pushing pre-framed 40 B messages in large writes (asyncio's SSL
transport), client on CPU 0, server on CPU 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import uvloop  # noqa: E402

import perf_loopback as L  # noqa: E402
from _stats import pct  # noqa: E402
from _machine import describe  # noqa: E402


def make_pki(folder: str) -> str:
    import trustme
    ca = trustme.CA()
    ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        os.path.join(folder, "server.pem"))
    ca.cert_pem.write_to_path(os.path.join(folder, "ca.pem"))
    return os.path.join(folder, "ca.pem")


def client_ctx(ca: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


# ---- round-trip clients over TLS -------------------------------------------------

# The asyncio clients are perf_loopback's, given each library's TLS settings.
def tls_of(ca: str) -> Any:
    from nexus_net.tls import TlsConfig
    return TlsConfig(ca_file=ca, tls13_only=True)


async def rtt_nexus(url: str, ca: str, payload: bytes, n: int, warm: int) -> list[int]:
    return await L.rtt_nexus(url, payload, n, warm, tls=tls_of(ca) if url.startswith("wss") else None)


async def rtt_picows(url: str, ca: str, payload: bytes, n: int, warm: int) -> list[int]:
    return await L.rtt_picows(url, payload, n, warm, ssl=client_ctx(ca))


async def rtt_websockets(url: str, ca: str, payload: bytes, n: int, warm: int) -> list[int]:
    return await L.rtt_websockets(url, payload, n, warm, ssl=client_ctx(ca))


async def rtt_aiohttp(url: str, ca: str, payload: bytes, n: int, warm: int) -> list[int]:
    return await L.rtt_aiohttp(url, payload, n, warm, ssl=client_ctx(ca))


def rtt_nexus_sync(url: str, ca: str, payload: bytes, n: int, warm: int) -> list[int]:
    from nexus_net import ws
    from nexus_net.tls import TlsConfig
    out = []
    clock = time.perf_counter_ns
    with ws.sync.connect(url, tls=TlsConfig(ca_file=ca, tls13_only=True)) as conn:
        send, recv = conn.send_binary, conn.recv
        for i in range(warm + n):
            t0 = clock()
            send(payload)
            recv()
            if i >= warm:
                out.append(clock() - t0)
    return out


# ---- throughput over TLS ----------------------------------------------------------

async def tput_nexus(url: str, ca: str, expected: int) -> tuple[int, float]:
    return await L.tput_nexus(url, expected, tls=tls_of(ca))


def tput_nexus_sync(url: str, ca: str, expected: int) -> tuple[int, float]:
    from nexus_net import ws
    from nexus_net.tls import TlsConfig
    conn = ws.sync.connect(url, tls=TlsConfig(ca_file=ca))
    n = 0
    t0 = time.perf_counter()
    for _ in conn:
        n += 1
    return n, time.perf_counter() - t0


async def tput_picows(url: str, ca: str, expected: int) -> tuple[int, float]:
    return await L.tput_picows(url, expected, ssl=client_ctx(ca))


async def tput_websockets(url: str, ca: str, expected: int) -> tuple[int, float]:
    return await L.tput_websockets(url, expected, ssl=client_ctx(ca))


async def tput_aiohttp(url: str, ca: str, expected: int) -> tuple[int, float]:
    return await L.tput_aiohttp(url, expected, ssl=client_ctx(ca))


def call(fn: Callable[..., Any], *args: Any) -> Any:
    result = fn(*args)
    if asyncio.iscoroutine(result):
        return uvloop.run(result)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--round-trips", type=int, default=30_000)
    ap.add_argument("--warmup", type=int, default=3_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    print("machine:", describe(["nexus-net", "picows", "websockets", "aiohttp", "uvloop"]))
    print(f"OpenSSL: {ssl.OPENSSL_VERSION}")
    L.pin(0)
    folder = tempfile.mkdtemp(prefix="nexus-tls-bench-")
    ca = make_pki(folder)
    md = args.markdown

    tls_server = L.ServerProcess("picows", 0, tls_dir=folder)
    plain_server = L.ServerProcess("picows", 0)
    clients: list[tuple[str, Callable[..., Any], str]] = [
        ("nexus-net async (TLS)", rtt_nexus, tls_server.url),
        ("nexus-net blocking (TLS)", rtt_nexus_sync, tls_server.url),
        ("picows callback (TLS)", rtt_picows, tls_server.url),
        ("websockets (TLS)", rtt_websockets, tls_server.url),
        ("aiohttp (TLS)", rtt_aiohttp, tls_server.url),
        ("nexus-net async (plain TCP)", rtt_nexus, plain_server.url),
    ]
    rows = []
    try:
        for size in (40, 128):
            payload = os.urandom(size)
            samples: dict[str, list[int]] = {name: [] for name, _, _ in clients}
            p50s: dict[str, list[float]] = {name: [] for name, _, _ in clients}
            for rep in range(args.reps):
                for name, fn, url in clients[rep % len(clients):] + clients[:rep % len(clients)]:
                    got = call(fn, url, ca, payload, args.round_trips, args.warmup)
                    samples[name].extend(got)
                    p50s[name].append(pct(got, 0.5))
                    print(f"    {size} B rep {rep + 1}: {name:<30} p50 {pct(got, 0.5):.1f} us",
                          file=sys.stderr, flush=True)
            for name, _, _ in clients:
                rows.append((name, size, statistics.median(p50s[name]), pct(samples[name], 0.99),
                             pct(samples[name], 0.999)))
    finally:
        tls_server.stop()
        plain_server.stop()

    print(f"\necho round trip over TLS 1.3 vs picows's TLS server, same core, "
          f"{args.round_trips:,} x {args.reps} after {args.warmup:,} warm-up, us")
    base = {size: p50 for name, size, p50, _, _ in rows if name == "nexus-net async (TLS)"}
    if md:
        print("\n| client | size | p50 | p99 | p99.9 | p50 vs nexus-net async |\n|---|---:|---:|---:|---:|---:|")
    for name, size, p50, p99, p999 in rows:
        r = p50 / base[size]
        print(f"| {name} | {size} B | {p50:.1f} | {p99:.1f} | {p999:.1f} | {r:.2f}x |" if md else
              f"  {name:<30}{size:>4} B  p50 {p50:6.1f}  p99 {p99:6.1f}  p99.9 {p999:6.1f}  ({r:.2f}x ours)")

    tput = [("nexus-net async (async for)", tput_nexus), ("nexus-net blocking (for)", tput_nexus_sync),
            ("picows callback", tput_picows), ("websockets (async for)", tput_websockets),
            ("aiohttp (async for)", tput_aiohttp)]
    rates: dict[str, list[float]] = {name: [] for name, _ in tput}
    for rep in range(args.reps):
        for name, fn in tput[rep % len(tput):] + tput[:rep % len(tput)]:
            n = args.messages if "websockets" not in name and "aiohttp" not in name else args.messages // 4
            server = L.ServerProcess("raw-push", 1, n, tls_dir=folder)
            try:
                got, seconds = call(fn, server.url, ca, n)
            finally:
                server.stop()
            if got != n:
                raise SystemExit(f"{name} counted {got} of {n}")
            rates[name].append(n / seconds)
            print(f"    rep {rep + 1}: {name:<30} {n / seconds:,.0f} msg/s", file=sys.stderr, flush=True)
    print(f"\none-way throughput over TLS 1.3, 40 B messages, client CPU 0, server CPU 1, median of {args.reps}")
    if md:
        print("\n| client | msg/s |\n|---|---:|")
    for name, v in rates.items():
        print(f"| {name} | {statistics.median(v):,.0f} |" if md else f"  {name:<30}{statistics.median(v):>14,.0f} msg/s")


if __name__ == "__main__":
    main()
