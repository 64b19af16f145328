"""permessage-deflate (issue 15): nexus-net side by side with websockets and aiohttp.

    python bench/perf_deflate.py [--reps 15] [--count 10000] [--markdown]
    python bench/perf_deflate.py --only memory [--connections 500]
    python bench/perf_deflate.py --only plain --baseline LIBDIR

(a) inflate + parse: a stream of ``count`` compressed 77 B JSON quotes (each
    a different price and time, context takeover on, as an exchange sends
    them: zlib level 6, 15-bit window, sync flush, tail stripped), fed in
    64 KiB chunks to each library's receive path, every message parsed with
    orjson (ours: ``msg.json()``). The floor: Python's zlib.decompressobj on
    each payload + orjson.loads, with no framing at all.
(b) compress on send: one 128 B text message per call, server role, context
    takeover on (each library's compressor), wire bytes produced.
(c) memory: ``--connections`` idle connection pairs (ours to ours) in one
    process after one compressed message each way: zlib's bytes (counted by
    our allocator), our buffers, and the RSS per connection against the same
    run without compression.
(d) plain: the uncompressed codec (40 B binary, 77 B JSON) in this build
    and in ``--baseline LIBDIR`` (an unpacked wheel of the commit before),
    alternating in subprocesses: what a connection without compression pays
    for the extension's existence.

Libraries alternate inside every repetition; tables show medians and p99
over repetitions in ns per message. Never a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import subprocess
import sys
import time
import zlib
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import orjson  # noqa: E402

import _frames as F  # noqa: E402
from _machine import describe  # noqa: E402
from perf_ws_codec import measure, measure_calls, p99  # noqa: E402

from nexus_net.ws import FrameReader, FrameWriter, PerMessageDeflate, Role  # noqa: E402

TAIL = b"\x00\x00\xff\xff"


def quotes(count: int) -> list[bytes]:
    """77-byte JSON quotes (the shape of _frames.QUOTE_77) whose prices,
    sizes and sequence numbers change the way a ticker's do."""
    out = []
    for i in range(count):
        bid = 67000 + (i * 37 % 2000) / 100
        q = (b'{"s":"BTC-USD","b":"%.2f","a":"%.2f","bq":"%.2f","aq":"%.3f","t":%02d}'
             % (bid, bid + 0.5, 1 + i % 9 / 10, 0.1 + i % 89 / 100, 10 + i % 90))
        out.append(q)
    assert all(len(q) == 77 for q in out), {len(q) for q in out}
    return out


