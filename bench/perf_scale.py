"""Scale benchmark (issue 12): many idle connections in one process.

    python bench/perf_scale.py [--counts 1000,10000] [--idle 10] [--ping-interval 5] [--markdown]

For each count N: a server process (``ws.serve``, a handler reading with
``async for``, keepalive on) and this process as the client side (N
``ws.connect(..., listener=...)`` connections, keepalive on, so pings are
answered inside the receive callback). Measured:

* connects per second (N opening handshakes, 200 in flight at a time);
* RSS per idle connection on each side: (RSS with N open - RSS before) / N,
  after a full garbage collection, read from /proc: right after opening, and
  again after the idle window (every connection pinged at least once);
* keepalive CPU: both processes' CPU time over ``--idle`` seconds of idle
  connections, as % of one core. ``--ping-interval`` 5 s is 4x the default
  (20 s) ping rate, to see the cost in a short run;
* one ``server.broadcast()`` to all N: time until every client got it;
* ``server.close()``: time until every client saw its 1001 close frame.

Linux only (/proc). The fd limit here is 20,000 per process; N must stay
below it. Never a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import uvloop  # noqa: E402

from _machine import describe  # noqa: E402


def rss_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# =============================================================================
# Server process: commands on stdin, answers on stdout
# =============================================================================

async def run_server(ping_interval: float) -> None:
    from nexus_net import ws
    loop = asyncio.get_running_loop()

    async def handler(conn: Any) -> None:
        async for _ in conn:
            pass

    server = await ws.serve(handler, "127.0.0.1", 0, ping_interval=ping_interval, ping_timeout=ping_interval,
                            backlog=4096, close_timeout=10)
    print(f"PORT {server.port}", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "rss":
            gc.collect()
            print(f"RSS {rss_kib()} {len(server.connections)}", flush=True)
        elif line == "broadcast":
            skipped = server.broadcast("tick")
            print(f"SKIPPED {skipped}", flush=True)
        elif line == "close":
            t0 = time.perf_counter()
            server.close()
            await server.wait_closed()
            print(f"CLOSED {time.perf_counter() - t0:.3f}", flush=True)
        elif line == "quit":
            break


class Server:
    def __init__(self, ping_interval: float) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", "--ping-interval", str(ping_interval)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.ask(None).split()[1])

    def tell(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ask(self, command: str | None) -> str:
        if command is not None:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        try:
            self.ask("quit")
        except (BrokenPipeError, ValueError):
            pass
        self.proc.wait(30)


# =============================================================================
# Client side (this process)
# =============================================================================

async def measure(n: int, idle: float, ping_interval: float, server: Server) -> dict[str, float]:
    from nexus_net import ws
    loop = asyncio.get_running_loop()
    got = {"ticks": 0, "closes": 0}
    all_ticks = loop.create_future()
    all_closed = loop.create_future()

    class Client(ws.Listener):
        def on_message(self, conn: Any, msg: Any) -> None:
            got["ticks"] += 1
            if got["ticks"] == n and not all_ticks.done():
                all_ticks.set_result(time.perf_counter())

        def on_close(self, conn: Any, code: Any, reason: Any) -> None:
            if code == 1001:
                got["closes"] += 1
                if got["closes"] == n and not all_closed.done():
                    all_closed.set_result(time.perf_counter())

    url = f"ws://127.0.0.1:{server.port}/"
    gc.collect()
    client_before = rss_kib()
    server_before = int(server.ask("rss").split()[1])
    conns: list[Any] = []
    sem = asyncio.Semaphore(200)

    async def open_one() -> None:
        async with sem:
            conns.append(await ws.connect(url, ping_interval=ping_interval, ping_timeout=ping_interval,
                                          listener=Client()))

    t0 = time.perf_counter()
    await asyncio.gather(*(open_one() for _ in range(n)))
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(0.5)
    gc.collect()
    client_after = rss_kib()
    answer = server.ask("rss").split()
    server_after, server_held = int(answer[1]), int(answer[2])
    cpu0_self, cpu0_server, w0 = cpu_seconds(), cpu_seconds(server.proc.pid), time.perf_counter()
    await asyncio.sleep(idle)
    wall = time.perf_counter() - w0
    cpu_self = (cpu_seconds() - cpu0_self) / wall * 100
    cpu_server = (cpu_seconds(server.proc.pid) - cpu0_server) / wall * 100
    alive = sum(1 for c in conns if not c.closed)
    gc.collect()
    client_idle = rss_kib()
    server_idle = int(server.ask("rss").split()[1])
    t1 = time.perf_counter()
    skipped = int(server.ask("broadcast").split()[1])
    broadcast_s = await asyncio.wait_for(all_ticks, 60) - t1
    t2 = time.perf_counter()
    server.tell("close")                  # (not ask: the server waits for our close replies)
    close_s = await asyncio.wait_for(all_closed, 60) - t2
    closed_answer = server.ask(None)
    for c in conns:
        c.transport_.abort()
    return {"n": n, "connect_s": connect_s, "connects_per_s": n / connect_s,
            "client_kib_per_conn": (client_after - client_before) / n,
            "server_kib_per_conn": (server_after - server_before) / n, "server_held": server_held,
            "client_kib_after_idle": (client_idle - client_before) / n,
            "server_kib_after_idle": (server_idle - server_before) / n,
            "cpu_client_pct": cpu_self, "cpu_server_pct": cpu_server, "alive_after_idle": alive,
            "broadcast_ms": broadcast_s * 1000, "skipped": skipped, "close_ms": close_s * 1000,
            "server_close_reported_s": float(closed_answer.split()[1])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="1000,10000")
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--ping-interval", type=float, default=5.0)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    if args.serve:
        uvloop.run(run_server(args.ping_interval))
        return
    print("machine:", describe(["nexus-net", "uvloop"]))
    rows = []
    for n in (int(x) for x in args.counts.split(",")):
        server = Server(args.ping_interval)
        try:
            rows.append(uvloop.run(measure(n, args.idle, args.ping_interval, server)))
        finally:
            server.stop()
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    print(f"\nidle connections, keepalive every {args.ping_interval:g} s (ping_timeout the same), "
          f"{args.idle:g} s idle window, uvloop")
    if args.markdown:
        print("\n| connections | connects/s | RSS/conn client KiB (opened / after idle) | RSS/conn server KiB "
              "(opened / after idle) | keepalive CPU client | keepalive CPU server | alive after idle | "
              "broadcast to all | server.close() -> all saw 1001 |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if args.markdown:
            print(f"| {r['n']:,} | {r['connects_per_s']:,.0f} | {r['client_kib_per_conn']:.1f} / "
                  f"{r['client_kib_after_idle']:.1f} | {r['server_kib_per_conn']:.1f} / {r['server_kib_after_idle']:.1f} | "
                  f"{r['cpu_client_pct']:.2f} % | {r['cpu_server_pct']:.2f} % | "
                  f"{r['alive_after_idle']:,} | {r['broadcast_ms']:.0f} ms ({r['skipped']} skipped) | "
                  f"{r['close_ms']:.0f} ms |")
        else:
            print(f"  {r}")


if __name__ == "__main__":
    main()
