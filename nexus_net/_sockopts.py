"""Socket buffer sizes (SO_RCVBUF / SO_SNDBUF), one definition for every
transport: the WebSocket client, server and blocking client, and the REST
clients and pool.

``None`` leaves the kernel's autotuning alone (the default). A value is
applied right after the TCP connection exists (accepted, or connected, before
any TLS or HTTP byte), which locks that buffer at that size; Linux reports
(and uses) twice the value asked for, for its own bookkeeping, which is what
``socket_buffers`` reads back.
"""

from __future__ import annotations

import socket
from typing import Any, NamedTuple

MIN_BUFFER = 4 * 1024
MAX_BUFFER = 1024 * 1024 * 1024


class SocketBuffers(NamedTuple):
    """The kernel's effective buffer sizes of one socket, in bytes."""
    rcvbuf: int
    sndbuf: int


def check_buffer_sizes(so_rcvbuf: Any, so_sndbuf: Any) -> None:
    """Refuse anything but ``None`` or an int in [4 KiB, 1 GiB], naming the argument."""
    for name, value in (("so_rcvbuf", so_rcvbuf), ("so_sndbuf", so_sndbuf)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int (bytes) or None, not {type(value).__name__}")
        if not MIN_BUFFER <= value <= MAX_BUFFER:
            raise ValueError(f"{name} must be between {MIN_BUFFER} and {MAX_BUFFER} bytes, got {value}")


def apply_buffer_sizes(sock: Any, so_rcvbuf: int | None, so_sndbuf: int | None) -> None:
    """Set the sizes that are not None on ``sock``: a socket, or an asyncio
    transport (its socket is looked up only when there is something to set,
    so the default costs nothing per connection)."""
    if so_rcvbuf is None and so_sndbuf is None:
        return
    if hasattr(sock, "get_extra_info"):
        sock = sock.get_extra_info("socket")
    if sock is None:
        return
    if so_rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, so_rcvbuf)
    if so_sndbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, so_sndbuf)


def buffer_sizes_of(sock: Any) -> SocketBuffers | None:
    """What the kernel uses for ``sock`` (None without a socket)."""
    if sock is None:
        return None
    return SocketBuffers(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                         sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
