"""``Response.timings``: where the time of one exchange went."""

from __future__ import annotations

from typing import NamedTuple


class Timings(NamedTuple):
    """Monotonic nanoseconds (the clock of ``time.monotonic_ns()``) of one
    request/response exchange. The connect fields are None unless this
    request opened its connection (a reconnect, or a client's first request
    when it connected lazily); ``tls_done`` is None without TLS."""

    connect_start: int | None
    connected: int | None
    tls_done: int | None
    written: int
    first_byte: int | None
    complete: int

    @property
    def connect_ns(self) -> int | None:
        """TCP connect (and any proxy handshake)."""
        return None if self.connect_start is None or self.connected is None else self.connected - self.connect_start

    @property
    def tls_ns(self) -> int | None:
        return None if self.tls_done is None or self.connected is None else self.tls_done - self.connected

    @property
    def wait_ns(self) -> int | None:
        """Request written -> first response byte (the server's time plus the network's)."""
        return None if self.first_byte is None else self.first_byte - self.written

    @property
    def receive_ns(self) -> int | None:
        """First response byte -> response complete."""
        return None if self.first_byte is None else self.complete - self.first_byte

    @property
    def total_ns(self) -> int:
        """From the connect (if any) or the write to the complete response."""
        return self.complete - (self.connect_start if self.connect_start is not None else self.written)
