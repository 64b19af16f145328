"""Soak run (issue 12, part 5): many connections, many messages each way.

    python tests/soak.py [--conns 1000] [--messages 2000] [--loop uvloop|asyncio] [--seed 1]

One process holds both sides on 127.0.0.1: ``ws.serve`` and ``--conns``
``ws.connect`` clients, keepalive on (the defaults). On every connection each
side sends ``--messages`` messages while it reads the other side's, with
random sizes (mostly small, some of several KiB, a few of tens of KiB, so
the coalescer's direct, buffered and large-frame paths all run) and random
kinds (binary, some text); a random tenth of the readers on each side are
slow (they pause now and then, so writers meet flow control).

The messages go in ``--rounds`` rounds; every side of every connection
waits for all the others at the end of a round, so nothing is in flight
there, and RSS is read then (after a full collection): one sample per
round. Without rounds, RSS would measure how far behind the readers are at
that instant (on a saturated loop, megabytes per connection), not what the
library keeps.

Every message carries (connection, sequence) and a payload derived from
both, and the reader checks all three: nothing lost, duplicated, reordered or
corrupted. The clients close (1000) after the last round.

It prints one JSON object (``tests/test_ws_soak.py`` runs it as a
subprocess, so the RSS and the fd table are this run's alone):

* ``delivered`` per direction and ``errors`` (first few);
* ``rss``: RSS in bytes at the end of each round, and ``live_rss``: the
  same after ``malloc_trim`` (the allocator keeps the peak of a burst; this
  is what is still in use, where a leak would show);
* ``fds_before``/``fds_after``, ``tasks_after``: what is left once every
  connection is closed and the server is shut down.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import random
import struct
import sys
import time

from nexus_net import ws

HEADER = struct.Struct("!II")           # connection id, sequence number
PATTERN = random.Random(0x50A4).randbytes(64 * 1024)
TEXT_PATTERN = bytes(65 + b % 26 for b in PATTERN).decode()   # ASCII: valid UTF-8


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


try:
    _libc = ctypes.CDLL("libc.so.6")
    _trim = _libc.malloc_trim
except (OSError, AttributeError):           # not glibc
    _trim = None


def live_rss_bytes() -> int:
    """RSS once the allocator has handed its free memory back (glibc's
    malloc_trim): what is in use, not the high-water mark of a burst."""
    if _trim is not None:
        _trim(0)
    return rss_bytes()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def message_size(roll: float) -> int:
    """A size from one uniform draw: 85% up to 120 B, 14% up to 4 KB, 1% up
    to 40 KB (some above the 16 KiB large-frame line)."""
    if roll < 0.85:
        return int(roll * (120 / 0.85))
    if roll < 0.99:
        return 120 + int((roll - 0.85) * (3880 / 0.14))
    return 4000 + int((roll - 0.99) * (36000 / 0.01))


def offset_of(conn_id: int, seq: int, size: int) -> int:
    return (conn_id * 7919 + seq * 104729) % (len(PATTERN) - size)


class Tally:
    def __init__(self) -> None:
        self.delivered = 0
        self.errors: list[str] = []

    def error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text)


class Rounds:
    """Every participant waits in ``end(i)`` until all have ended round i
    (asyncio.Barrier is 3.11+); the last one in samples RSS."""

    def __init__(self, parties: int, rounds: int) -> None:
        self.parties = parties
        self.arrived = [0] * rounds
        self.passed = [asyncio.Event() for _ in range(rounds)]
        self.rss: list[int] = []
        self.live_rss: list[int] = []

    async def end(self, i: int) -> None:
        self.arrived[i] += 1
        if self.arrived[i] == self.parties:
            gc.collect()
            self.rss.append(rss_bytes())
            self.live_rss.append(live_rss_bytes())
            self.passed[i].set()
        await self.passed[i].wait()


def spans(messages: int, rounds: int) -> list[range]:
    step = -(-messages // rounds)
    return [range(i, min(i + step, messages)) for i in range(0, messages, step)]


async def exchange(conn, conn_id: int, messages: int, rounds: Rounds, rng: random.Random,
                   tally: Tally) -> None:
    """Both directions of one side of a connection, round after round."""
    slow = rng.random() < 0.1
    read_rng = random.Random(rng.random())
    for i, seqs in enumerate(spans(messages, len(rounds.passed))):
        await asyncio.gather(send_all(conn, conn_id, seqs, rng),
                             read_all(conn, conn_id, seqs, slow, read_rng, tally))
        await rounds.end(i)


async def send_all(conn, conn_id: int, seqs: range, rng: random.Random) -> None:
    rand = rng.random
    for seq in seqs:
        size = message_size(rand())
        off = offset_of(conn_id, seq, size)
        if rand() < 0.1:
            await conn.send_text(f"{conn_id:08d}{seq:08d}" + TEXT_PATTERN[off:off + size])
        else:
            await conn.send_binary(HEADER.pack(conn_id, seq) + PATTERN[off:off + size])


async def read_all(conn, conn_id: int, seqs: range, slow: bool, rng: random.Random,
                   tally: Tally) -> None:
    for seq in seqs:
        msg = await conn.recv()
        if msg is None:
            tally.error(f"conn {conn_id}: closed before message {seq}")
            return
        if msg.kind is ws.Kind.TEXT:
            text = msg.text()
            got_id, got_seq, body = int(text[:8]), int(text[8:16]), text[16:]
            off = offset_of(conn_id, seq, len(body))
            ok = body == TEXT_PATTERN[off:off + len(body)]
        else:
            data = msg.data                    # (zero-copy; compared as bytes:
            got_id, got_seq = HEADER.unpack_from(data)   # memoryview == is per item)
            size = len(data) - HEADER.size
            off = offset_of(conn_id, seq, size)
            ok = bytes(data[HEADER.size:]) == PATTERN[off:off + size]
        if (got_id, got_seq) != (conn_id, seq) or not ok:
            tally.error(f"conn {conn_id}: expected message {seq}, got {got_id}/{got_seq} "
                        f"(payload {'intact' if ok else 'corrupted'})")
            return
        tally.delivered += 1
        if slow and rng.random() < 0.02:
            await asyncio.sleep(rng.uniform(0.0, 0.004))


async def warm_up() -> None:
    """One connection and one message each way before counting fds: the
    loop opens some on first use and keeps them (uvloop's resolver pool
    wake-up, for one), which is not a leak of ours."""
    async def echo(conn) -> None:
        async for msg in conn:
            await conn.send_binary(msg.data)

    async with await ws.serve(echo, "127.0.0.1", 0) as server:
        async with await ws.connect(f"ws://127.0.0.1:{server.port}/") as conn:
            await conn.send_binary(b"warm-up")
            assert (await conn.recv()).bytes() == b"warm-up"
    gc.collect()


async def soak(conns: int, messages: int, rounds_count: int, seed: int) -> dict:
    to_server, to_client = Tally(), Tally()
    rounds = Rounds(2 * conns, rounds_count)
    await warm_up()
    fds_before = open_fds()
    tasks_before = len(asyncio.all_tasks())

    async def handler(conn) -> None:
        # the client's first message names its connection id
        first = await conn.recv()
        conn_id = int(first.text())
        rng = random.Random(seed * 1_000_003 + conn_id * 2 + 1)
        await exchange(conn, conn_id, messages, rounds, rng, to_server)
        async for _ in conn:                   # until the client's close
            to_server.error(f"conn {conn_id}: a message after the last one")

    server = await ws.serve(handler, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.port}/"
    closes: list[int | None] = []
    gate = asyncio.Semaphore(100)              # connects in flight (the listen backlog is ~100)

    async def client(conn_id: int) -> None:
        rng = random.Random(seed * 1_000_003 + conn_id * 2)
        async with gate:
            conn = await ws.connect(url)
        await conn.send_text(str(conn_id))
        await exchange(conn, conn_id, messages, rounds, rng, to_client)
        await conn.close()
        closes.append(conn.close_code)

    began = time.monotonic()
    results = await asyncio.gather(*(client(i) for i in range(conns)), return_exceptions=True)
    took = time.monotonic() - began
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    server.close()
    await asyncio.wait_for(server.wait_closed(), 30)
    del results
    gc.collect()
    await asyncio.sleep(0)                     # let transports finish closing their sockets
    return {
        "conns": conns, "messages": messages, "seconds": round(took, 2),
        "delivered": {"to_server": to_server.delivered, "to_client": to_client.delivered},
        "errors": to_server.errors + to_client.errors + failures[:10],
        "close_codes": sorted(set(closes)), "closed": len(closes),
        "rss": rounds.rss, "live_rss": rounds.live_rss,
        "fds_before": fds_before, "fds_after": open_fds(),
        "tasks_before": tasks_before, "tasks_after": len(asyncio.all_tasks()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.loop == "uvloop":
        import uvloop
        runner = uvloop.run
    else:
        runner = asyncio.run
    report = runner(soak(args.conns, args.messages, args.rounds, args.seed))
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
