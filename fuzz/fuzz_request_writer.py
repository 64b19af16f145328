"""Fuzz target: RequestWriter with arbitrary methods, paths, query pairs,
headers and bodies.

Checks: input the writer must refuse (CR/LF/NUL in a value, a non-token
name, a space or control character in the path, a header the writer owns)
raises ValueError; everything else produces bytes that h11 and our own
RequestReader both parse back to exactly what was given.
"""

from __future__ import annotations

import os
import string
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h11  # noqa: E402
from _common import Draw  # noqa: E402

from nexus_net.http import RequestReader  # noqa: E402
from nexus_net.rest import RequestWriter  # noqa: E402

TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
OWNED = {"host", "content-length", "transfer-encoding"}
# mostly well-formed characters, with the dangerous ones mixed in
NAME_CHARS = TOKEN * 4 + " :\r\n\x00\x7f"
VALUE_CHARS = string.printable + "\x00\x7f\xe9\u20ac" + "ab" * 20
PATH_CHARS = string.ascii_letters + "/-._~%" * 4 + " \t\r\n?#\x00"


def TestOneInput(data: bytes) -> None:
    draw = Draw(data)
    method = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"][draw.int(7)]
    path = "/" + draw.text(30, PATH_CHARS)
    query = [(draw.text(8), draw.text(12)) for _ in range(draw.int(4))]
    headers = [(draw.text(12, NAME_CHARS), draw.text(30, VALUE_CHARS)) for _ in range(draw.int(6))]
    body = draw.bytes(draw.int(200)) if draw.bool() else None
    bulk = draw.bool()

    bad_path = any(c in path for c in " \t\r\n\x00\x7f")
    bad_header = any(not n or any(c not in TOKEN for c in n) or n.lower() in OWNED
                     or any((ord(c) < 32 and c != "\t") or c == "\x7f" for c in v) for n, v in headers)
    writer = RequestWriter("fuzz.example")
    try:
        b = writer.request(method, path)
        for k, v in query:
            b.query(k, v)
        if bulk:
            b.headers(headers)
        else:
            for k, v in headers:
                b.header(k, v)
        if body is not None:
            b.body(body)
        req = b.finish()
    except ValueError:
        assert bad_path or bad_header or (query and "?" in path), (path, headers)
        return
    assert not bad_path and not bad_header, (path, headers)
    wire = bytes(req)

    # h11, as a server, parses it to what we gave
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(wire)
    event = conn.next_event()
    assert isinstance(event, h11.Request), event
    got_body = b""
    while True:
        ev = conn.next_event()
        if isinstance(ev, h11.Data):
            got_body += ev.data
        elif isinstance(ev, h11.EndOfMessage):
            break
        else:
            raise AssertionError(f"h11: unexpected {ev!r}")
    assert event.method.decode() == method
    expected = path.encode() + (("?" + "&".join(f"{quote(k, safe='-._~')}={quote(v, safe='-._~')}"
                                                 for k, v in query)).encode() if query else b"")
    assert event.target == expected, (event.target, expected)
    sent = [(k.lower().encode(), v.strip(" \t").encode()) for k, v in headers]
    assert [h for h in event.headers if h[0] not in (b"host", b"content-length")] == sent
    assert got_body == (body or b"")

    # and so does our own request parser
    reader = RequestReader()
    reader.feed(wire)
    parsed = reader.next()
    assert parsed is not None and parsed.method == method and parsed.bytes() == (body or b"")
    assert [(k.lower(), v) for k, v in parsed.headers()][1:1 + len(headers)] == \
        [(k.lower(), v.strip(" \t").encode().decode("latin-1")) for k, v in headers]


SEEDS = [b"\x00\x01\x00\x05order\x00\x01\x00\x01k\x00\x01v\x00\x01\x00\x04X-Ab\x00\x03abc\x01\x00\x02{}"]

if __name__ == "__main__":
    from _engine import main
    main(TestOneInput, SEEDS)
