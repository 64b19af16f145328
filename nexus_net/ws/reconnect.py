"""Reconnecting: which failures are worth another attempt, how long to wait,
and the long-lived ``reconnect=True`` connection.

Reconnect wraps connections; it never forks their code: every connection a
``ReconnectingConnection`` reads from is a plain ``ws.Connection`` opened by
the same ``ws.connect`` options.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random as _random
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from nexus_net.http.retry_after import parse_retry_after
from nexus_net.tls import TlsCertificateError, TlsConfigError, TlsError
from nexus_net.ws.errors import (ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, HandshakeError,
                                 HandshakeTimeout, InvalidURI, ProtocolError)
from nexus_net.ws.stats import ConnectionStats

if TYPE_CHECKING:
    from nexus_net.ws._aio import Connection
    from nexus_net.ws.client import connect

log = logging.getLogger("nexus_net.ws.client")

# Close codes after which a new connection may well succeed: going away
# (1001), dropped without a close (1006), server error (1011), service restart
# (1012), try again later (1013), bad gateway (1014).
RETRYABLE_CLOSE_CODES = frozenset({1001, 1006, 1011, 1012, 1013, 1014})


class Backoff:
    """Exponential backoff with full jitter: the n-th consecutive failure
    waits a uniform random time in ``[0, min(maximum, initial * factor**n)]``.
    A connection that stayed up ``reset_after`` seconds starts the sequence
    over. ``random`` (default ``random.random``) can be injected for tests."""

    def __init__(self, initial: float = 0.1, factor: float = 2.0, maximum: float = 30.0,
                 reset_after: float = 60.0, random: Callable[[], float] = _random.random) -> None:
        if initial < 0 or factor < 1 or maximum < initial:
            raise ValueError("backoff needs 0 <= initial <= maximum and factor >= 1")
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self.reset_after = reset_after
        self.random = random
        self.failures = 0

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return min(self.maximum, self.initial * self.factor ** min(self.failures, 64))

    def next_delay(self, retry_after: float | None = None) -> float:
        """The delay before the next attempt (never below a server's Retry-After)."""
        delay = self.random() * self.ceiling()
        self.failures += 1
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def connected_for(self, seconds: float) -> None:
        if seconds >= self.reset_after:
            self.failures = 0


def retry_reason(exc: BaseException) -> str | None:
    """Why another attempt may succeed after ``exc``, or ``None`` when it
    cannot (that error is raised to the application at once)."""
    if isinstance(exc, ConnectionClosed):
        if exc.code in RETRYABLE_CLOSE_CODES:
            return f"connection closed with {exc.code}" + (f" {exc.reason!r}" if exc.reason else "")
        return None
    if isinstance(exc, (InvalidURI, TlsCertificateError, TlsConfigError)):
        return None
    if isinstance(exc, HandshakeTimeout):
        return "opening handshake timed out"
    if isinstance(exc, HandshakeError):
        status = exc.status
        if status is not None and (status == 429 or 500 <= status <= 599):
            return f"handshake answered with {status}"
        return None                   # 401/403/404, a bad 101, too many redirects
    if isinstance(exc, ProtocolError):
        return None
    if isinstance(exc, (OSError, TlsError, asyncio.TimeoutError)):
        return f"{type(exc).__name__}: {exc}"
    return None


def retry_after_of(exc: BaseException) -> float | None:
    """The Retry-After of a 429/5xx handshake answer, in seconds."""
    if isinstance(exc, HandshakeError) and exc.status is not None and (
            exc.status == 429 or exc.status >= 500):
        for name, value in exc.headers:
            if name.lower() == "retry-after":
                return parse_retry_after(value)
    return None


class RetryPolicy:
    """The decisions of reconnecting, without I/O: after a failed attempt,
    wait how long (or give up); after a connection ended, reconnect after how
    long (or stop). Shared by the asyncio and the blocking clients, which do
    the waiting their own way."""

    def __init__(self, url: Any, backoff: Backoff, max_attempts: int | None) -> None:
        self.url = url
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.failures = 0                  # consecutive failed attempts

    def attempt(self, why: str) -> None:
        log.info("connecting to %s (%s)", self.url, why)

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self, exc: BaseException) -> tuple[float, str]:
        """(delay, reason) before the next attempt; raises ``exc`` when it is
        not worth retrying or ``max_attempts`` is reached."""
        reason = retry_reason(exc)
        self.failures += 1
        if reason is None:
            log.info("connecting to %s failed, not retrying: %r", self.url, exc)
            raise exc
        if self.max_attempts is not None and self.failures >= self.max_attempts:
            log.info("connecting to %s failed %d times; giving up: %s", self.url, self.failures, reason)
            raise exc
        delay = self.backoff.next_delay(retry_after_of(exc))
        log.info("connecting to %s failed (%s); retrying in %.3fs", self.url, reason, delay)
        return delay, reason

    def ended(self, exc: BaseException | None, uptime: float) -> tuple[float, str] | None:
        """A connection ended with ``exc``: (delay, reason) to reconnect, or
        ``None`` when its end is final."""
        reason = retry_reason(exc) if exc is not None else None
        if reason is None:
            log.info("connection to %s ended (%s): not reconnecting", self.url, exc)
            return None
        self.backoff.connected_for(uptime)
        delay = self.backoff.next_delay()
        log.info("connection to %s lost (%s); reconnecting in %.3fs", self.url, reason, delay)
        return delay, reason


    def following(self, previous_exc: BaseException | None, still_open: bool,
                  uptime: float) -> tuple[float, str] | None:
        """For the connection iterators: (delay, why) before the next
        connection, given how the previous one ended; ``None``: stop. A body
        that left its connection open asked for the next one at once."""
        if still_open:
            return 0.0, "the previous connection was closed by the application"
        decision = self.ended(previous_exc, uptime)
        return None if decision is None else (decision[0], f"reconnect after {decision[1]}")


