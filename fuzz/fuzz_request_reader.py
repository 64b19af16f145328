"""Fuzz target: RequestReader on arbitrary bytes, fed whole and in pieces.

Checks: no crash or hang; only HttpError subclasses are raised, and they are
sticky; the same requests come out however the stream is cut.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import reader_target  # noqa: E402

from nexus_net.http import HttpError, RequestReader  # noqa: E402

TestOneInput = reader_target(RequestReader, lambda m: (m.method, m.target, m.expects_continue), (HttpError,))

SEEDS = [b"\x01\x00\xff\x00\x05\x01\x00\x00\x00" + s for s in (
    b"POST /o HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.0\r\n\r\n",
    b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n",
)]

if __name__ == "__main__":
    from _engine import main
    main(TestOneInput, SEEDS)
