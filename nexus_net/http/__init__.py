"""HTTP/1.1: sans-IO Cython codecs (``ResponseReader`` so far)."""

from __future__ import annotations

from nexus_net.http._response import Response, ResponseReader
from nexus_net.http.errors import (BodyTooLarge, ConnectionLost, HeadTooLarge, HttpError, InvalidResponse,
                                   ReadBufferFull, RequestTimeout)

__all__ = ["BodyTooLarge", "ConnectionLost", "HeadTooLarge", "RequestTimeout", "HttpError", "InvalidResponse", "ReadBufferFull", "Response", "ResponseReader"]