def compressed_stream(messages: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Server frames (unmasked, RSV1) of the messages compressed with context
    takeover; returns (64 KiB chunks, the compressed payloads)."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    payloads, wire = [], bytearray()
    for m in messages:
        p = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        assert p.endswith(TAIL)
        p = p[:-4]
        payloads.append(p)
        assert len(p) < 126
        wire += bytes([0xC1, len(p)]) + p
    return F.chunks(bytes(wire)), payloads


def table(title: str, results: dict[str, list[float]], markdown: bool) -> None:
    """Medians, p99 and the ratio to the faster peer (websockets, aiohttp)."""
    peers = [statistics.median(results[p]) for p in ("websockets", "aiohttp") if p in results]
    base = min(peers) if peers else None
    if markdown:
        print(f"\n**{title}**\n\n| library | median ns/msg | p99 ns/msg | vs the faster peer |\n|---|---:|---:|---:|")
    else:
        print(f"\n{title}\n  {'library':<36}{'median ns/msg':>15}{'p99 ns/msg':>12}{'vs faster peer':>16}")
    for name, values in results.items():
        med = statistics.median(values)
        ratio = f"{med / base:.2f}x" if base else "-"
        if markdown:
            print(f"| {name} | {med:,.0f} | {p99(values):,.0f} | {ratio} |")
        else:
            print(f"  {name:<36}{med:>15,.0f}{p99(values):>12,.0f}{ratio:>16}")


# ---- (a) inflate + parse ---------------------------------------------------------

def ours_inflate(chunks: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        reader = FrameReader(Role.CLIENT, extension=PerMessageDeflate())
        n = 0
        for chunk in chunks:
            reader.feed(chunk)
            for msg in reader:
                msg.json()
                n += 1
        return n
    return run


def zlib_floor(payloads: list[bytes]) -> Callable[[], int]:
    loads = orjson.loads

    def run() -> int:
        d = zlib.decompressobj(-15)
        decompress = d.decompress
        for p in payloads:
            loads(decompress(p + TAIL))
        return len(payloads)
    return run


def websockets_inflate(chunks: list[bytes]) -> Callable[[], int] | None:
    """websockets' sans-IO receive path with its PerMessageDeflate (the codec
    benchmark's driver, _peers_codec, given the extension)."""
    try:
        from websockets.extensions.permessage_deflate import PerMessageDeflate as WsDeflate
        from _peers_codec import PEERS
    except ImportError:
        return None
    if "websockets" not in PEERS:
        return None
    return PEERS["websockets"][0](chunks, "json", "client",
                                  extensions=lambda: [WsDeflate(False, False, 15, 15)])


def aiohttp_inflate(chunks: list[bytes]) -> Callable[[], int] | None:
    """aiohttp's WebSocketReader with compress=True (the codec benchmark's driver)."""
    try:
        from _peers_codec import PEERS
    except ImportError:
        return None
    if "aiohttp" not in PEERS:
        return None
    return PEERS["aiohttp"][0](chunks, "json", "client", compress=True)


def verify_inflate(chunks: list[bytes], messages: list[bytes]) -> None:
    reader = FrameReader(Role.CLIENT, extension=PerMessageDeflate())
    got = []
    for chunk in chunks:
        reader.feed(chunk)
        got.extend(m.bytes() for m in reader)
    assert got == messages, "our inflater does not reproduce the stream"


# ---- (b) compress on send ----------------------------------------------------------

def ours_deflate(text: str) -> Callable[[], object]:
    writer = FrameWriter(Role.SERVER, extension=PerMessageDeflate())
    encode = writer.encode_text
    return lambda: encode(text)


def websockets_deflate(text: str) -> Callable[[], object] | None:
    try:
        from websockets.extensions.permessage_deflate import PerMessageDeflate as WsDeflate
        from websockets.protocol import Protocol, Side, State
    except ImportError:
        return None
    p = Protocol(Side.SERVER, state=State.OPEN)
    p.extensions = [WsDeflate(False, False, 15, 15)]
    send_text, out = p.send_text, p.data_to_send

    def encode() -> object:
        send_text(text.encode())
        return out()
    return encode


def aiohttp_deflate(text: str) -> Callable[[], object] | None:
    try:
        from aiohttp._websocket.writer import WebSocketWriter
        from aiohttp.http_websocket import WSMsgType
        from _peers_codec import _FakeAiohttpProtocol, _FakeTransport
    except ImportError:
        return None
    transport = _FakeTransport()
    writer = WebSocketWriter(_FakeAiohttpProtocol(), transport, use_mask=False, compress=15)  # type: ignore[arg-type]
    send_frame, kind = writer.send_frame, WSMsgType.TEXT

    def encode() -> object:
        coro = send_frame(text.encode(), kind)
        try:
            coro.send(None)
        except StopIteration:
            return transport.last
        coro.close()
        raise RuntimeError("aiohttp's send_frame suspended")
    return encode


# ---- (c) memory per idle compressed connection ------------------------------------

def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


async def idle_connections(n: int, compression: str | None) -> dict[str, float]:
    from nexus_net import ws

    async def echo(conn: Any) -> None:
        async for msg in conn:
            await conn.send(msg.text())

    server = await ws.serve(echo, "127.0.0.1", 0, compression=compression, ping_interval=None)
    gc.collect()
    before = rss_bytes()
    conns = []
    for i in range(n):
        c = await ws.connect(f"ws://127.0.0.1:{server.port}/", compression=compression, ping_interval=None)
        await c.send_text(F.QUOTE_77.decode())
        await c.recv()
        conns.append(c)
    gc.collect()
    after = rss_bytes()
    out = {"rss per pair": (after - before) / n}
    if compression:
        client_z = sum(c.compression.zlib_memory for c in conns) / n
        client_b = sum(c.compression.buffer_memory for c in conns) / n
        server_z = sum(s.compression.zlib_memory for s in server.connections) / n
        server_b = sum(s.compression.buffer_memory for s in server.connections) / n
        out.update({"client zlib": client_z, "client buffers": client_b,
                    "server zlib": server_z, "server buffers": server_b})
    for c in conns:
        await c.close()
    server.close()
    await server.wait_closed()
    return out


def memory_section(n: int, markdown: bool) -> None:
    plain = asyncio.run(idle_connections(n, None))
    packed = asyncio.run(idle_connections(n, "deflate"))
    rows = [("RSS per connection pair, no compression", plain["rss per pair"]),
            ("RSS per connection pair, compression='deflate'", packed["rss per pair"]),
            ("  difference (what compression costs per pair)", packed["rss per pair"] - plain["rss per pair"]),
            ("client: zlib (15-bit window both ways, mem_level 5)", packed["client zlib"]),
            ("client: inflate arena + send scratch", packed["client buffers"]),
            ("server: zlib (12-bit send window, 15-bit receive)", packed["server zlib"]),
            ("server: inflate arena + send scratch", packed["server buffers"])]
    title = f"memory per idle connection, {n} pairs ours-to-ours in one process, one message each way"
    if markdown:
        print(f"\n**{title}**\n\n| what | KiB |\n|---|---:|")
        for name, v in rows:
            print(f"| {name} | {v / 1024:,.1f} |")
    else:
        print(f"\n{title}")
        for name, v in rows:
            print(f"  {name:<56}{v / 1024:>10,.1f} KiB")


# ---- (d) the uncompressed codec against the commit before -------------------------

PLAIN_CHILD = r"""
import sys, time, gc
sys.path.insert(0, sys.argv[1]) if sys.argv[1] != "-" else None
sys.path.insert(0, sys.argv[2])
import _frames as F
from nexus_net.ws import FrameReader, Role
count = int(sys.argv[3])
streams = {"binary 40 B": (F.chunks(F.make_stream(F.BIN_40, F.OP_BINARY, count, False)), "data"),
           "JSON quote 77 B": (F.chunks(F.make_stream(F.QUOTE_77, F.OP_TEXT, count, False)), "json")}
for name, (chunks, how) in streams.items():
    best = []
    for _ in range(5):
        reader = FrameReader(Role.CLIENT)
        gc.collect()
        t0 = time.perf_counter_ns()
        for chunk in chunks:
            reader.feed(chunk)
            if how == "data":
                for msg in reader:
                    msg.data
            else:
                for msg in reader:
                    msg.json()
        best.append((time.perf_counter_ns() - t0) / count)
    best.sort()
    print(name, best[len(best) // 2])
"""


def plain_section(baseline: str, reps: int, count: int, markdown: bool) -> None:
    runs: dict[str, dict[str, list[float]]] = {"this build": {}, "baseline": {}}
    for rep in range(reps):
        order = ["this build", "baseline"] if rep % 2 == 0 else ["baseline", "this build"]
        for who in order:
            lib = "-" if who == "this build" else baseline
            out = subprocess.run([sys.executable, "-c", PLAIN_CHILD, lib, HERE, str(count)],
                                 capture_output=True, text=True, check=True).stdout
            for line in out.strip().splitlines():
                name, value = line.rsplit(" ", 1)
                runs[who].setdefault(name, []).append(float(value))
    base_name = os.path.basename(baseline.rstrip("/"))
    title = f"uncompressed parse, this build against {base_name}, {reps} alternating subprocess runs"
    if markdown:
        print(f"\n**{title}**\n\n| case | this build ns/msg | baseline ns/msg | ratio |\n|---|---:|---:|---:|")
    else:
        print(f"\n{title}")
    for name in runs["this build"]:
        ours = statistics.median(runs["this build"][name])
        base = statistics.median(runs["baseline"][name])
        if markdown:
            print(f"| {name} | {ours:,.1f} | {base:,.1f} | {ours / base:.3f}x |")
        else:
            print(f"  {name:<20}{ours:>10,.1f}{base:>10,.1f}{ours / base:>9.3f}x   (bar: within 1.03x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=50_000, help="encode calls per repetition")
    ap.add_argument("--connections", type=int, default=500)
    ap.add_argument("--baseline", metavar="LIBDIR", help="an unpacked wheel of the commit before (part d)")
    ap.add_argument("--only", choices=["inflate", "deflate", "memory", "plain"])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    print("machine:", describe(["nexus-net", "aiohttp", "websockets", "orjson", "Cython"]))
    print("zlib:", zlib.ZLIB_RUNTIME_VERSION)

    if args.only in (None, "inflate"):
        messages = quotes(args.count)
        chunks, payloads = compressed_stream(messages)
        verify_inflate(chunks, messages)
        ratio = sum(map(len, payloads)) / (77 * len(payloads))
        runners: dict[str, Callable[[], int]] = {"nexus-net": ours_inflate(chunks),
                                                 "zlib + orjson floor (no framing)": zlib_floor(payloads)}
        for name, make in (("websockets", websockets_inflate), ("aiohttp", aiohttp_inflate)):
            run = make(chunks)
            if run is not None:
                runners[name] = run
        res = measure(runners, args.count, args.reps)
        table(f"(a) inflate + orjson, {args.count} compressed 77 B JSON quotes "
              f"(wire {ratio:.0%} of the JSON), context takeover", res, args.markdown)
        peers = [statistics.median(res[p]) for p in ("websockets", "aiohttp") if p in res]
        if peers:
            ours = statistics.median(res["nexus-net"])
            print(f"  bar: nexus-net / the faster peer = {ours / min(peers):.2f}x (bar <= 0.5x)")
    if args.only in (None, "deflate"):
        text = F.TEXT_128.decode() if isinstance(F.TEXT_128, bytes) else F.TEXT_128
        enc: dict[str, Callable[[], object]] = {"nexus-net": ours_deflate(text)}
        for name, make in (("websockets", websockets_deflate), ("aiohttp", aiohttp_deflate)):
            fn = make(text)
            if fn is not None:
                enc[name] = fn
        table("(b) compress on send: text 128 B, server role, context takeover",
              measure_calls(enc, args.calls, args.reps), args.markdown)
    if args.only in (None, "memory"):
        memory_section(args.connections, args.markdown)
    if args.only == "plain" or (args.only is None and args.baseline):
        if not args.baseline:
            ap.error("--only plain needs --baseline LIBDIR")
        plain_section(args.baseline, max(args.reps, 6), args.count * 10, args.markdown)


if __name__ == "__main__":
    main()
