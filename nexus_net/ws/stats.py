"""``conn.stats``: what a connection has done, as a plain snapshot."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConnectionStats:
    """Counters of one connection (or, for a reconnecting client, of its
    current connection plus ``reconnects`` so far).

    ``bytes_in``/``bytes_out`` are wire bytes (TLS records included on the
    way in; WebSocket frames, before TLS, on the way out). ``ping_rtt`` is the
    last keepalive ping's round trip in seconds (``None`` before the first
    pong); ``heartbeat_rtt`` the same for an application-level ``Heartbeat``.
    ``connected_for`` is in seconds since the opening handshake completed.
    """

    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int
    ping_rtt: float | None
    heartbeat_rtt: float | None
    reconnects: int
    connected_at_ns: int
    connected_for: float

    @classmethod
    def of(cls, conn: Any, reconnects: int = 0) -> ConnectionStats:
        """The snapshot of an asyncio or blocking connection (both expose the
        same counters)."""
        opened = conn.opened_ns
        return cls(messages_in=conn.messages_in, messages_out=conn.messages_out,
                   bytes_in=conn.bytes_received, bytes_out=conn.bytes_sent,
                   ping_rtt=conn.ping_rtt, heartbeat_rtt=conn.heartbeat_rtt, reconnects=reconnects,
                   connected_at_ns=opened,
                   connected_for=(time.time_ns() - opened) / 1e9 if opened and not conn.closed else 0.0)
