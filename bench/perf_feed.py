"""Feed-client benchmark: the Listener callback API, the listener server,
receive timestamps, and reconnecting after a server restart.

    python bench/perf_feed.py [--round-trips 20000] [--warmup 2000] [--reps 3] [--restarts 10] [--markdown]
    python bench/perf_feed.py --only rtt --split      # also the round trips with the server on CPU 1

Round trips (1-4): a 40 B binary echo, one message in flight, each timed with
perf_counter_ns after a warm-up. Client (this process) and server (a process
started by the script) pinned to the same core, as in perf_loopback.py. The
contenders of one table run in the same run, the order rotating every
repetition; p50 is the median of the per-repetition medians, p99 and p99.9
are over all samples.

1. Callback clients against the same picows echo server: our ``ws.Listener``
   client (``on_message`` sends the next message with ``conn.send_binary``,
   no await) vs picows's ``WSListener`` client (``on_ws_frame``).
2. picows's callback client against our listener server (``ws.serve(None,
   ..., listener_factory=...)``, ``on_message`` echoes with ``send_binary``)
   vs against picows's server.
3. Our ``await conn.send_binary(p); await conn.recv()`` client against the
   picows server vs the await floor: a raw uvloop Protocol client sending a
   pre-masked frame and awaiting one asyncio Future per reply, resolved in
   ``data_received`` (perf_loopback.rtt_raw_await).
4. The same ``recv()`` round trip with receive timestamps on (the default)
   vs off (``conn.timestamps = False`` right after connect).

Restart (5): our server process (on a fixed port chosen beforehand) sends one
TEXT message per connection from ``on_open``; the client is ``ws.connect(url,
reconnect=True, ping_interval=None, backoff_initial=0.05, backoff_max=0.5)``
reading with ``await rc.recv()``. Each cycle SIGKILLs the server, starts a new
one on the same port at once and times kill -> the first message of the new
connection returned by ``recv()`` (also: kill -> the new server listening,
and the backoff delays the client drew). The delay before each attempt is
uniform in [0, ceiling], the ceiling doubling per consecutive failure.

Everything runs on uvloop. Never a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Awaitable, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import uvloop  # noqa: E402

import perf_loopback as L  # noqa: E402
from _machine import describe  # noqa: E402
from _stats import pct  # noqa: E402

PAYLOAD_SIZE = 40
NOTES: dict[str, str] = {}       # anomalies seen while measuring (first of each kind), printed after the tables


# =============================================================================
# Servers (each in its own process: --serve KIND)
# =============================================================================

async def run_server(kind: str, port: int, tag: str) -> None:
    if kind == "picows":
        await L.run_server("picows", 0)      # perf_loopback's picows echo server
        return
    from nexus_net import ws

    if kind == "listener":
        class EchoListener(ws.Listener):
            def on_message(self, conn: Any, msg: Any) -> None:
                conn.send_binary(msg.data)

        factory: Callable[[], Any] = EchoListener
    elif kind == "hello":
        text = f"hello {tag}"

        class Hello(ws.Listener):
            def on_open(self, conn: Any) -> None:
                conn.send_text(text)

        factory = Hello
    else:
        raise SystemExit(f"unknown server {kind}")
    server = await ws.serve(None, "127.0.0.1", port, listener_factory=factory, ping_interval=None)
    print(f"PORT {server.port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def server_argv(kind: str, cpu: int, port: int = 0, tag: str = "") -> list[str]:
    return [sys.executable, __file__, "--serve", kind, "--cpu", str(cpu), "--port", str(port), "--tag", tag]


class ServerProcess:
    """A server process of this script; stopped by closing its stdin."""

    def __init__(self, kind: str, cpu: int) -> None:
        self.proc = subprocess.Popen(server_argv(kind, cpu), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT"):
            raise SystemExit(f"{kind} server failed: {line!r}")
        self.url = f"ws://127.0.0.1:{int(line.split()[1])}/"

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


# =============================================================================
# Round-trip clients: each returns a list of ns per round trip
# (picows's callback client and the await floor are perf_loopback's)
# =============================================================================

async def rtt_listener(url: str, payload: bytes, n: int, warm: int) -> list[int]:
    """Our callback client: the next message is sent from on_message."""
    from nexus_net import ws
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    out: list[int] = []
    clock = time.perf_counter_ns

    class Client(ws.Listener):
        last = b""

        def on_open(self, conn: Any) -> None:
            self.i = 0
            self.t0 = clock()
            conn.send_binary(payload)

        def on_message(self, conn: Any, msg: Any) -> None:
            t1 = clock()
            if self.i >= warm:
                out.append(t1 - self.t0)
            self.i += 1
            if self.i == warm + n:
                self.last = bytes(msg)
                done.set_result(None)
                return
            self.t0 = clock()
            conn.send_binary(payload)

        def on_close(self, conn: Any, code: int, reason: str) -> None:
            if not done.done():
                done.set_exception(RuntimeError(f"closed with {code} {reason!r} after {self.i} messages"))

    listener = Client()
    conn = await ws.connect(url, listener=listener, ping_interval=None)
    await done
    await conn.close()
    if listener.last != payload:
        raise SystemExit(f"listener client: echo mismatch {listener.last!r}")
    return out


async def rtt_recv(url: str, payload: bytes, n: int, warm: int, timestamps: bool = True) -> list[int]:
    """Our awaiting client; ``timestamps=False`` turns receive timestamps off."""
    from nexus_net import ws
    out = []
    clock = time.perf_counter_ns
    conn = await ws.connect(url, ping_interval=None)
    conn.timestamps = timestamps
    send, recv = conn.send_binary, conn.recv
    msg = None
    for i in range(warm + n):
        t0 = clock()
        await send(payload)
        msg = await recv()
        if i >= warm:
            out.append(clock() - t0)
    now = time.time_ns()
    await conn.close()
    if msg is None or bytes(msg) != payload:
        raise SystemExit(f"recv client (timestamps={timestamps}): last message {msg!r}")
    if timestamps and not msg.received_ns:
        NOTES.setdefault("ts-on", "timestamps on: the last message has no received_ns")
    elif not timestamps and msg.received_ns:
        NOTES.setdefault("ts-off", f"timestamps off: messages still carry a received_ns (the last one "
                         f"{(now - msg.received_ns) / 1e6:,.0f} ms older than its reply: the time of a read "
                         f"before timestamps were turned off)")
    return out


async def rtt_recv_no_ts(url: str, payload: bytes, n: int, warm: int) -> list[int]:
    return await rtt_recv(url, payload, n, warm, timestamps=False)


# (title, baseline row, rows: (name, client, server kind))
Group = tuple[str, str, list[tuple[str, Callable[..., Awaitable[list[int]]], str]]]
GROUPS: list[Group] = [
    ("1. callback clients -> picows echo server", "picows client (on_ws_frame)", [
        ("nexus-net client (ws.Listener.on_message)", rtt_listener, "picows"),
        ("picows client (on_ws_frame)", L.rtt_picows, "picows"),
    ]),
    ("2. picows callback client -> listener servers", "-> picows server", [
        ("-> nexus-net listener server", L.rtt_picows, "listener"),
        ("-> picows server", L.rtt_picows, "picows"),
    ]),
    ("3. awaiting clients -> picows echo server", "raw uvloop + await Future (floor)", [
        ("nexus-net await send_binary(); await recv()", rtt_recv, "picows"),
        ("raw uvloop + await Future (floor)", L.rtt_raw_await, "picows"),
    ]),
    ("4. receive timestamps, await recv() -> picows echo server", "timestamps off (conn.timestamps = False)", [
        ("timestamps on (default)", rtt_recv, "picows"),
        ("timestamps off (conn.timestamps = False)", rtt_recv_no_ts, "picows"),
    ]),
]


def round_trips(server_cpu: int, args: argparse.Namespace) -> list[tuple[str, str, list[tuple[str, dict[str, Any]]]]]:
    servers = {kind: ServerProcess(kind, server_cpu) for kind in ("picows", "listener")}
    payload = os.urandom(PAYLOAD_SIZE)
    tables = []
    try:
        for title, baseline, rows in GROUPS:
            samples: dict[str, list[int]] = {name: [] for name, _, _ in rows}
            p50s: dict[str, list[float]] = {name: [] for name, _, _ in rows}
            for rep in range(args.reps):
                for name, fn, kind in rows[rep % len(rows):] + rows[:rep % len(rows)]:
                    got = L.run(fn(servers[kind].url, payload, args.round_trips, args.warmup))
                    samples[name].extend(got)
                    p50s[name].append(pct(got, 0.5))
                    print(f"    {title[:2]} rep {rep + 1}: {name:<46} p50 {pct(got, 0.5):7.1f} us",
                          file=sys.stderr, flush=True)
            stats = []
            for name, _, _ in rows:
                s = samples[name]
                stats.append((name, {"p50": statistics.median(p50s[name]), "p99": pct(s, 0.99),
                                     "p999": pct(s, 0.999), "reps": p50s[name], "n": len(s)}))
            tables.append((title, baseline, stats))
    finally:
        for s in servers.values():
            s.stop()
    return tables


def print_rtt(tables: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]], md: bool) -> None:
    for title, baseline, stats in tables:
        base = dict(stats)[baseline]["p50"]
        print(f"\n**{title}**\n" if md else f"\n  {title}")
        if md:
            print("| contender | p50 us | p99 us | p99.9 us | p50 per rep | p50 vs "
                  f"{baseline} |\n|---|---:|---:|---:|---|---:|")
        for name, st in stats:
            reps = " / ".join(f"{v:.1f}" for v in st["reps"])
            ratio = st["p50"] / base
            if md:
                print(f"| {name} | {st['p50']:.1f} | {st['p99']:.1f} | {st['p999']:.1f} | {reps} | {ratio:.3f}x |")
            else:
                print(f"    {name:<46} p50 {st['p50']:7.1f}  p99 {st['p99']:7.1f}  p99.9 {st['p999']:7.1f}  "
                      f"(reps {reps})  {ratio:.3f}x")


# =============================================================================
# Restart -> first message of the new connection
# =============================================================================

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_hello(port: int, tag: str, cpu: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(*server_argv("hello", cpu, port, tag),
                                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = await proc.stdout.readline()
    if not line.startswith(b"PORT"):
        raise SystemExit(f"hello server {tag} failed: {line!r}")
    return proc


async def restarts(cycles: int, cpu: int, settle: float) -> list[dict[str, Any]]:
    from nexus_net import ws
    port = free_port()
    url = f"ws://127.0.0.1:{port}/"
    proc = await start_hello(port, "0", cpu)
    rc = await ws.connect(url, reconnect=True, ping_interval=None, backoff_initial=0.05, backoff_max=0.5)
    delays: list[float] = []

    async def recorded_sleep(seconds: float) -> None:    # the backoff delays the client draws
        delays.append(seconds)
        await asyncio.sleep(seconds)

    rc.attempts.sleep = recorded_sleep
    first = await rc.recv()
    if first is None or first.text() != "hello 0":
        raise SystemExit(f"first message {first!r}")
    out = []

    async def next_message() -> tuple[Any, int]:
        msg = await rc.recv()
        return msg, time.time_ns()

    try:
        for cycle in range(1, cycles + 1):
            await asyncio.sleep(settle)
            reader = asyncio.ensure_future(next_message())
            await asyncio.sleep(0)                           # the reader is waiting in recv()
            del delays[:]
            failures_before = rc.attempts.backoff.failures
            t_kill = time.time_ns()
            proc.kill()
            await proc.wait()
            proc = await start_hello(port, str(cycle), cpu)
            t_ready = time.time_ns()
            msg, t_recv = await asyncio.wait_for(reader, 30)
            if msg is None or msg.text() != f"hello {cycle}":
                raise SystemExit(f"cycle {cycle}: got {msg!r}")
            row = {"total": (t_recv - t_kill) / 1e6, "ready": (t_ready - t_kill) / 1e6,
                   "read": (msg.received_ns - t_kill) / 1e6 if msg.received_ns else float("nan"),
                   "delays": [d * 1000 for d in delays], "failures_before": failures_before,
                   "reconnects": rc.reconnects}
            out.append(row)
            print(f"    restart {cycle}: kill -> first message {row['total']:7.1f} ms (server listening after "
                  f"{row['ready']:.1f} ms; delays drawn {', '.join(f'{d:.1f}' for d in row['delays'])} ms)",
                  file=sys.stderr, flush=True)
    finally:
        await rc.close()
        proc.stdin.close()
        proc.kill()
        await proc.wait()
    return out


def print_restarts(rows: list[dict[str, Any]], md: bool) -> None:
    def line(label: str, values: list[float]) -> str:
        med, mx, mn = statistics.median(values), max(values), min(values)
        if md:
            return f"| {label} | {med:.1f} | {mn:.1f} | {mx:.1f} |"
        return f"    {label:<58} median {med:7.1f}  min {mn:7.1f}  max {mx:7.1f}"

    attempts = [len(r["delays"]) for r in rows]
    if md:
        print("| ms from SIGKILL to ... | median | min | max |\n|---|---:|---:|---:|")
    print(line("the first message of the new connection returned by recv()", [r["total"] for r in rows]))
    print(line("that message read from the socket (msg.received_ns)", [r["read"] for r in rows]))
    print(line("the new server process listening", [r["ready"] for r in rows]))
    print(line("(first message) - (server listening)", [r["total"] - r["ready"] for r in rows]))
    if md:
        print("\n| cycle | kill -> message ms | kill -> listening ms | backoff delays drawn (ms) |"
              "\n|---:|---:|---:|---|")
        for i, r in enumerate(rows, 1):
            print(f"| {i} | {r['total']:.1f} | {r['ready']:.1f} | {', '.join(f'{d:.1f}' for d in r['delays'])} |")
        print()
    else:
        for i, r in enumerate(rows, 1):
            print(f"    cycle {i:>2}: {r['total']:7.1f} ms, listening after {r['ready']:6.1f} ms, "
                  f"delays {', '.join(f'{d:.1f}' for d in r['delays'])} ms")
    print(f"{'' if md else '    '}backoff delays drawn per restart: median {statistics.median(attempts):g}, "
          f"max {max(attempts)} (the first after the drop, then one per refused attempt); "
          f"consecutive-failure count when each cycle began: {[r['failures_before'] for r in rows]}")


# =============================================================================
# In memory: what receive timestamps and stats cost on the parse path
# =============================================================================

def in_memory(reps: int, md: bool) -> None:
    """ns per 40 B message: the codec alone (FrameReader), the Session on top
    of it with timestamps off and on (one clock read per 'read' of 64
    frames, a stamp and the stats counters per message). Alternating, same run."""
    from nexus_net import ws
    frame = ws.pair(ws.Role.SERVER)[1].encode_binary(b"x" * PAYLOAD_SIZE)
    per_read, reads = 64, 4000
    chunk = frame * per_read

    def codec() -> int:
        reader = ws.FrameReader(ws.Role.CLIENT)
        t0 = time.perf_counter_ns()
        for _ in range(reads):
            reader.feed(chunk)
            while reader.next() is not None:
                pass
        return time.perf_counter_ns() - t0

    def session(stamps: bool) -> Callable[[], int]:
        def run() -> int:
            s = ws.Session(ws.Role.CLIENT)
            s.timestamps = stamps
            feed, nxt, before, after = s.reader.feed, s.next, s.before_read, s.after_read
            t0 = time.perf_counter_ns()
            for _ in range(reads):
                before()
                feed(chunk)
                after()
                while nxt() is not None:
                    pass
            return time.perf_counter_ns() - t0
        return run

    contenders = [("FrameReader alone (the codec)", codec),
                  ("Session, timestamps off", session(False)),
                  ("Session, timestamps on (default)", session(True))]
    results: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for rep in range(reps * 3):
        order = contenders[rep % 3:] + contenders[:rep % 3]
        for name, fn in order:
            results[name].append(fn() / (reads * per_read))
    base = statistics.median(results["Session, timestamps off"])
    print(f"\nin memory, {PAYLOAD_SIZE} B binary frames, {per_read} per read, {reads * per_read:,} messages "
          f"x {reps * 3} runs, ns per message (median)\n")
    if md:
        print("| path | ns/msg | vs Session, timestamps off |\n|---|---:|---:|")
    for name, _ in contenders:
        med = statistics.median(results[name])
        if md:
            print(f"| {name} | {med:.1f} | {med / base:.3f}x |")
        else:
            print(f"  {name:<36} {med:7.1f} ns  {med / base:.3f}x")


# =============================================================================
# Driver
# =============================================================================

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--round-trips", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=2_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--restarts", type=int, default=10)
    ap.add_argument("--settle", type=float, default=0.3, help="seconds connected before each kill")
    ap.add_argument("--only", choices=["rtt", "restart", "memory"])
    ap.add_argument("--split", action="store_true", help="also run the round trips with the server on CPU 1")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--cpu", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--tag", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        L.pin(args.cpu)
        uvloop.run(run_server(args.serve, args.port, args.tag))
        return

    md = args.markdown
    print("machine:", describe(["nexus-net", "picows", "uvloop"]))
    L.pin(0)
    if args.only in (None, "memory"):
        in_memory(args.reps, md)
    if args.only in (None, "rtt"):
        placements = [("same core (client and server on CPU 0)", 0)]
        if args.split:
            placements.append(("split cores (client CPU 0, server CPU 1)", 1))
        for label, cpu in placements:
            print(f"\n{PAYLOAD_SIZE} B binary echo round trip, {label}, {args.round_trips:,} round trips x "
                  f"{args.reps} reps after {args.warmup:,} warm-up, us", flush=True)
            print_rtt(round_trips(cpu, args), md)
        for note in NOTES.values():
            print(f"\n{'' if md else '  '}note: {note}")
    if args.only in (None, "restart"):
        print(f"\nserver restart -> first message of the new connection, {args.restarts} SIGKILL restarts, "
              f"client and server on CPU 0, reconnect=True, backoff_initial=0.05, backoff_max=0.5\n", flush=True)
        print_restarts(uvloop.run(restarts(args.restarts, 0, args.settle)), md)


if __name__ == "__main__":
    main()
