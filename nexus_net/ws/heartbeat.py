"""Application-level heartbeats and automatic replies, as exchanges define them.

Many exchanges ignore WebSocket pings and expect a message of their own
instead (OKX: the text ``ping``, answered by ``pong``; Bybit: ``{"op":"ping"}``),
or ping the client at the application level and expect an echo (HTX:
``{"ping": 1700000000000}`` -> ``{"pong": 1700000000000}``). ``Heartbeat``
sends the ping when the feed is quiet and takes the answer out of the stream;
``auto_reply`` answers the server's pings without the application seeing them.
"""

from __future__ import annotations

from typing import Any, Callable, Union

Payload = Union[str, bytes]


class Heartbeat:
    """``heartbeat=ws.Heartbeat(interval, payload, is_pong, timeout)``.

    When nothing arrived for ``interval`` seconds, send ``payload`` (``str``:
    TEXT, ``bytes``: BINARY, or a callable returning either, called per
    heartbeat, e.g. for a timestamp). A received message for which
    ``is_pong(msg)`` is true is the answer: it is counted, not delivered. No
    answer within ``timeout`` seconds closes the connection with 1011 (and a
    reconnecting client reconnects). ``prefix``: only messages starting with
    these bytes are offered to ``is_pong`` (checked in C, so the rest of the
    feed pays no Python call); ``max_size``: nor messages longer than this.
    """

    def __init__(self, interval: float, payload: Payload | Callable[[], Payload],
                 is_pong: Callable[[Any], bool], timeout: float | None = None, *,
                 prefix: bytes = b"", max_size: int = 512) -> None:
        if not interval > 0:
            raise ValueError(f"heartbeat interval must be positive, got {interval!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"heartbeat timeout must be positive or None, got {timeout!r}")
        if not callable(payload) and not isinstance(payload, (str, bytes)):
            raise TypeError("heartbeat payload must be str, bytes or a callable returning one")
        self.interval = float(interval)
        self.timeout = None if timeout is None else float(timeout)
        self.payload = payload
        self.prefix = bytes(prefix)
        self.max_size = max_size
        self.is_pong = is_pong

    def make_payload(self) -> Payload:
        return self.payload() if callable(self.payload) else self.payload

    @classmethod
    def text(cls, ping: str = "ping", pong: str = "pong", *, interval: float = 20.0,
             timeout: float | None = 10.0) -> Heartbeat:
        """A text ping answered by an exact text pong: OKX (``ping`` -> ``pong``,
        expected when the feed was quiet for under 30 s)."""
        expected = pong.encode()
        # The C checks (starts with `pong`, at most len(pong) bytes) leave only
        # the exact answer: nothing left for Python to compare.
        return cls(interval, ping, _exact_match, timeout, prefix=expected, max_size=len(expected))

    @classmethod
    def json_op(cls, ping_op: str = "ping", pong_op: str = "pong", *, interval: float = 20.0,
                timeout: float | None = 10.0) -> Heartbeat:
        """``{"op":"ping"}`` answered by a JSON object whose ``op`` (or, as
        Bybit's public streams answer, ``ret_msg``) is ``pong``: Bybit-like
        (Bybit asks for a ping every 20 s)."""
        import orjson
        payload = orjson.dumps({"op": ping_op}).decode()

        def is_pong(msg: Any) -> bool:
            try:
                doc = msg.json()
            except ValueError:
                return False
            return isinstance(doc, dict) and pong_op in (doc.get("op"), doc.get("ret_msg"))
        return cls(interval, payload, is_pong, timeout, prefix=b"{", max_size=512)

    def __repr__(self) -> str:
        return f"Heartbeat(interval={self.interval}, timeout={self.timeout}, payload={self.payload!r})"


def _exact_match(msg: Any) -> bool:
    return True


def json_ping_reply(ping_key: str = "ping", pong_key: str = "pong") -> Callable[[Any], str | None]:
    """An ``auto_reply`` for servers that send ``{"ping": X}`` and expect
    ``{"pong": X}`` (HTX-like). Use with ``auto_reply_prefix=b'{"ping"'``."""
    import orjson

    def reply(msg: Any) -> str | None:
        try:
            doc = msg.json()
        except ValueError:
            return None
        if isinstance(doc, dict) and len(doc) == 1 and ping_key in doc:
            return orjson.dumps({pong_key: doc[ping_key]}).decode()
        return None
    return reply
