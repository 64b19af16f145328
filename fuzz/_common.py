"""Helpers shared by the fuzz targets: turning fuzz bytes into choices, and the
chunking-invariance check both parsers must pass."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

_BUILD = os.environ.get("NEXUS_NET_FUZZ_BUILD")
if _BUILD:
    # Import the instrumented copy, not the editable install's build.
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") != "_EditableFinder"]
    sys.path.insert(0, _BUILD)


class Draw:
    """Reads choices from fuzz bytes (zeros once they run out), so any input
    maps to one deterministic test case."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def int(self, below: int) -> int:
        return (self.byte() << 8 | self.byte()) % below if below > 1 else 0

    def bool(self) -> bool:
        return self.byte() & 1 == 1

    def bytes(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos:]
        self.pos = len(self.data)
        return out

    def text(self, max_len: int, alphabet: str | None = None) -> str:
        n = self.int(max_len + 1)
        raw = self.bytes(n)
        if alphabet is None:
            return raw.decode("latin-1")
        return "".join(alphabet[b % len(alphabet)] for b in raw)


def splits(draw: Draw, data: bytes) -> list[bytes]:
    """Cut ``data`` at a few points chosen by the fuzz input."""
    cuts = sorted({draw.int(len(data) + 1) for _ in range(draw.int(6))})
    pieces, last = [], 0
    for c in cuts + [len(data)]:
        pieces.append(data[last:c])
        last = c
    return pieces


def snapshot(msg: Any, first_line: Callable[[Any], Any]) -> tuple:
    """What a parsed message says, as plain values (compared across feedings)."""
    return (first_line(msg), msg.version, msg.keep_alive, msg.headers(), msg.trailers(), msg.bytes())


def parse_all(make: Callable[[], Any], pieces: list[bytes], first_line: Callable[[Any], Any],
              errors: tuple[type[BaseException], ...]) -> tuple[list[tuple], type[BaseException] | None]:
    """Feed ``pieces`` one by one, collecting messages until the first error.
    An error must be sticky: asked again, the reader raises it again."""
    reader = make()
    out: list[tuple] = []
    try:
        for piece in pieces:
            reader.feed(piece)
            while (msg := reader.next()) is not None:
                out.append(snapshot(msg, first_line))
        reader.feed_eof()
        while (msg := reader.next()) is not None:
            out.append(snapshot(msg, first_line))
    except errors as exc:
        try:
            reader.next()
        except errors as again:
            assert type(again) is type(exc), (exc, again)
        else:
            raise AssertionError(f"error {exc!r} was not sticky")
        return out, type(exc)
    return out, None


def check_chunking_invariance(make: Callable[[], Any], data: bytes, pieces: list[bytes],
                              first_line: Callable[[Any], Any], errors: tuple[type[BaseException], ...]) -> None:
    """Fed whole or in pieces, a parser must report the same messages and the
    same error: where TCP happens to cut the stream changes nothing."""
    whole = parse_all(make, [data], first_line, errors)
    cut = parse_all(make, pieces, first_line, errors)
    assert whole[0] == cut[0], (whole, cut)
    assert (whole[1] is None) == (cut[1] is None), (whole[1], cut[1])
    if whole[1] is not cut[1]:
        # The one legitimate difference: a head that is both too long and
        # malformed past the limit is "too large" when it arrives in pieces
        # (the limit is hit first) and "malformed" when it arrives whole.
        assert any("TooLarge" in e.__name__ for e in (whole[1], cut[1])), (whole[1], cut[1])


SETTINGS_BYTES = 16


def reader_settings(data: bytes) -> tuple[dict[str, Any], bool, bytes, bytes]:
    """How a reader target reads its input: the reader's limits and
    strictness (7 bytes), a flag (1), where to cut the stream (8), then the
    stream: (reader kwargs, flag, cut bytes, stream)."""
    draw = Draw(data)
    kwargs = dict(strict=draw.bool(), max_body_size=draw.int(300), max_headers=1 + draw.int(20),
                  max_head_bytes=64 + draw.int(512))
    flag = draw.bool()
    return kwargs, flag, draw.bytes(8), draw.rest()


def reader_target(reader_class: Callable[..., Any], first_line: Callable[[Any], Any],
                  errors: tuple[type[BaseException], ...], on_new: Callable[[Any], None] | None = None
                  ) -> Callable[[bytes], None]:
    """A fuzz target for a parser: limits and strictness drawn from the input,
    the rest is the stream, checked by check_chunking_invariance."""
    def target(data: bytes) -> None:
        kwargs, flag, cuts, stream = reader_settings(data)

        def make() -> Any:
            reader = reader_class(256, **kwargs)
            if on_new is not None and flag:
                on_new(reader)
            return reader

        check_chunking_invariance(make, stream, splits(Draw(cuts), stream), first_line, errors)
    return target
