"""Rate limits, both sides (issue 14, part 3).

* What the server says: ``resp.rate_limit`` parses the standard headers
  (``RateLimit-Limit/-Remaining/-Reset``, ``X-RateLimit-*``) on first access;
  ``RateLimitHeaders`` declares an exchange's own (Binance's
  ``X-MBX-USED-WEIGHT-1M``) once per client.
* What the client allows itself: ``RateLimit(capacity, per_seconds)``, a
  sliding-window budget of request weight shared by everything that holds
  it (a client, a pool). A request waits (FIFO, cancellable) instead of being
  sent into a ban, and a 429/418 with Retry-After pauses every request until
  then. One timer per limiter, never one per request.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from nexus_net.http.retry_after import parse_retry_after


# ---- what the server says -------------------------------------------------------------------

@dataclass(frozen=True)
class RateLimitInfo:
    """A response's rate-limit state. ``limit``: the budget; ``remaining``:
    what is left of it; ``used``: what is spent (one of the two may be derived
    from the other and ``limit``); ``reset``: seconds until the window resets."""

    limit: int | None
    remaining: int | None
    used: int | None
    reset: float | None


class RateLimitHeaders:
    """Which headers carry an exchange's rate-limit state. Each argument is a
    header name, or for ``limit`` also a number (a budget the exchange
    documents but does not send). ``reset_ms``: the reset header counts
    milliseconds; ``reset_epoch``: it is a Unix time, not a delta.

        binance = rest.RateLimitHeaders(used="X-MBX-USED-WEIGHT-1M", limit=6000)
        client = await rest.connect(url, rate_limit_headers=binance)
        client_resp.rate_limit.remaining
    """

    def __init__(self, *, limit: str | int | None = None, remaining: str | None = None,
                 used: str | None = None, reset: str | None = None, reset_ms: bool = False,
                 reset_epoch: bool = False) -> None:
        if remaining is None and used is None:
            raise ValueError("RateLimitHeaders needs a remaining= or used= header")
        self.limit, self.remaining, self.used, self.reset = limit, remaining, used, reset
        self.reset_ms, self.reset_epoch = reset_ms, reset_epoch

    def __repr__(self) -> str:
        fields = {k: v for k, v in vars(self).items() if v not in (None, False)}
        return f"RateLimitHeaders({', '.join(f'{k}={v!r}' for k, v in fields.items())})"


STANDARD = (RateLimitHeaders(limit="RateLimit-Limit", remaining="RateLimit-Remaining", reset="RateLimit-Reset"),
            RateLimitHeaders(limit="X-RateLimit-Limit", remaining="X-RateLimit-Remaining", reset="X-RateLimit-Reset"))


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.split(",")[0].split(";")[0].strip()      # "100, 100;w=60" -> 100
    try:
        return int(float(value))
    except ValueError:
        return None


def _parse(resp: Any, spec: RateLimitHeaders) -> RateLimitInfo | None:
    limit = spec.limit if isinstance(spec.limit, int) else _int(resp.header(spec.limit)) if spec.limit else None
    remaining = _int(resp.header(spec.remaining)) if spec.remaining else None
    used = _int(resp.header(spec.used)) if spec.used else None
    if remaining is None and used is None:
        return None
    if remaining is None and used is not None and limit is not None:
        remaining = max(0, limit - used)
    if used is None and remaining is not None and limit is not None:
        used = max(0, limit - remaining)
    reset = None
    if spec.reset:
        raw = resp.header(spec.reset)
        if raw is not None:
            try:
                reset = float(raw.strip())
            except ValueError:
                reset = parse_retry_after(raw)
            else:
                if spec.reset_ms:
                    reset /= 1000.0
                if spec.reset_epoch:
                    reset = max(0.0, reset - time.time())
    return RateLimitInfo(limit, remaining, used, reset)


def rate_limit_of(resp: Any, spec: RateLimitHeaders | None) -> RateLimitInfo | None:
    """``resp.rate_limit``: the declared headers first, then the standard ones."""
    for candidate in ((spec,) if spec is not None else ()) + STANDARD:
        info = _parse(resp, candidate)
        if info is not None:
            return info
    return None


# ---- what the client allows itself ----------------------------------------------------------

class RateLimit:
    """At most ``capacity`` units of request weight in any ``per_seconds``
    window (a sliding window: stricter than a fixed one, so it never trips an
    exchange's fixed-window limit either).

    ``await limit.acquire(weight)`` returns when the request may go (FIFO:
    a heavy request is never overtaken by light ones; a cancelled wait gives
    its place back). ``try_acquire(weight)`` never waits. ``pause(seconds)``
    holds everything (the clients call it on a 429/418 with Retry-After).
    ``clock``: seconds, monotonic (injectable for tests)."""

    def __init__(self, capacity: int, per_seconds: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1 or per_seconds <= 0:
            raise ValueError("RateLimit needs capacity >= 1 and per_seconds > 0")
        self.capacity = capacity
        self.per_seconds = per_seconds
        self.clock = clock
        # [when, weight] entries, oldest first. Requests closer together than
        # ``grain`` share the last entry, stamped with the later time (so it
        # expires later than the earlier one would: never less strict); the
        # log holds at most ~1,024 entries per window whatever the rate.
        self.log: collections.deque[list[Any]] = collections.deque()
        self.grain = per_seconds / 1024
        self.used = 0
        self.paused_until = 0.0
        self.waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.lock = threading.Lock()            # for blocking clients in threads

    def __repr__(self) -> str:
        return f"RateLimit({self.capacity}, {self.per_seconds:g}, used={self.used}, waiting={len(self.waiters)})"

    # ---- the budget (pure: all times given) ------------------------------------------
    def _expire(self, now: float) -> None:
        edge = now - self.per_seconds
        log = self.log
        while log and log[0][0] <= edge:
            self.used -= log.popleft()[1]

    def delay(self, weight: int, now: float) -> float:
        """0.0 if ``weight`` fits at ``now``, else the seconds until it will
        (nothing is recorded)."""
        if weight > self.capacity:
            raise ValueError(f"weight {weight} exceeds the whole budget ({self.capacity})")
        if now < self.paused_until:
            return self.paused_until - now
        self._expire(now)
        excess = self.used + weight - self.capacity
        if excess <= 0:
            return 0.0
        freed = 0
        for when, w in self.log:
            freed += w
            if freed >= excess:
                return float(when) + self.per_seconds - now
        raise AssertionError("unreachable: the log holds the whole used weight")  # pragma: no cover

    def take(self, weight: int, now: float) -> None:
        log = self.log
        if log and now - log[-1][0] < self.grain:
            last = log[-1]
            last[0] = now
            last[1] += weight
        else:
            log.append([now, weight])
        self.used += weight

    def try_acquire(self, weight: int = 1) -> bool:
        """Take ``weight`` now if it fits and nobody waits ahead; never waits.
        (``delay`` + ``take`` inlined: this runs before every request.)"""
        if self.waiters:
            return False
        now = self.clock()
        if now < self.paused_until:
            return False
        log = self.log
        edge = now - self.per_seconds
        while log and log[0][0] <= edge:
            self.used -= log.popleft()[1]
        if self.used + weight > self.capacity:
            if weight > self.capacity:
                raise ValueError(f"weight {weight} exceeds the whole budget ({self.capacity})")
            return False
        if log and now - log[-1][0] < self.grain:
            last = log[-1]
            last[0] = now
            last[1] += weight
        else:
            log.append([now, weight])
        self.used += weight
        return True

    def pause(self, seconds: float) -> None:
        """Nothing goes for ``seconds`` (a server's Retry-After)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def note_response(self, status: int, retry_after: str | None) -> None:
        """A 429/418 with Retry-After pauses everything until then."""
        if status in (429, 418):
            seconds = parse_retry_after(retry_after)
            if seconds:
                self.pause(seconds)

    # ---- asyncio ------------------------------------------------------------------------
    async def acquire(self, weight: int = 1) -> None:
        if self.try_acquire(weight):
            return
        if weight > self.capacity:
            raise ValueError(f"weight {weight} exceeds the whole budget ({self.capacity})")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (weight, fut)
        self.waiters.append(entry)
        if len(self.waiters) == 1:
            self._serve()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._refund(weight)            # granted just as it was cancelled: give it back
            else:
                try:
                    self.waiters.remove(entry)
                except ValueError:
                    pass
            self._serve()                       # the next one may fit now
            raise

    def _refund(self, weight: int) -> None:
        for entry in reversed(self.log):          # the newest entry holding that much
            if entry[1] >= weight:
                entry[1] -= weight
                self.used -= weight
                return

    def _serve(self) -> None:
        """Grant waiters in order while they fit; arm the one timer for the next."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        now = self.clock()
        waiters = self.waiters
        while waiters:
            weight, fut = waiters[0]
            if fut.done():
                waiters.popleft()
                continue
            wait = self.delay(weight, now)
            if wait > 0:
                self.timer = fut.get_loop().call_later(wait, self._on_timer)
                return
            waiters.popleft()
            self.take(weight, now)
            fut.set_result(None)

    def _on_timer(self) -> None:
        self.timer = None
        self._serve()

    # ---- blocking -----------------------------------------------------------------------
    def acquire_blocking(self, weight: int = 1, sleep: Callable[[float], None] = time.sleep) -> None:
        """The blocking clients' wait (threads queue on a lock, in order)."""
        with self.lock:
            while True:
                now = self.clock()
                wait = self.delay(weight, now)
                if wait <= 0 and not self.waiters:
                    self.take(weight, now)
                    return
                sleep(wait if wait > 0 else 0.001)
