"""What every proxy handshake shares: bytes out, bytes in, done, leftover."""

from __future__ import annotations

from nexus_net.proxy.errors import ProxyProtocolError


class Handshake:
    """A sans-IO handshake with a proxy. ``data_to_send()`` gives the bytes to
    write, ``receive_data(data)`` takes what the proxy sent (``b""``: it
    closed). Once ``done``, ``leftover`` holds the bytes that came after the
    proxy's reply: the tunnel's first bytes."""

    eof_message = "the proxy closed the connection during its handshake"

    def __init__(self) -> None:
        self._out = bytearray()
        self.done = False
        self.leftover = b""

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> None:
        if self.done:
            raise RuntimeError("the handshake is over: further bytes belong to the tunnel")
        if not data:
            raise ProxyProtocolError(self.eof_message)
        self._received(data)

    def _received(self, data: bytes) -> None:
        raise NotImplementedError