class Attempts:
    """Opening connections with retries on asyncio, for ``async for conn in
    ws.connect(...)`` and ``ReconnectingConnection``."""

    def __init__(self, opener: connect) -> None:
        self.opener = opener
        self.policy = RetryPolicy(opener.url, opener.make_backoff(), opener.max_attempts)
        self.backoff = self.policy.backoff
        self.sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep

    async def open(self, why: str) -> Connection:
        """A new open connection; retryable failures are retried with backoff,
        others (and the last one past ``max_attempts``) are raised."""
        while True:
            self.policy.attempt(why)
            try:
                conn = await self.opener.open_one()
            except Exception as exc:
                delay, reason = self.policy.failed(exc)
                why = f"retry after {reason}"
                await self.sleep(delay)
                continue
            self.policy.succeeded()
            return conn

    async def after(self, conn: Connection, uptime: float) -> str | None:
        """``conn`` ended: the reason to reconnect (having waited the backoff),
        or ``None`` when its end is final."""
        decision = self.policy.ended(conn.close_exc, uptime)
        if decision is None:
            return None
        await self.sleep(decision[0])
        return decision[1]


class ConnectionIterator:
    """``async for conn in ws.connect(url)``: a fresh open connection each
    time the previous one ended for a retryable reason (``websockets``'
    convention). When the loop body ends while its connection is still open,
    that connection is closed (1000) and the next one opened. Iteration stops
    after a connection ended for good (e.g. the server closed with 1000)."""

    def __init__(self, opener: connect) -> None:
        self.attempts = Attempts(opener)
        self.current: Connection | None = None
        self.opened_at = 0.0
        self.reconnects = 0

    def __aiter__(self) -> ConnectionIterator:
        return self

    async def __anext__(self) -> Connection:
        why = "first connection"
        previous = self.current
        if previous is not None:
            still_open = previous.close_exc is None
            await previous.close()     # (or finish its closing handshake / TCP close)
            step = self.attempts.policy.following(previous.close_exc, still_open,
                                                  time.monotonic() - self.opened_at)
            if step is None:
                self.current = None
                raise StopAsyncIteration
            await self.attempts.sleep(step[0])
            why = step[1]
            self.reconnects += 1
        self.current = await self.attempts.open(why)
        self.opened_at = time.monotonic()
        return self.current


