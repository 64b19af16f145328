"""Fuzz target: a keep-alive sequence of responses on one ResponseReader.

The fuzz input describes the responses (status, headers, framing, body,
chunk sizes, where TCP cuts the stream); the target encodes them, feeds the
stream in pieces and checks that exactly those responses come out, in order.
A response whose body exceeds ``max_body_size`` must raise BodyTooLarge, and
nothing after it may come out as a response (its body bytes must never be
mistaken for the next response).
"""

from __future__ import annotations

import os
import string
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import Draw, splits  # noqa: E402

from nexus_net.http import BodyTooLarge, ResponseReader  # noqa: E402

TOKEN = string.ascii_letters + string.digits + "-"
VALUE = string.ascii_letters + string.digits + " ;=/,.-"
MAX_BODY = 120


def encode(draw: Draw) -> tuple[bytes, tuple]:
    status = [200, 201, 204, 304, 404, 500, 100][draw.int(7)]
    headers = [("X-" + draw.text(6, TOKEN), draw.text(16, VALUE).strip()) for _ in range(draw.int(4))]
    body = draw.bytes(draw.int(MAX_BODY + 40))
    head = f"HTTP/1.1 {status} R\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if status == 100:
        return (head + "\r\n").encode(), ()                  # interim: skipped by the reader
    if status in (204, 304):
        return (head + "\r\n").encode(), (status, headers, b"")
    if draw.bool():
        wire = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    else:
        wire = (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
        rest = body
        while rest:
            n = 1 + draw.int(len(rest))
            wire += b"%x\r\n%s\r\n" % (n, rest[:n])
            rest = rest[n:]
        wire += b"0\r\n\r\n"
        headers = headers + [("Transfer-Encoding", "chunked")]
    return wire, (status, headers, body)


def TestOneInput(data: bytes) -> None:
    draw = Draw(data)
    stream, expected = b"", []
    for _ in range(1 + draw.int(5)):
        wire, want = encode(draw)
        stream += wire
        if want:
            expected.append(want)
    reader = ResponseReader(256, max_body_size=MAX_BODY)
    got = []
    error = None
    try:
        for piece in splits(draw, stream):
            reader.feed(piece)
            while (r := reader.next()) is not None:
                got.append((r.status, [h for h in r.headers() if not h[0].startswith("Content-Length")],
                            r.bytes()))
    except BodyTooLarge as exc:
        error = exc
    # everything up to the first oversize body, exactly; nothing after it
    cut = next((i for i, e in enumerate(expected) if len(e[2]) > MAX_BODY), None)
    if cut is None:
        assert error is None, error
        assert got == [(s, h, b) for s, h, b in expected], (got, expected)
    else:
        assert error is not None, "an oversize body was accepted"
        assert got == [(s, h, b) for s, h, b in expected[:cut]], (got, expected[:cut])


SEEDS = [bytes(range(0, 256, 7)) * 3]

if __name__ == "__main__":
    from _engine import main
    main(TestOneInput, SEEDS)
