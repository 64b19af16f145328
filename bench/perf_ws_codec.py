"""In-memory WebSocket codec benchmark: nexus-net side by side with the peers.

    python bench/perf_ws_codec.py [--reps 15] [--count 10000] [--markdown]

Parse: a stream of ``count`` single-frame messages fed in 64 KiB chunks to a
fresh parser, every message delivered in a form the application can use
(binary: a memoryview/bytes of the payload; text: the ``str``; json: the
object ``orjson.loads`` returns). Encode: one 128-byte text message per call.
Libraries alternate inside every repetition; the table shows the median and
the p99 over repetitions of ns per message, and the ratio to picows's median
from the same run. Never a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import orjson  # noqa: E402

import _frames as F  # noqa: E402
import _peers_codec as P  # noqa: E402
from _machine import describe  # noqa: E402

from nexus_net.ws import FrameReader, FrameWriter, Role  # noqa: E402

# (case name, payload, opcode, masked, mode)
CASES = [
    ("binary 40 B", F.BIN_40, F.OP_BINARY, False, "binary"),
    ("binary 128 B", F.BIN_128, F.OP_BINARY, False, "binary"),
    ("binary 512 B", F.BIN_512, F.OP_BINARY, False, "binary"),
    ("text 128 B", F.TEXT_128, F.OP_TEXT, False, "text"),
    ("text 128 B masked", F.TEXT_128, F.OP_TEXT, True, "text"),
    ("JSON quote 77 B", F.QUOTE_77, F.OP_TEXT, False, "json"),
]


def nexus_parser(chunks: list[bytes], mode: str, masked: bool) -> Callable[[], int]:
    role = Role.SERVER if masked else Role.CLIENT

    def run_binary() -> int:  # (the payload dropped at once; kept: zerocopy_section)
        reader = FrameReader(role)
        n = 0
        for chunk in chunks:
            reader.feed(chunk)
            for msg in reader:
                msg.data
                n += 1
        return n

    def run_text() -> int:
        reader = FrameReader(role)
        n = 0
        for chunk in chunks:
            reader.feed(chunk)
            for msg in reader:
                msg.text()
                n += 1
        return n

    def run_json() -> int:
        reader = FrameReader(role)
        n = 0
        for chunk in chunks:
            reader.feed(chunk)
            for msg in reader:
                msg.json()
                n += 1
        return n

    return {"binary": run_binary, "text": run_text, "json": run_json}[mode]


def nexus_message_only(chunks: list[bytes], masked: bool) -> Callable[[], int]:
    """The Message object itself (it supports the buffer protocol)."""
    role = Role.SERVER if masked else Role.CLIENT

    def run() -> int:
        reader = FrameReader(role)
        n = 0
        for chunk in chunks:
            reader.feed(chunk)
            for msg in reader:
                n += 1
        return n
    return run


# ---- zero-copy against a copy (issue 12, part 4) ----------------------------------

ZEROCOPY_SIZES = [40, 512, 4096, 65536]
HANDLES = ["msg.bytes()", "msg.data", "msg (Message)"]


def nexus_handles(chunks: list[bytes], handle: str, keep: bool) -> Callable[[], int]:
    """Parse, and take each message's payload as ``handle``; either keep every
    one (a list the application holds) or drop it at once."""
    def run() -> int:
        reader = FrameReader(Role.CLIENT)
        kept: list[object] = []
        put = kept.append if keep else (lambda _: None)
        n = 0
        for chunk in chunks:
            reader.feed(chunk)
            if handle == "msg.bytes()":
                for msg in reader:
                    put(msg.bytes())
                    n += 1
            elif handle == "msg.data":
                for msg in reader:
                    put(msg.data)
                    n += 1
            else:
                for msg in reader:
                    put(msg)
                    n += 1
        return n
    return run


def memoryview_floor(payload: bytes, count: int, keep: bool) -> Callable[[], int]:
    """CPython's own cost of a memoryview (of an existing bytes object, no
    parsing): the floor of any API that hands out memoryviews."""
    items = [payload] * count

    def run() -> int:
        kept: list[object] = []
        put = kept.append if keep else (lambda _: None)
        for item in items:
            put(memoryview(item))
        return count
    return run


def zerocopy_section(reps: int, markdown: bool) -> None:
    for size in ZEROCOPY_SIZES:
        count = min(F.DEFAULT_COUNT, (32 << 20) // size)
        payload = F.binary_payload(size)
        chunks = F.chunks(F.make_stream(payload, F.OP_BINARY, count, False))
        for keep in (False, True):
            runners: dict[str, Callable[[], int]] = {
                h: nexus_handles(chunks, h, keep) for h in HANDLES}
            runners["memoryview() alone (CPython floor)"] = memoryview_floor(payload, count, keep)
            table(f"binary {size} B, payload {'kept' if keep else 'dropped'}, {count} msgs",
                  measure(runners, count, reps), markdown)


def orjson_alone(count: int) -> Callable[[], int]:
    items = [F.QUOTE_77] * count
    loads = orjson.loads

    def run() -> int:
        n = 0
        for item in items:
            loads(item)
            n += 1
        return n
    return run


def nexus_encoder(text: str, role: str) -> Callable[[], object]:
    writer = FrameWriter(Role.CLIENT if role == "client" else Role.SERVER)
    dst = bytearray(writer.frame_size(len(text.encode())))
    encode = writer.encode_text

    def run() -> object:
        return encode(text, dst)
    return run


def measure(runners: dict[str, Callable[[], int]], count: int, reps: int) -> dict[str, list[float]]:
    """ns/message for each runner, alternating runners within each repetition."""
    out: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for name in names:                       # warm-up and sanity check
        got = runners[name]()
        if got != count:
            raise SystemExit(f"{name} delivered {got} messages instead of {count}")
    for rep in range(reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            gc.collect()
            t0 = time.perf_counter_ns()
            runners[name]()
            out[name].append((time.perf_counter_ns() - t0) / count)
    return out


def measure_calls(runners: dict[str, Callable[[], object]], calls: int, reps: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for rep in range(reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            fn = runners[name]
            gc.collect()
            t0 = time.perf_counter_ns()
            for _ in range(calls):
                fn()
            out[name].append((time.perf_counter_ns() - t0) / calls)
    return out


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def table(title: str, results: dict[str, list[float]], markdown: bool) -> list[tuple[str, float]]:
    base = statistics.median(results["picows"]) if "picows" in results else None
    ref = "picows" if base else None
    if base is None and "msg.bytes()" in results:
        base, ref = statistics.median(results["msg.bytes()"]), "msg.bytes()"
    rows = [(name, statistics.median(v), p99(v)) for name, v in results.items()]
    if markdown:
        print(f"\n**{title}**\n\n| library | median ns/msg | p99 ns/msg | vs {ref} |\n|---|---:|---:|---:|")
    else:
        vs = f"vs {ref}"
        print(f"\n{title}\n  {'library':<36}{'median ns/msg':>15}{'p99 ns/msg':>12}{vs:>15}")
    for name, med, worst in rows:
        ratio = f"{med / base:.2f}x" if base else "-"
        if markdown:
            print(f"| {name} | {med:,.0f} | {worst:,.0f} | {ratio} |")
        else:
            print(f"  {name:<36}{med:>15,.0f}{worst:>12,.0f}{ratio:>15}")
    return [(name, med) for name, med, _ in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--count", type=int, default=F.DEFAULT_COUNT)
    ap.add_argument("--calls", type=int, default=100_000, help="encode calls per repetition")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--only", choices=["parse", "zerocopy"],
                    help="parse: the parse/encode tables and bars; zerocopy: zero-copy "
                         "handles against a copy, kept or dropped (default: both)")
    args = ap.parse_args()

    print("machine:", describe(["nexus-net", "picows", "aiohttp", "websockets", "wsproto", "orjson", "Cython"]))
    for name, why in P.UNAVAILABLE.items():
        print(f"skipped {name}: {why}")
    if args.only != "parse":
        zerocopy_section(args.reps, args.markdown)
    if args.only == "zerocopy":
        return
    summary: dict[str, dict[str, float]] = {}

    for case, payload, opcode, masked, mode in CASES:
        chunks = F.chunks(F.make_stream(payload, opcode, args.count, masked))
        role = "server" if masked else "client"
        runners: dict[str, Callable[[], int]] = {"nexus-net": nexus_parser(chunks, mode, masked)}
        if mode == "binary":
            runners["nexus-net (Message object)"] = nexus_message_only(chunks, masked)
        if mode == "json":
            runners["orjson.loads alone"] = orjson_alone(args.count)
        for peer, (make_parser, _) in P.PEERS.items():
            runners[peer] = make_parser(chunks, mode, role)
        label = f"parse {case} ({'masked, server role' if masked else 'unmasked, client role'}), {args.count} msgs"
        summary[case] = dict(table(label, measure(runners, args.count, args.reps), args.markdown))

    for role in ("server", "client"):
        text = F.TEXT_128.decode() if isinstance(F.TEXT_128, bytes) else F.TEXT_128
        enc: dict[str, Callable[[], object]] = {"nexus-net": nexus_encoder(text, role)}
        for peer, (_, make_encoder) in P.PEERS.items():
            enc[peer] = make_encoder(text, role)
        summary[f"encode {role}"] = dict(table(
            f"encode text 128 B, {role} role{' (masked)' if role == 'client' else ''}",
            measure_calls(enc, args.calls, args.reps), args.markdown))

    print("\nbars (issue #3):")
    def bar(label: str, ours: float, ref: float, limit: float) -> None:
        ratio = ours / ref
        print(f"  {'PASS' if ratio <= limit else 'MISS'}  {label}: {ratio:.2f}x (bar <= {limit}x)")
    if "picows" in P.PEERS:
        s = summary["binary 40 B"]
        bar("binary 40 B parse vs picows", s["nexus-net"], s["picows"], 0.45)
        bar("encode server vs picows", summary["encode server"]["nexus-net"], summary["encode server"]["picows"], 0.7)
        bar("encode client vs picows", summary["encode client"]["nexus-net"], summary["encode client"]["picows"], 0.5)
    j = summary["JSON quote 77 B"]
    bar("JSON quote vs orjson.loads alone", j["nexus-net"], j["orjson.loads alone"], 1.3)


if __name__ == "__main__":
    main()
