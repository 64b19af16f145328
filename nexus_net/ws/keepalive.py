"""Keepalive pings for every connection of an event loop from one timer.

A task and a sleeping timer per connection cost memory and wake-ups that grow
with the number of connections (10,000 idle connections held 10,000 tasks).
Instead each loop has one ``KeepaliveScheduler``: a heap of deadlines and a
single ``call_at`` armed for the earliest. Deadlines less than
``GRANULARITY`` apart are served by the same wake-up.

No thundering herd: a connection's first ping comes after a random fraction
(between a half and all) of its interval, so connections opened together
(a reconnect storm, a benchmark) ping spread over half an interval, and stay
spread since each keeps its own period.

Per connection, in turn: at the ping deadline, send a PING (remembering how
many bytes had arrived); with a ``timeout``, check at ``timeout`` later: if
neither the pong nor any other byte arrived meanwhile, fail the connection
with 1011 ("keepalive ping timeout"); the next ping is due ``interval`` after
the previous one was sent.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
import weakref
from typing import Any, Callable

from nexus_net._outbuf import turn_of_the_loop

log = logging.getLogger("nexus_net.ws")

GRANULARITY = 0.01
OPEN = 1                 # Session.state once the handshake is done (ws/_session.pxd)


class Keepalive:
    """One connection's place in the scheduler; ``cancel()`` takes it out
    (lazily: its heap entries are skipped when they come up)."""

    __slots__ = ("conn", "interval", "timeout", "pong", "before", "sent_at", "cancelled")

    def __init__(self, conn: Any, interval: float, timeout: float | None) -> None:
        self.conn = conn
        self.interval = interval
        self.timeout = timeout
        self.pong: Any = None
        self.before = 0
        self.sent_at = 0.0
        self.cancelled = False

    def cancel(self) -> bool:
        self.cancelled = True
        self.conn = self.pong = None        # a closed connection is not kept alive by its entry
        return True

    def due(self, now: float) -> float | None:
        """Run the step that is due; the next deadline, or None to stop."""
        conn = self.conn
        if conn.state != OPEN or conn.lost:
            return None
        if self.pong is None:
            conn.shrink_buffers()                 # idle or after a burst: no receive slab kept
            self.before = conn.bytes_received
            self.sent_at = now
            try:
                pong = conn.ping()
            except Exception as exc:            # closing meanwhile
                log.debug("keepalive ping not sent: %r", exc)
                return None
            started = time.monotonic()          # (uvloop's loop.time() has 1 ms steps)

            def answered(f: Any, conn: Any = conn, t: float = started) -> None:
                conn._pong_seen(f, t)
                conn.shrink_buffers()             # the pong was read: nothing need stay allocated
            pong.add_done_callback(answered)
            if self.timeout is None:
                return now + self.interval
            self.pong = pong
            return now + self.timeout
        pong, self.pong = self.pong, None
        if not pong.done() and conn.bytes_received == self.before:
            # Any bytes from the peer prove it is alive, even if nobody was
            # reading to see the pong.
            log.warning("no answer to a keepalive ping within %.1fs; closing with 1011", self.timeout)
            conn.fail_connection(1011, "keepalive ping timeout")
            return None
        return max(now, self.sent_at + self.interval)


class KeepaliveScheduler:
    """The keepalive pings of one loop: a heap of deadlines, one timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rand: Callable[[], float] = random.random) -> None:
        self.loop = loop
        self.rand = rand
        self.heap: list[tuple[float, int, Keepalive]] = []
        self.order = itertools.count()           # ties never compare Keepalive objects
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.wakeups = 0                         # timer callbacks run (tests, benchmarks)

    def add(self, conn: Any, interval: float, timeout: float | None) -> Keepalive:
        if not interval > 0:
            raise ValueError(f"ping_interval must be positive, got {interval!r}")
        entry = Keepalive(conn, interval, timeout)
        first = self.loop.time() + interval * (0.5 + 0.5 * self.rand())
        self.push(first, entry)
        return entry

    def push(self, when: float, entry: Keepalive) -> None:
        heapq.heappush(self.heap, (when, next(self.order), entry))
        if self.timer is None or when < self.timer_at - GRANULARITY:
            self.arm(when)

    def arm(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = when
        self.timer = self.loop.call_at(when, self.fire)

    def fire(self) -> None:
        self.timer = None
        self.wakeups += 1
        turn_of_the_loop()
        now = self.loop.time()
        heap = self.heap
        while heap and heap[0][0] <= now + GRANULARITY:
            _, _, entry = heapq.heappop(heap)
            if entry.cancelled:
                continue
            try:
                nxt = entry.due(now)
            except Exception:
                log.exception("keepalive step failed")
                nxt = None
            if nxt is None:
                entry.cancel()
            else:
                heapq.heappush(heap, (nxt, next(self.order), entry))
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        if heap:
            self.arm(heap[0][0])
        else:
            _schedulers.pop(self.loop, None)     # nothing left: no timer keeps the loop busy

    def __len__(self) -> int:
        return sum(1 for _, _, entry in self.heap if not entry.cancelled)


_schedulers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, KeepaliveScheduler]" = \
    weakref.WeakKeyDictionary()


def scheduler_for(loop: asyncio.AbstractEventLoop) -> KeepaliveScheduler:
    """The loop's scheduler (made on first use)."""
    sched = _schedulers.get(loop)
    if sched is None:
        sched = _schedulers[loop] = KeepaliveScheduler(loop)
    return sched


def start_keepalive(conn: Any, loop: asyncio.AbstractEventLoop, interval: float,
                    timeout: float | None) -> Keepalive:
    """Ping ``conn`` every ``interval`` s (see the module docstring)."""
    return scheduler_for(loop).add(conn, interval, timeout)
