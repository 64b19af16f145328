"""HTTP/1.1 as sans-IO Cython codecs.

* ``ResponseReader`` / ``Response``: the client side's parser.
* ``RequestReader`` / ``IncomingRequest``: the server side's parser (servers, tests).
* ``ChunkedDecoder``: the chunked transfer coding on its own.
* ``write_request`` / ``write_response`` / ``write_chunk``: messages built into
  a buffer you own, with no allocation.
"""

from __future__ import annotations

from nexus_net.http._chunked import ChunkedDecoder
from nexus_net.http._request import IncomingRequest, RequestReader
from nexus_net.http._response import Response, ResponseReader
from nexus_net.http._writer import write_chunk, write_request, write_response
from nexus_net.http.timings import Timings
from nexus_net.http.errors import (BodyTooLarge, BufferTooSmall, ClientClosed, ClientError, ConnectFailed,
                                   ConnectionLost, ConnectTimeout, ContentEncodingError, OutcomeUnknown,
                                   RateLimited, RequestNotSent, ResponseLost, ResponseTimeout, ServerError,
                                   StatusError, HeadTooLarge, HttpError,
                                   InvalidMessage, InvalidRequest, InvalidResponse, ReadBufferFull,
                                   RequestHeadTooLarge, RequestTimeout)

__all__ = ["BodyTooLarge", "BufferTooSmall", "ChunkedDecoder", "ClientClosed", "ClientError", "ConnectFailed",
           "ConnectTimeout", "ConnectionLost", "ContentEncodingError", "OutcomeUnknown", "RateLimited",
           "RequestNotSent", "ResponseLost", "ResponseTimeout", "ServerError", "StatusError",
           "HeadTooLarge", "HttpError",
           "IncomingRequest", "InvalidMessage", "InvalidRequest", "InvalidResponse", "ReadBufferFull",
           "RequestHeadTooLarge", "RequestReader", "RequestTimeout", "Response", "ResponseReader", "Timings",
           "write_chunk", "write_request", "write_response"]