class ReconnectingConnection:
    """``ws.connect(url, reconnect=True, on_connect=..., on_disconnect=...)``.

    One long-lived object: ``recv()``/``async for msg`` go on across
    reconnects. Messages a lost connection had already received are all
    delivered before the first of the next connection, and every new
    connection runs ``await on_connect(conn)`` (resubscribe here) before any
    of its messages is delivered. ``on_disconnect(conn, exc)`` is called when
    a connection is lost. Sends while disconnected wait for the next
    connection up to ``open_timeout``, then raise ``ConnectionClosed``.
    """

    def __init__(self, opener: connect) -> None:
        self.opener = opener
        self.attempts = Attempts(opener)
        self.reconnects = 0
        self.current: Connection | None = None   # the newest connection (sends go there)
        self.reading: Connection | None = None   # the one recv() drains
        # connections published after `reading`, in order: recv() drains each
        # in turn, even one that was lost before recv() got to it
        self.queued: collections.deque[Connection] = collections.deque()
        self.final: BaseException | None = None  # why no further connection will come
        self.closing = False
        self.changed = asyncio.Event()
        self.supervisor: asyncio.Task[None] | None = None
        self.opened_at = 0.0

    async def start(self) -> ReconnectingConnection:
        conn = await self.attempts.open("first connection")
        await self._activate(conn)
        self.supervisor = asyncio.get_running_loop().create_task(self._supervise())
        return self

    async def _activate(self, conn: Connection) -> None:
        """Run on_connect, then publish ``conn``: recv() reads it after the
        connections before it, sends go to it."""
        on_connect = self.opener.on_connect
        if on_connect is not None:
            try:
                await on_connect(conn)
            except ConnectionClosed as exc:
                if conn.close_exc is None:    # not a drop: e.g. a send on another connection
                    conn.fail_connection(1011, "on_connect failed")
                    raise
                # It dropped while resubscribing: what it received is still
                # delivered, then the supervisor reconnects as for any loss.
                log.info("connection to %s lost during on_connect: %s", self.opener.url, exc)
            except BaseException:
                # (no closing handshake to wait for: the peer may not be reading)
                conn.fail_connection(1011, "on_connect failed")
                raise
        if self.opener.listener is not None:
            conn.set_listener(self.opener.listener)   # on_open, then what is buffered
        if self.reading is None:
            self.reading = conn
        else:
            self.reconnects += 1
            self.queued.append(conn)
        self.current = conn
        self.opened_at = time.monotonic()
        self.changed.set()
        self.changed = asyncio.Event()

    async def _supervise(self) -> None:
        try:
            while not self.closing:
                conn = self.current
                assert conn is not None
                await conn.wait_closed()
                if self.closing:
                    return
                exc = conn.close_exc
                if self.opener.on_disconnect is not None:
                    try:
                        self.opener.on_disconnect(conn, exc)
                    except Exception:
                        log.exception("on_disconnect failed")
                reason = await self.attempts.after(conn, time.monotonic() - self.opened_at)
                if reason is None:
                    self._end(exc if exc is not None else ConnectionClosedOK(1000, ""))
                    return
                # Retryable failures are retried inside open(); what it raises
                # (not retryable, or max_attempts reached) ends the stream, and
                # so does an on_connect that fails for another reason than a drop.
                new = await self.attempts.open(f"reconnect after {reason}")
                await self._activate(new)
        except asyncio.CancelledError:
            if not self.closing:              # cancelled from outside (a TaskGroup, shutdown)
                self._end(ConnectionClosedError(1006, "", "reconnecting was cancelled"))
            raise
        except BaseException as exc:
            self._end(exc)

    def _end(self, exc: BaseException) -> None:
        self.final = exc
        self.changed.set()

    # ---- receiving ---------------------------------------------------------
    async def recv(self) -> Any:
        """The next message of the stream; ``None`` once it ended for good
        (a clean close that is not worth reconnecting, or ``close()``)."""
        while True:
            conn = self.reading
            assert conn is not None
            try:
                msg = await conn.recv()
            except ConnectionClosed:
                msg = None
            if msg is not None:
                return msg
            # conn is drained; move on to the next connection, in order
            while not self.queued and self.final is None and not self.closing:
                await self.changed.wait()
            if self.queued:
                self.reading = self.queued.popleft()
                continue
            if self.closing:
                return None
            final = self.final
            if isinstance(final, ConnectionClosedOK) or final is None:
                return None
            raise final

    def __aiter__(self) -> ReconnectingConnection:
        return self

    async def __anext__(self) -> Any:
        msg = await self.recv()
        if msg is None:
            raise StopAsyncIteration
        return msg

    # ---- sending -----------------------------------------------------------
    async def live(self) -> Connection:
        """The current connection once it is open: waits for a reconnect up to
        ``open_timeout``, then raises ``ConnectionClosed``."""
        deadline = None if self.opener.open_timeout is None else time.monotonic() + self.opener.open_timeout
        while True:
            conn = self.current
            if conn is not None and not conn.closed and conn.close_exc is None:
                return conn
            if self.closing or self.final is not None:
                raise ConnectionClosedError(1006, "", "the connection is closed and will not reconnect") \
                    if not isinstance(self.final, ConnectionClosed) else self.final
            changed = self.changed
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                raise ConnectionClosedError(1006, "", f"not reconnected within open_timeout "
                                                      f"({self.opener.open_timeout}s)")
            try:
                await asyncio.wait_for(changed.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def send_text(self, text: str) -> None:
        await (await self.live()).send_text(text)

    async def send_binary(self, data: Any) -> None:
        await (await self.live()).send_binary(data)

    async def send(self, data: Any) -> None:
        await (await self.live()).send(data)

    # ---- closing and information -------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closing = True
        self.changed.set()
        if self.supervisor is not None:
            self.supervisor.cancel()
            try:
                await self.supervisor
            except asyncio.CancelledError:
                pass
        if self.current is not None:
            await self.current.close(code, reason)

    async def __aenter__(self) -> ReconnectingConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connection(self) -> Connection | None:
        """The newest connection (it may be closed while reconnecting)."""
        return self.current

    @property
    def closed(self) -> bool:
        return self.closing or self.final is not None

    @property
    def stats(self) -> ConnectionStats:
        conn = self.current
        assert conn is not None
        return ConnectionStats.of(conn, self.reconnects)

    def __repr__(self) -> str:
        return f"<ws.ReconnectingConnection {self.opener.url} reconnects={self.reconnects} current={self.current!r}>"
