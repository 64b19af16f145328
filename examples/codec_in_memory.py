"""nexus-net demonstration: a market-data stream through the sans-IO codec.

A "server" FrameWriter encodes a stream of JSON quotes as RFC 6455 frames; a
"client" FrameReader parses them back from 64 KiB chunks (as a socket would
deliver them) and hands each quote to orjson straight from the receive
buffer. The same bytes then go through websockets' sans-IO parser, when it
is installed, for comparison. Everything happens in memory: no network.

    python examples/codec_in_memory.py [--messages 200000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import nexus_net
from nexus_net import WriteBuf
from nexus_net.ws import FrameReader, FrameWriter, Kind, Role


def make_quotes(n: int) -> list[str]:
    rng = random.Random(7)
    symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"]
    out = []
    price = 67000.0
    for i in range(n):
        price += rng.uniform(-5, 5)
        out.append('{"s":"%s","b":"%.2f","a":"%.2f","bq":"%.3f","aq":"%.3f","t":%d}' % (
            symbols[i % 4], price, price + 0.5, rng.uniform(0, 3), rng.uniform(0, 3), i))
    return out


def encode(quotes: list[str]) -> tuple[bytes, float]:
    writer = FrameWriter(Role.SERVER)
    buf = WriteBuf(1 << 20, headroom=0, max_capacity=1 << 30)
    t0 = time.perf_counter()
    for q in quotes:
        writer.encode_text(q, buf)
    elapsed = time.perf_counter() - t0
    return buf.getvalue(), elapsed


def parse_nexus(chunks: list[bytes]) -> tuple[list[object], float]:
    reader = FrameReader(Role.CLIENT)
    out = []
    append = out.append
    t0 = time.perf_counter()
    for chunk in chunks:
        reader.feed(chunk)
        for msg in reader:
            if msg.kind is Kind.TEXT:
                append(msg.json())
    return out, time.perf_counter() - t0


def parse_websockets(chunks: list[bytes]) -> tuple[list[object], float] | None:
    try:
        import orjson
        from websockets.frames import Opcode
        from websockets.protocol import Protocol, Side
    except ImportError:
        return None
    proto = Protocol(Side.CLIENT, max_size=None)
    out = []
    t0 = time.perf_counter()
    for chunk in chunks:
        proto.receive_data(chunk)
        for frame in proto.events_received():
            if frame.opcode is Opcode.TEXT:
                out.append(orjson.loads(frame.data))
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    n = args.messages
    print(f"nexus-net {nexus_net.__version__}: in-memory WebSocket market-data demo")
    quotes = make_quotes(n)
    wire, enc_s = encode(quotes)
    print(f"  encoded {n:,} JSON quotes as server frames: {len(wire) / 1e6:.1f} MB "
          f"in {enc_s * 1e3:.0f} ms ({enc_s / n * 1e9:.0f} ns/message)")
    chunks = [wire[i:i + 65536] for i in range(0, len(wire), 65536)]
    print(f"  feeding them back in {len(chunks):,} chunks of 64 KiB, {args.rounds} rounds each")

    results = {}
    for name, fn in (("nexus-net", parse_nexus), ("websockets (sans-IO)", parse_websockets)):
        times = []
        for _ in range(args.rounds):
            got = fn(chunks)
            if got is None:
                break
            parsed, seconds = got
            times.append(seconds)
        if not times:
            print(f"  {name}: not installed, skipped")
            continue
        assert len(parsed) == n, f"{name} delivered {len(parsed)} of {n}"
        assert parsed[0] == __import__("orjson").loads(quotes[0]) and parsed[-1]["t"] == n - 1
        results[name] = statistics.median(times)
    print()
    print(f"  {'parser':<24}{'messages/s':>14}{'ns/message':>12}")
    for name, seconds in results.items():
        print(f"  {name:<24}{n / seconds:>14,.0f}{seconds / n * 1e9:>12.0f}")
    if len(results) == 2:
        a, b = results["nexus-net"], results["websockets (sans-IO)"]
        print(f"\n  nexus-net parsed + decoded every quote {b / a:.1f}x faster than websockets; "
              f"all {n:,} quotes identical.")


if __name__ == "__main__":
    main()
