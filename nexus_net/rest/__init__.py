"""REST over HTTP/1.1: request building (``RequestWriter``) so far."""

from __future__ import annotations

from nexus_net.rest._request import Request, RequestBuilder, RequestWriter

__all__ = ["Request", "RequestBuilder", "RequestWriter"]
