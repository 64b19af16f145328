"""Loopback WebSocket benchmark: real sockets, servers in another process.

    python bench/perf_loopback.py [--round-trips 50000] [--reps 3] [--messages 2000000] [--markdown]

(a) Echo round trip of a 40 B and a 128 B binary message, one in flight, timed
    one by one (perf_counter_ns) after a warm-up: every client against the same
    picows echo server, our client against our server, and the floor, a raw
    uvloop Protocol client with hand-made frames (against picows and against a
    raw uvloop echo server). Client and server pinned to the same core (on a
    2-vCPU VM a cross-core wake-up adds tens of microseconds), then split.
(b) One-way throughput, client and server on different cores: a raw server
    pushes N pre-framed 40 B messages (many per transport.write) and each
    client counts them with its idiomatic API; also our server -> our client.

Everything runs on uvloop. Never a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Awaitable, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import uvloop  # noqa: E402

from _machine import describe  # noqa: E402
from _stats import pct  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
UPGRADE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def masked_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    head = bytes([0x80 | opcode, 0x80 | n]) if n < 126 else bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + key + masked


def plain_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    n = len(payload)
    head = bytes([0x80 | opcode, n]) if n < 126 else bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    return head + payload


# =============================================================================
# Servers (each runs in its own process: --serve KIND)
# =============================================================================

class RawEchoServer(asyncio.Protocol):
    """The server-side floor: handshake by hand, echo fixed-size masked frames."""

    def __init__(self) -> None:
        self.buf = b""
        self.open = False

    def connection_made(self, transport: Any) -> None:
        self.t = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            key = [l.split(b":", 1)[1].strip() for l in buf[:end].split(b"\r\n")
                   if l.lower().startswith(b"sec-websocket-key")][0]
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.t.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.open = True
            buf = buf[end + 4:]
        while len(buf) >= 6:
            n = buf[1] & 0x7F
            hl = 2
            if n == 126:
                n = int.from_bytes(buf[2:4], "big")
                hl = 4
            if len(buf) < hl + 4 + n:
                break
            if buf[0] & 0x0F == 0x8:
                self.t.write(b"\x88\x02\x03\xe8")
                self.t.close()
                return
            key = buf[hl:hl + 4] * (n // 4 + 1)
            payload = (int.from_bytes(buf[hl + 4:hl + 4 + n], "little")
                       ^ int.from_bytes(key[:n], "little")).to_bytes(n, "little")
            self.t.write((bytes([0x82, n]) if n < 126 else b"\x82\x7e" + n.to_bytes(2, "big")) + payload)
            buf = buf[hl + 4 + n:]
        self.buf = buf


class RawPushServer(asyncio.Protocol):
    """Pushes `count` pre-framed 40 B messages, many per write, then closes."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.buf = b""
        self.paused = False
        self.sent = 0

    def connection_made(self, transport: Any) -> None:
        self.t = transport

    def data_received(self, data: bytes) -> None:
        if self.buf is None:
            return
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        key = [l.split(b":", 1)[1].strip() for l in self.buf[:end].split(b"\r\n")
               if l.lower().startswith(b"sec-websocket-key")][0]
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.t.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        self.buf = None
        self.block = plain_frame(b"q" * 40) * 1000
        self.push()

    def push(self) -> None:
        while not self.paused and self.sent < self.count:
            left = self.count - self.sent
            self.t.write(self.block if left >= 1000 else self.block[:left * len(self.block) // 1000])
            self.sent += min(left, 1000)
        if self.sent >= self.count and not self.paused:
            self.t.write(b"\x88\x02\x03\xe8")
            self.t.close()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.push()


def server_ssl_context(tls_dir: str | None) -> Any:
    """TLS for the server processes of perf_tls.py (certificate made by trustme)."""
    if not tls_dir:
        return None
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(tls_dir, "server.pem"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


async def run_server(kind: str, count: int, tls_dir: str | None = None) -> None:
    loop = asyncio.get_running_loop()
    ssl_ctx = server_ssl_context(tls_dir)
    if kind == "picows":
        import picows

        class Echo(picows.WSListener):
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                if frame.msg_type == picows.WSMsgType.BINARY:
                    transport.send(picows.WSMsgType.BINARY, frame.get_payload_as_memoryview())
                elif frame.msg_type == picows.WSMsgType.CLOSE:
                    transport.send_close(frame.get_close_code())
                    transport.disconnect()

        server = await picows.ws_create_server(lambda _r: Echo(), "127.0.0.1", 0, ssl=ssl_ctx)
    elif kind == "nexus":
        from nexus_net import ws

        async def echo(conn: Any) -> None:
            async for msg in conn:
                await conn.send_binary(msg.data)

        tls = None
        if tls_dir:
            from nexus_net.tls import TlsConfig
            tls = TlsConfig.server(os.path.join(tls_dir, "server.pem"), os.path.join(tls_dir, "server.pem"),
                                   tls13_only=True)
        server = (await ws.serve(echo, "127.0.0.1", 0, ping_interval=None, tls=tls)).server
    elif kind == "nexus-push":
        from nexus_net import ws
        payload = b"q" * 40

        async def push(conn: Any) -> None:
            send = conn.send_binary
            for _ in range(count):
                await send(payload)
            await conn.close()

        server = (await ws.serve(push, "127.0.0.1", 0, ping_interval=None)).server
    elif kind == "nexus-push-many":
        from nexus_net import ws
        batch = [b"q" * 40] * 256

        async def push_many(conn: Any) -> None:
            for _ in range(count // 256):
                await conn.send_many(batch)
            await conn.send_many([b"q" * 40] * (count % 256))
            await conn.close()

        server = (await ws.serve(push_many, "127.0.0.1", 0, ping_interval=None)).server
    elif kind == "raw":
        server = await loop.create_server(RawEchoServer, "127.0.0.1", 0)
    elif kind == "raw-push":
        server = await loop.create_server(lambda: RawPushServer(count), "127.0.0.1", 0, ssl=ssl_ctx)
    else:
        raise SystemExit(f"unknown server {kind}")
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)


class ServerProcess:
    def __init__(self, kind: str, cpu: int, count: int = 0, tls_dir: str | None = None) -> None:
        extra = ["--tls-dir", tls_dir] if tls_dir else []
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--cpu", str(cpu), "--messages", str(count)] + extra,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT"):
            raise SystemExit(f"{kind} server failed: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"{'wss://localhost' if tls_dir else 'ws://127.0.0.1'}:{self.port}/"

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


# =============================================================================
# Round-trip clients: each returns a list of ns per round trip
# =============================================================================

async def rtt_nexus(url: str, payload: bytes, n: int, warm: int, tls: Any = None) -> list[int]:
    from nexus_net import ws
    out = []
    clock = time.perf_counter_ns
    async with ws.connect(url, ping_interval=None, tls=tls) as conn:
        send, recv = conn.send_binary, conn.recv
        for i in range(warm + n):
            t0 = clock()
            await send(payload)
            await recv()
            if i >= warm:
                out.append(clock() - t0)
    return out


async def rtt_websockets(url: str, payload: bytes, n: int, warm: int, ssl: Any = None) -> list[int]:
    from websockets.asyncio.client import connect
    out = []
    clock = time.perf_counter_ns
    async with connect(url, ping_interval=None, compression=None, ssl=ssl) as conn:
        for i in range(warm + n):
            t0 = clock()
            await conn.send(payload)
            await conn.recv()
            if i >= warm:
                out.append(clock() - t0)
    return out


async def rtt_aiohttp(url: str, payload: bytes, n: int, warm: int, ssl: Any = None) -> list[int]:
    import aiohttp
    out = []
    clock = time.perf_counter_ns
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url.replace("ws", "http", 1), autoping=True, ssl=ssl) as conn:
            for i in range(warm + n):
                t0 = clock()
                await conn.send_bytes(payload)
                await conn.receive()
                if i >= warm:
                    out.append(clock() - t0)
    return out


async def rtt_picows(url: str, payload: bytes, n: int, warm: int, ssl: Any = None) -> list[int]:
    import picows
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    out: list[int] = []
    clock = time.perf_counter_ns

    class Client(picows.WSListener):
        def on_ws_connected(self, transport: Any) -> None:
            self.i = 0
            self.t0 = clock()
            transport.send(picows.WSMsgType.BINARY, payload)

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            t1 = clock()
            if self.i >= warm:
                out.append(t1 - self.t0)
            self.i += 1
            if self.i == warm + n:
                done.set_result(None)
                return
            self.t0 = clock()
            transport.send(picows.WSMsgType.BINARY, payload)

    transport, _ = await picows.ws_connect(Client, url, ssl_context=ssl)
    await done
    transport.send_close()
    transport.disconnect()
    return out


async def rtt_raw(url: str, payload: bytes, n: int, warm: int) -> list[int]:
    """The floor: hand-made frames, the reply recognised by its length only."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    out: list[int] = []
    clock = time.perf_counter_ns
    frame = masked_frame(payload)
    reply_len = len(plain_frame(payload))

    class Raw(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.head = b""
            self.got = 0
            self.i = 0
            transport.write(UPGRADE)

        def data_received(self, data: bytes) -> None:
            if self.head is not None:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return
                self.head = None
                self.t0 = clock()
                self.t.write(frame)
                return
            self.got += len(data)
            if self.got < reply_len:
                return
            self.got -= reply_len
            t1 = clock()
            if self.i >= warm:
                out.append(t1 - self.t0)
            self.i += 1
            if self.i == warm + n:
                done.set_result(None)
                return
            self.t0 = clock()
            self.t.write(frame)

    host, port = url[5:].rstrip("/").split(":")
    transport, _ = await loop.create_connection(Raw, host, int(port))
    await done
    transport.close()
    return out


async def rtt_raw_await(url: str, payload: bytes, n: int, warm: int) -> list[int]:
    """The floor for an awaiting client: the raw protocol above, but the
    application awaits an asyncio.Future per reply instead of a callback."""
    loop = asyncio.get_running_loop()
    frame = masked_frame(payload)
    reply_len = len(plain_frame(payload))

    class Raw(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.head = b""
            self.got = 0
            self.waiter = loop.create_future()
            transport.write(UPGRADE)

        def data_received(self, data: bytes) -> None:
            if self.head is not None:
                self.head += data
                if self.head.find(b"\r\n\r\n") >= 0:
                    self.head = None
                    self.waiter.set_result(None)
                return
            self.got += len(data)
            if self.got >= reply_len:
                self.got -= reply_len
                if not self.waiter.done():
                    self.waiter.set_result(None)

    host, port = url[5:].rstrip("/").split(":")
    transport, proto = await loop.create_connection(Raw, host, int(port))
    await proto.waiter
    out: list[int] = []
    clock = time.perf_counter_ns
    for i in range(warm + n):
        t0 = clock()
        proto.waiter = loop.create_future()
        transport.write(frame)
        await proto.waiter
        if i >= warm:
            out.append(clock() - t0)
    transport.close()
    return out


# =============================================================================
# Throughput clients: each returns (messages counted, seconds)
# =============================================================================

async def tput_nexus(url: str, expected: int, tls: Any = None) -> tuple[int, float]:
    from nexus_net import ws
    conn = await ws.connect(url, ping_interval=None, tls=tls)
    n = 0
    t0 = time.perf_counter()
    async for msg in conn:
        n += 1
    return n, time.perf_counter() - t0


async def tput_nexus_listener(url: str, expected: int, tls: Any = None) -> tuple[int, float]:
    """Our callback client (``ws.Listener.on_message``), counting like
    picows's ``on_ws_frame`` client below: no task resumed per message."""
    from nexus_net import ws
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    state = {"n": 0, "t0": 0.0}

    class Counter(ws.Listener):
        def on_message(self, conn: Any, msg: Any) -> None:
            if not state["n"]:
                state["t0"] = time.perf_counter()   # from the first message (connect excluded)
            state["n"] += 1
            if state["n"] == expected:
                done.set_result(time.perf_counter())

        def on_close(self, conn: Any, code: int, reason: str) -> None:
            if not done.done():
                done.set_result(time.perf_counter())

    conn = await ws.connect(url, ping_interval=None, tls=tls, listener=Counter())
    t1 = await done
    conn.transport_.abort()
    return state["n"], t1 - state["t0"]


async def tput_websockets(url: str, expected: int, ssl: Any = None) -> tuple[int, float]:
    from websockets.asyncio.client import connect
    n = 0
    async with connect(url, ping_interval=None, compression=None, max_queue=None, ssl=ssl) as conn:
        t0 = time.perf_counter()
        async for _ in conn:
            n += 1
        return n, time.perf_counter() - t0


async def tput_aiohttp(url: str, expected: int, ssl: Any = None) -> tuple[int, float]:
    import aiohttp
    n = 0
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url.replace("ws", "http", 1), ssl=ssl) as conn:
            t0 = time.perf_counter()
            async for msg in conn:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    n += 1
            return n, time.perf_counter() - t0


async def tput_picows(url: str, expected: int, ssl: Any = None) -> tuple[int, float]:
    import picows
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    class Counter(picows.WSListener):
        n = 0

        def on_ws_connected(self, transport: Any) -> None:
            self.t0 = time.perf_counter()

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == picows.WSMsgType.BINARY:
                self.n += 1
                if self.n == expected:
                    done.set_result((self.n, time.perf_counter() - self.t0))

    transport, _ = await picows.ws_connect(Counter, url, ssl_context=ssl)
    result = await done
    transport.disconnect()
    return result


async def tput_raw(url: str, expected: int) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    size = len(plain_frame(b"q" * 40))

    class Raw(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.head = b""
            self.got = 0
            transport.write(UPGRADE)

        def data_received(self, data: bytes) -> None:
            if self.head is not None:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return
                self.t0 = time.perf_counter()
                data = self.head[end + 4:]
                self.head = None
            self.got += len(data)
            if self.got >= expected * size and not done.done():
                done.set_result((self.got // size, time.perf_counter() - self.t0))

    host, port = url[5:].rstrip("/").split(":")
    transport, _ = await loop.create_connection(Raw, host, int(port))
    result = await done
    transport.close()
    return result


# =============================================================================
# Driver
# =============================================================================

def run(coro: Awaitable[Any]) -> Any:
    return uvloop.run(coro)


def round_trips(cpu_server: int, args: argparse.Namespace) -> list[tuple[str, int, dict[str, float]]]:
    servers = {k: ServerProcess(k, cpu_server) for k in ("picows", "nexus", "raw")}
    clients: list[tuple[str, Callable[..., Awaitable[list[int]]], str]] = [
        ("nexus-net client -> nexus-net server", rtt_nexus, "nexus"),
        ("nexus-net client -> picows server", rtt_nexus, "picows"),
        ("picows client (callback) -> picows server", rtt_picows, "picows"),
        ("websockets client -> picows server", rtt_websockets, "picows"),
        ("aiohttp client -> picows server", rtt_aiohttp, "picows"),
        ("raw uvloop floor -> picows server", rtt_raw, "picows"),
        ("raw uvloop + await Future -> picows server", rtt_raw_await, "picows"),
        ("raw uvloop floor -> raw uvloop server", rtt_raw, "raw"),
    ]
    results = []
    try:
        for size in (40, 128):
            payload = os.urandom(size)
            samples: dict[str, list[int]] = {name: [] for name, _, _ in clients}
            p50s: dict[str, list[float]] = {name: [] for name, _, _ in clients}
            for rep in range(args.reps):
                order = clients[rep % len(clients):] + clients[:rep % len(clients)]
                for name, fn, server in order:
                    got = run(fn(servers[server].url, payload, args.round_trips, args.warmup))
                    samples[name].extend(got)
                    p50s[name].append(pct(got, 0.5))
                    print(f"    {size:>3} B rep {rep + 1}: {name:<44} p50 {pct(got, 0.5):7.1f} us",
                          file=sys.stderr, flush=True)
            for name, _, _ in clients:
                s = samples[name]
                results.append((name, size, {"p50": statistics.median(p50s[name]), "p99": pct(s, 0.99),
                                             "p999": pct(s, 0.999), "n": len(s)}))
    finally:
        for s in servers.values():
            s.stop()
    return results


def throughput(args: argparse.Namespace) -> list[tuple[str, float, int]]:
    clients = [("nexus-net (async for msg in conn)", tput_nexus),
               ("picows (on_ws_frame callback)", tput_picows),
               ("websockets (async for)", tput_websockets),
               ("aiohttp (async for)", tput_aiohttp),
               ("raw uvloop floor (counts bytes)", tput_raw)]
    rates: dict[str, list[float]] = {name: [] for name, _ in clients}
    rates["nexus-net server -> nexus-net client"] = []
    rates["nexus-net server (send_many, 256 per call) -> nexus-net client"] = []
    for rep in range(args.reps):
        for name, fn in clients[rep % len(clients):] + clients[:rep % len(clients)]:
            n = args.messages if "websockets" not in name and "aiohttp" not in name else args.messages // 4
            server = ServerProcess("raw-push", 1, n)
            try:
                got, seconds = run(fn(server.url, n))
            finally:
                server.stop()
            if got != n:
                raise SystemExit(f"{name} counted {got} of {n}")
            rates[name].append(n / seconds)
            print(f"    rep {rep + 1}: {name:<40} {n / seconds:>12,.0f} msg/s", file=sys.stderr, flush=True)
        server = ServerProcess("nexus-push", 1, args.messages)
        try:
            got, seconds = run(tput_nexus(server.url, args.messages))
        finally:
            server.stop()
        if got != args.messages:
            raise SystemExit(f"nexus->nexus counted {got} of {args.messages}")
        rates["nexus-net server -> nexus-net client"].append(args.messages / seconds)
        server = ServerProcess("nexus-push-many", 1, args.messages)
        try:
            got, seconds = run(tput_nexus(server.url, args.messages))
        finally:
            server.stop()
        if got != args.messages:
            raise SystemExit(f"nexus send_many->nexus counted {got} of {args.messages}")
        rates["nexus-net server (send_many, 256 per call) -> nexus-net client"].append(args.messages / seconds)
    return [(name, statistics.median(v), len(v)) for name, v in rates.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--round-trips", type=int, default=50_000)
    ap.add_argument("--warmup", type=int, default=5_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--only", choices=["rtt", "tput"])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--serve")
    ap.add_argument("--cpu", type=int, default=0)
    ap.add_argument("--tls-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        pin(args.cpu)
        uvloop.run(run_server(args.serve, args.messages, args.tls_dir))
        return

    print("machine:", describe(["nexus-net", "picows", "websockets", "aiohttp", "uvloop"]))
    pin(0)
    md = args.markdown
    if args.only in (None, "rtt"):
        for label, cpu in (("same core (client and server on CPU 0)", 0), ("split cores (client CPU 0, server CPU 1)", 1)):
            print(f"\necho round trip, {label}, {args.round_trips:,} round trips x {args.reps} reps after "
                  f"{args.warmup:,} warm-up, us", flush=True)
            rows = round_trips(cpu, args)
            floor = {size: stats["p50"] for name, size, stats in rows if name.startswith("raw uvloop floor -> picows")}
            if md:
                print("\n| client -> server | size | p50 | p99 | p99.9 | p50 vs floor |\n|---|---:|---:|---:|---:|---:|")
            for name, size, st in rows:
                ratio = st["p50"] / floor[size]
                if md:
                    print(f"| {name} | {size} B | {st['p50']:.1f} | {st['p99']:.1f} | {st['p999']:.1f} | {ratio:.2f}x |")
                else:
                    print(f"  {name:<44}{size:>4} B  p50 {st['p50']:7.1f}  p99 {st['p99']:7.1f}  "
                          f"p99.9 {st['p999']:7.1f}  ({ratio:.2f}x floor)")
    if args.only in (None, "tput"):
        print(f"\none-way throughput, 40 B messages, client CPU 0, server CPU 1 "
              f"({args.messages:,} messages; websockets/aiohttp get a quarter), median of {args.reps}", flush=True)
        rows2 = throughput(args)
        if md:
            print("\n| client (server: raw batched push unless named) | msg/s |\n|---|---:|")
        for name, rate, _ in rows2:
            print(f"| {name} | {rate:,.0f} |" if md else f"  {name:<44}{rate:>14,.0f} msg/s")


if __name__ == "__main__":
    main()
