"""Server-side benchmark (issue 12): one-way push, round trip with and without
write coalescing, broadcast.

    python bench/perf_server.py [--messages 2000000] [--reps 3] [--markdown] [--only push|rtt|broadcast]

1. One-way push, 40 B binary, one send per message, server process on CPU 1,
   client (this process) on CPU 0, each library against its own kind:
   * nexus-net: the handler runs ``await conn.send_binary(p)`` per message
     (writes coalesced per loop step, the default), and the same with
     coalescing off (``conn.out.coalesce = False``: a write per message, the
     old behaviour);
   * picows: ``transport.send(BINARY, p)`` per message from ``on_ws_connected``;
   * websockets: ``await ws.send(p)`` per message (a quarter of the messages:
     it is slow).
   The client counts from the handshake to the last message.
2. Round trip, 40 B echo, client and server on CPU 0: our ``await
   send_binary(); await recv()`` client against our echo server, coalescing on
   (both ends) vs off (both ends), contenders alternated every repetition.
3. Broadcast: one server process, 1,000 connections from one client process
   (our listener client, counting), 1,000 broadcasts of 40 B. ``ws.broadcast``
   vs ``websockets.broadcast``, the same client for both. Three pacings: one
   broadcast per loop iteration (``await asyncio.sleep(0)`` after each: every
   write is the first of its step, so it goes out at once, a write per message
   per connection), bursts of 50 broadcasts per iteration, and all 1,000 in
   one loop step.
   Delivered messages per second are counted by the client (first to last
   message); every message must arrive.
4. Large messages (1 MiB and 16 MiB), our server -> our client, the client's
   SO_RCVBUF left to autotuning or capped at 128 KiB / 256 KiB / 1 MiB
   (``ws.connect(so_rcvbuf=...)``), MB/s of payload.

Everything runs on uvloop. Never a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import uvloop  # noqa: E402

import perf_loopback as L  # noqa: E402
from _machine import describe  # noqa: E402
from _stats import pct  # noqa: E402

PAYLOAD = b"q" * 40


# =============================================================================
# Servers (each in its own process: --serve KIND)
# =============================================================================

async def run_server(kind: str, count: int, conns: int, burst: int) -> None:
    loop = asyncio.get_running_loop()
    if kind.startswith("nexus"):
        from nexus_net import ws
        coalesce = not kind.endswith("-direct")

        if kind.startswith("nexus-push"):
            async def handler(conn: Any) -> None:
                conn.out.coalesce = coalesce
                send = conn.send_binary
                for _ in range(count):
                    await send(PAYLOAD)
                await conn.close()
        elif kind.startswith("nexus-big-"):
            big = bytes(range(256)) * (int(kind.rsplit("-", 1)[1]) // 256)

            async def handler(conn: Any) -> None:
                for _ in range(count):
                    await conn.send_binary(big)
                await conn.close()
        elif kind.startswith("nexus-echo"):
            async def handler(conn: Any) -> None:
                conn.out.coalesce = coalesce
                async for msg in conn:
                    await conn.send_binary(msg.data)
        elif kind == "nexus-broadcast":
            ready = loop.create_future()
            held: set[Any] = set()

            async def handler(conn: Any) -> None:
                held.add(conn)
                if len(held) == conns and not ready.done():
                    ready.set_result(None)
                await conn.wait_closed()

            async def fan_out() -> None:
                await ready
                skipped = 0
                t0 = time.perf_counter()
                for i in range(count):
                    skipped += ws.broadcast(held, PAYLOAD)
                    if (i + 1) % burst == 0:
                        await asyncio.sleep(0)
                print(f"SKIPPED {skipped} in {time.perf_counter() - t0:.3f}s", file=sys.stderr, flush=True)

            loop.create_task(fan_out())
        else:
            raise SystemExit(f"unknown server {kind}")
        server = await ws.serve(handler, "127.0.0.1", 0, ping_interval=None, backlog=2048)
        port = server.port
    elif kind == "picows-push":
        import picows

        class Push(picows.WSListener):
            def on_ws_connected(self, transport: Any) -> None:
                send, binary = transport.send, picows.WSMsgType.BINARY
                for _ in range(count):
                    send(binary, PAYLOAD)
                transport.send_close()

            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                if frame.msg_type == picows.WSMsgType.CLOSE:
                    transport.disconnect()

        server = await picows.ws_create_server(lambda _r: Push(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    elif kind.startswith("websockets"):
        import websockets
        from websockets.asyncio.server import serve

        if kind == "websockets-push":
            async def handler(conn: Any) -> None:
                for _ in range(count):
                    await conn.send(PAYLOAD)
                await conn.close()
        elif kind == "websockets-broadcast":
            ready = loop.create_future()
            held = set()

            async def handler(conn: Any) -> None:
                held.add(conn)
                if len(held) == conns and not ready.done():
                    ready.set_result(None)
                await conn.wait_closed()

            async def fan_out() -> None:
                await ready
                for i in range(count):
                    websockets.broadcast(held, PAYLOAD)
                    if (i + 1) % burst == 0:
                        await asyncio.sleep(0)

            loop.create_task(fan_out())
        else:
            raise SystemExit(f"unknown server {kind}")
        server = await serve(handler, "127.0.0.1", 0, ping_interval=None, compression=None,
                             max_queue=None, backlog=2048)
        port = list(server.sockets)[0].getsockname()[1]
    else:
        raise SystemExit(f"unknown server {kind}")
    print(f"PORT {port}", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)


class ServerProcess:
    def __init__(self, kind: str, cpu: int, count: int, conns: int = 0, burst: int = 1,
                 prefix: list[str] | None = None) -> None:
        # prefix: a command the server runs under (bench/perf_instructions.py: callgrind)
        self.proc = subprocess.Popen(
            [*(prefix or []), sys.executable, __file__, "--serve", kind, "--cpu", str(cpu), "--messages", str(count),
             "--conns", str(conns), "--burst", str(burst)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT"):
            raise SystemExit(f"{kind} server failed: {line!r} {self.proc.stderr.read()}")
        self.url = f"ws://127.0.0.1:{int(line.split()[1])}/"

    def stop(self) -> str:
        self.proc.stdin.close()
        self.proc.wait(30)
        return self.proc.stderr.read()


# =============================================================================
# Clients
# =============================================================================

async def rtt_nexus(url: str, n: int, warm: int, coalesce: bool) -> list[int]:
    from nexus_net import ws
    out = []
    clock = time.perf_counter_ns
    async with ws.connect(url, ping_interval=None) as conn:
        conn.out.coalesce = coalesce
        send, recv = conn.send_binary, conn.recv
        for i in range(warm + n):
            t0 = clock()
            await send(PAYLOAD)
            await recv()
            if i >= warm:
                out.append(clock() - t0)
    return out


async def big_client(url: str, expected: int, so_rcvbuf: int | None) -> tuple[int, float, Any]:
    """Receive ``expected`` large messages; (bytes, seconds, socket_buffers)."""
    from nexus_net import ws
    conn = await ws.connect(url, ping_interval=None, so_rcvbuf=so_rcvbuf, max_message_size=64 * 1024 * 1024,
                            limit=64 * 1024 * 1024)
    buffers = conn.socket_buffers
    n = got = 0
    t0 = time.perf_counter()
    async for msg in conn:
        got += len(msg)
        n += 1
    seconds = time.perf_counter() - t0
    if n != expected:
        raise SystemExit(f"big: {n} of {expected} messages")
    return got, seconds, buffers


async def broadcast_client(url: str, conns: int, expected_each: int) -> tuple[int, float]:
    """``conns`` listener connections counting messages; (delivered, seconds
    from the first message to the last)."""
    from nexus_net import ws
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    total = conns * expected_each
    state = {"n": 0, "t0": 0.0}

    class Count(ws.Listener):
        def on_message(self, conn: Any, msg: Any) -> None:
            if state["n"] == 0:
                state["t0"] = time.perf_counter()
            state["n"] += 1
            if state["n"] == total and not done.done():
                done.set_result(time.perf_counter() - state["t0"])

    opened = []
    for _ in range(conns):
        opened.append(await ws.connect(url, ping_interval=None, listener=Count()))
    try:
        seconds = await asyncio.wait_for(done, 120)
    except asyncio.TimeoutError:
        seconds = float("nan")
    for conn in opened:
        conn.transport_.abort()
    return state["n"], seconds


# =============================================================================
# Driver
# =============================================================================

def push_once(kind: str, client: Any, n: int, prefix: list[str] | None = None) -> float:
    """One push of ``n`` messages from a ``kind`` server process (on CPU 1,
    under ``prefix`` if given) to ``client`` here: seconds, every message
    counted."""
    server = ServerProcess(kind, 1, n, prefix=prefix)
    try:
        got, seconds = L.run(client(server.url, n))
    finally:
        server.stop()
    if got != n:
        raise SystemExit(f"{kind}: the client counted {got} of {n}")
    return seconds


def push(args: argparse.Namespace) -> list[tuple[str, float, list[float]]]:
    contenders = [
        ("nexus-net server -> nexus-net client (await send_binary, coalesced)", "nexus-push", L.tput_nexus, 1),
        ("nexus-net server -> nexus-net callback client (ws.Listener, like picows's)", "nexus-push",
         L.tput_nexus_listener, 1),
        ("nexus-net server -> raw socket reader (bytes counted, nothing parsed)", "nexus-push", L.tput_raw, 1),
        ("nexus-net server -> nexus-net client (coalescing off)", "nexus-push-direct", L.tput_nexus, 1),
        ("picows server -> picows client (transport.send)", "picows-push", L.tput_picows, 1),
        ("picows server -> raw socket reader (bytes counted, nothing parsed)", "picows-push", L.tput_raw, 1),
        ("websockets server -> websockets client (await send)", "websockets-push", L.tput_websockets, 4),
    ]
    rates: dict[str, list[float]] = {name: [] for name, *_ in contenders}
    for rep in range(args.reps):
        order = contenders[rep % len(contenders):] + contenders[:rep % len(contenders)]
        for name, kind, client, divide in order:
            n = args.messages // divide
            seconds = push_once(kind, client, n)
            rates[name].append(n / seconds)
            print(f"    rep {rep + 1}: {name:<70} {n / seconds:>12,.0f} msg/s", file=sys.stderr, flush=True)
    floor = [L.run(await_floor(args.messages)) for _ in range(args.reps)]
    rates["floor: a loop of one C call + one await of a complete awaitable, no I/O (in process)"] = floor
    return [(name, statistics.median(v), v) for name, v in rates.items()]


async def await_floor(n: int) -> float:
    """The interpreter's floor for "one call and one await per message": a
    loop calling a C method and awaiting an already-complete awaitable, no I/O
    at all (our send_* return such an awaitable). Messages per second."""
    from nexus_net._waiter import Ready
    ready, call = Ready(), {}.get
    t0 = time.perf_counter()
    for _ in range(n):
        call(PAYLOAD)
        await ready
    return n / (time.perf_counter() - t0)


def round_trip(args: argparse.Namespace) -> list[tuple[str, dict[str, float], list[float]]]:
    contenders = [("coalescing on (default)", "nexus-echo", True),
                  ("coalescing off", "nexus-echo-direct", False)]
    samples: dict[str, list[int]] = {name: [] for name, *_ in contenders}
    medians: dict[str, list[float]] = {name: [] for name, *_ in contenders}
    servers = {kind: ServerProcess(kind, 0, 0) for _, kind, _ in contenders}
    try:
        for rep in range(args.reps):
            order = contenders if rep % 2 == 0 else contenders[::-1]
            for name, kind, coalesce in order:
                got = L.run(rtt_nexus(servers[kind].url, args.round_trips, args.warmup, coalesce))
                samples[name] += got
                medians[name].append(statistics.median(got) / 1000)
                print(f"    rep {rep + 1}: {name:<30} p50 {medians[name][-1]:7.1f} us", file=sys.stderr, flush=True)
    finally:
        for server in servers.values():
            server.stop()
    return [(name, {"p50": statistics.median(medians[name]), "p99": pct(samples[name], 0.99),
                    "p999": pct(samples[name], 0.999)}, medians[name]) for name, *_ in contenders]


def broadcasts(args: argparse.Namespace) -> list[tuple[str, int, float, list[float], str]]:
    rows = []
    for burst in (1, 50, args.broadcasts):
        contenders = [("ws.broadcast (nexus-net)", "nexus-broadcast"),
                      ("websockets.broadcast", "websockets-broadcast")]
        rates: dict[str, list[float]] = {name: [] for name, _ in contenders}
        notes: dict[str, str] = {name: "" for name, _ in contenders}
        for rep in range(args.reps):
            for name, kind in (contenders if rep % 2 == 0 else contenders[::-1]):
                server = ServerProcess(kind, 1, args.broadcasts, args.conns, burst)
                try:
                    got, seconds = L.run(broadcast_client(server.url, args.conns, args.broadcasts))
                finally:
                    err = server.stop()
                print(f"    server: {err.strip()[-200:]}", file=sys.stderr, flush=True)
                if got != args.conns * args.broadcasts:
                    notes[name] = f"delivered {got:,} of {args.conns * args.broadcasts:,}"
                    print(f"    {name}: {notes[name]} {err.strip()[-300:]}", file=sys.stderr, flush=True)
                    continue
                rates[name].append(got / seconds)
                print(f"    burst {burst} rep {rep + 1}: {name:<30} {got / seconds:>12,.0f} msg/s",
                      file=sys.stderr, flush=True)
        for name, _ in contenders:
            v = rates[name]
            rows.append((name, burst, statistics.median(v) if v else float("nan"), v, notes[name]))
    return rows


def big_messages(args: argparse.Namespace) -> list[tuple[int, str, float, list[float], Any]]:
    rows = []
    for size, count in ((1 << 20, 200), (16 << 20, 16)):
        caps: list[tuple[str, int | None]] = [("default (autotuned)", None), ("128 KiB", 128 * 1024),
                                              ("256 KiB", 256 * 1024), ("1 MiB", 1 << 20)]
        rates: dict[str, list[float]] = {name: [] for name, _ in caps}
        seen: dict[str, Any] = {}
        for rep in range(args.reps):
            for name, cap in caps[rep % len(caps):] + caps[:rep % len(caps)]:
                server = ServerProcess(f"nexus-big-{size}", 1, count)
                try:
                    got, seconds, buffers = L.run(big_client(server.url, count, cap))
                finally:
                    server.stop()
                rates[name].append(got / seconds / 1e6)
                seen[name] = buffers
                print(f"    {size >> 20} MiB rep {rep + 1}: SO_RCVBUF {name:<20} {got / seconds / 1e6:8.0f} MB/s",
                      file=sys.stderr, flush=True)
        for name, _ in caps:
            rows.append((size, name, statistics.median(rates[name]), rates[name], seen[name]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--round-trips", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=2_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--conns", type=int, default=1_000)
    ap.add_argument("--broadcasts", type=int, default=1_000)
    ap.add_argument("--burst", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--only", choices=["push", "rtt", "broadcast", "big"])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--serve")
    ap.add_argument("--cpu", type=int, default=0)
    args = ap.parse_args()
    if args.serve:
        L.pin(args.cpu)
        uvloop.run(run_server(args.serve, args.messages, args.conns, args.burst))
        return
    print("machine:", describe(["nexus-net", "picows", "websockets", "uvloop"]))
    L.pin(0)
    md = args.markdown
    if args.only in (None, "push"):
        print(f"\none-way push, 40 B binary, one send per message, server CPU 1, client CPU 0, "
              f"{args.messages:,} messages (websockets: a quarter), median of {args.reps}", flush=True)
        rows = push(args)
        picows = next(rate for name, rate, _ in rows if name.startswith("picows"))
        if md:
            print("\n| server -> client | msg/s (median) | per rep | vs picows |\n|---|---:|---|---:|")
        for name, rate, reps in rows:
            per = " / ".join(f"{r / 1e6:.2f} M" for r in reps)
            print(f"| {name} | {rate:,.0f} | {per} | {rate / picows:.2f}x |" if md
                  else f"  {name:<70}{rate:>14,.0f} msg/s  ({rate / picows:.2f}x picows)")
    if args.only in (None, "rtt"):
        print(f"\nround trip, 40 B echo, client and server on CPU 0, nexus-net both ends, "
              f"{args.round_trips:,} x {args.reps} reps after {args.warmup:,} warm-up, us", flush=True)
        rows2 = round_trip(args)
        off = rows2[1][1]["p50"]
        if md:
            print("\n| writes | p50 us | p99 us | p99.9 us | p50 per rep | p50 vs coalescing off |\n"
                  "|---|---:|---:|---:|---|---:|")
        for name, st, reps in rows2:
            per = " / ".join(f"{r:.1f}" for r in reps)
            print(f"| {name} | {st['p50']:.1f} | {st['p99']:.1f} | {st['p999']:.1f} | {per} | "
                  f"{st['p50'] / off:.3f}x |" if md else
                  f"  {name:<30} p50 {st['p50']:7.1f}  p99 {st['p99']:7.1f}  p99.9 {st['p999']:7.1f}  "
                  f"({st['p50'] / off:.3f}x off)")
    if args.only in (None, "big"):
        print_big(args)
    if args.only in (None, "broadcast"):
        print(f"\nbroadcast: {args.conns:,} connections x {args.broadcasts:,} broadcasts of 40 B, server CPU 1, "
              f"client CPU 0, messages delivered per second (client-side), median of {args.reps}", flush=True)
        rows3 = broadcasts(args)
        if md:
            print("\n| broadcast | broadcasts per loop iteration | delivered msg/s | per rep | vs websockets |\n"
                  "|---|---:|---:|---|---:|")
        for name, burst, rate, reps, note in rows3:
            base = next(r for n, b, r, _, _ in rows3 if b == burst and n.startswith("websockets"))
            per = " / ".join(f"{r / 1e6:.2f} M" for r in reps) + (f" ({note})" if note else "")
            print(f"| {name} | {burst} | {rate:,.0f} | {per} | {rate / base:.2f}x |" if md else
                  f"  {name:<28} burst {burst:>3}  {rate:>14,.0f} msg/s  ({rate / base:.2f}x websockets) {note}")


def print_big(args: argparse.Namespace) -> None:
    print(f"\nlarge messages, our server -> our client (server CPU 1, client CPU 0), client SO_RCVBUF "
          f"capped or not, MB/s, median of {args.reps}", flush=True)
    rows = big_messages(args)
    if args.markdown:
        print("\n| message | client SO_RCVBUF asked | kernel rcvbuf at connect | MB/s (median) | per rep |\n"
              "|---|---|---:|---:|---|")
    for size, name, rate, reps, buffers in rows:
        per = " / ".join(f"{r:.0f}" for r in reps)
        print(f"| {size >> 20} MiB | {name} | {buffers.rcvbuf:,} | {rate:,.0f} | {per} |" if args.markdown else
              f"  {size >> 20:>2} MiB  {name:<20} rcvbuf {buffers.rcvbuf:>10,}  {rate:8.0f} MB/s")


if __name__ == "__main__":
    main()
