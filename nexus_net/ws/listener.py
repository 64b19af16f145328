"""``ws.Listener``: the callback API, the lowest-latency way to receive."""

from __future__ import annotations

from typing import Any


class Listener:
    """Subclass and override what you need; pass an instance as
    ``ws.connect(url, listener=...)`` or a factory as
    ``ws.serve(None, host, port, listener_factory=...)``.

    Every callback runs inside the protocol's receive callback: no task, no
    task switch. ``on_message`` gets every TEXT/BINARY message in order, with
    the zero-copy rules of ``recv()`` (``msg.data`` stays valid while you hold
    the message); pings, pongs and closes are handled before it. Sends
    (``conn.send_text``...) write at once and need no ``await``; back-pressure
    arrives as ``on_pause_writing``/``on_resume_writing`` (and
    ``conn.write_buffer_size``). ``conn.send_close(code, reason)`` starts the
    closing handshake. An exception raised in a callback is logged and closes
    the connection with 1011.
    """

    def on_open(self, conn: Any) -> None:
        """The opening handshake completed (for a reconnecting client: every
        time; this is where to subscribe). Nothing was delivered yet."""

    def on_message(self, conn: Any, msg: Any) -> None:
        """One TEXT or BINARY message."""

    def on_close(self, conn: Any, code: int, reason: str) -> None:
        """The connection ended (1006: without a closing handshake)."""

    def on_pause_writing(self, conn: Any) -> None:
        """The transport's write buffer passed its high-water mark."""

    def on_resume_writing(self, conn: Any) -> None:
        """The write buffer drained below its low-water mark."""
