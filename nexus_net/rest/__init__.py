"""REST over HTTP/1.1: ``RequestWriter`` builds requests, ``connect()`` sends them."""

from __future__ import annotations

from nexus_net.rest import sync
from nexus_net.rest._request import Request, RequestBuilder, RequestWriter
from nexus_net.rest.client import Client, connect
from nexus_net.rest.pool import ClientPool, PoolClosed, PoolTimeout

__all__ = ["Client", "ClientPool", "PoolClosed", "PoolTimeout", "Request", "RequestBuilder", "RequestWriter", "connect", "sync"]
