"""REST over HTTP/1.1: ``RequestWriter`` builds requests, ``connect()`` sends them."""

from __future__ import annotations

from nexus_net.http.errors import (ClientError, ConnectFailed, ConnectionLost, ConnectTimeout, ContentEncodingError,
                                   OutcomeUnknown, RateLimited, RequestNotSent, RequestTimeout, ResponseLost,
                                   ResponseTimeout, ServerError, StatusError)
from nexus_net.rest import sync
from nexus_net.rest._request import Request, RequestBuilder, RequestWriter
from nexus_net.rest.client import Client, connect
from nexus_net.rest.pool import ClientPool, PoolClosed, PoolTimeout
from nexus_net.rest.ratelimit import RateLimit, RateLimitHeaders, RateLimitInfo

__all__ = ["Client", "ClientError", "ClientPool", "ConnectFailed", "ConnectTimeout", "ConnectionLost",
           "ContentEncodingError", "OutcomeUnknown", "PoolClosed", "PoolTimeout", "RateLimit", "RateLimitHeaders", "RateLimitInfo",
           "RateLimited", "Request",
           "RequestBuilder", "RequestNotSent", "RequestTimeout", "RequestWriter", "ResponseLost", "ResponseTimeout",
           "ServerError", "StatusError", "connect", "sync"]
