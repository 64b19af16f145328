"""Fuzz target: ResponseReader on arbitrary bytes, fed whole and in pieces.

Checks: no crash or hang; only HttpError subclasses are raised, and they are
sticky; the same responses come out however the stream is cut.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import reader_target  # noqa: E402

from nexus_net.http import HttpError, ResponseReader  # noqa: E402

# (the input's flag byte makes the first response answer a HEAD request)
TestOneInput = reader_target(ResponseReader, lambda m: (m.status, m.reason), (HttpError,),
                             on_new=lambda reader: reader.expect_head())

# what reader_target reads first (see reader_settings): strict, max_body_size
# 255, max_headers 6, max_head_bytes 320, the flag off, then cut points
SETTINGS = b"\x01\x00\xff\x00\x05\x01\x00\x00" + b"\x03\x10\x00\x07\x00\x21\x00\x2a"
SEEDS = [SETTINGS + s for s in (
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
)]

if __name__ == "__main__":
    from _engine import main
    main(TestOneInput, SEEDS)
