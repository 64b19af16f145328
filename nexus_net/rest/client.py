"""The asyncio REST client: ``conn = await rest.connect(url)``, ``await conn.send(req, reader)``."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Mapping
from urllib.parse import urlsplit

from nexus_net.http import ClientClosed, RequestTimeout, Response, ResponseReader
from nexus_net.rest._aio import ClientCore, Protocol, describe, not_sent, outcome_unknown
from nexus_net.rest._request import Request, RequestWriter
from nexus_net.rest.ratelimit import RateLimit, RateLimitHeaders
from nexus_net._sockopts import SocketBuffers, apply_buffer_sizes, buffer_sizes_of, check_buffer_sizes
from nexus_net.proxy import check_proxy
from nexus_net.proxy.tunnel import open_connection
from nexus_net.tls import TlsCodec, TlsConfig

log = logging.getLogger("nexus_net.rest")

def build_request(writer: RequestWriter, method: str, path: str, params: Mapping[str, Any] | None,
                  headers: Mapping[str, str] | None, json: Any, data: bytes | None,
                  form: Any = None) -> Request:
    """The request the ``get``/``post``/... conveniences send."""
    b = writer.request(method, path)
    for k, v in (params or {}).items():
        b.query(k, v)
    if headers:
        b.headers(headers.items())
    if sum(x is not None for x in (json, data, form)) > 1:
        raise ValueError("give one of json=, data= and form=")
    if json is not None:
        b.header("Content-Type", "application/json").body_json(json)
    elif form is not None:
        b.body_form(form)
    elif data is not None:
        b.body(data)
    return b.finish()


class Client(ClientCore):
    """One keep-alive HTTP/1.1 connection to one origin (one request in flight).

    ``send(req, reader)`` writes a ``Request`` built by a ``RequestWriter`` and
    returns the ``Response`` parsed by ``reader`` (it borrows the reader's
    buffer). ``get``/``post``/``put``/``delete``/``request`` are conveniences
    with their own writer and reader.
    """

    def __init__(self, scheme: str, host: str, port: int, *, tls: TlsConfig | None,
                 connect_timeout: float | None, read_timeout: float | None,
                 total_timeout: float | None, max_body_size: int, headers: Any,
                 so_rcvbuf: int | None = None, so_sndbuf: int | None = None,
                 proxy: Any = True, proxy_tls: Any = None,
                 accept_encoding: Any = None, rate_limit: RateLimit | None = None,
                 rate_limit_headers: RateLimitHeaders | None = None) -> None:
        check_buffer_sizes(so_rcvbuf, so_sndbuf)
        self.proxy, self.proxy_tls = check_proxy(proxy), proxy_tls   # (a bad proxy URL fails now)
        self.scheme, self.host, self.port = scheme, host, port
        self.buffer_sizes = (so_rcvbuf, so_sndbuf)
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.proto = None
        self.writer = RequestWriter(host, port=port, secure=scheme == "https", headers=headers,
                                    accept_encoding=accept_encoding)
        self.reader = ResponseReader(max_body_size=max_body_size)
        self.limiter = rate_limit
        self.rate_limit_headers = rate_limit_headers
        self.reconnects = 0
        self.closed = False

    # ---- connection management ---------------------------------------------------------
    async def _connect(self) -> None:
        if self.closed:
            raise ClientClosed(f"this client to {self.host}:{self.port} was closed")
        loop = asyncio.get_running_loop()
        codec = TlsCodec(self.tls, False, self.host) if self.tls is not None else None
        proto = Protocol(loop, codec, ResponseReader(4096))
        proto.connect_ns = time.monotonic_ns()
        try:
            # (the proxy is looked up at every (re)connect: a changed environment applies)
            transport, _ = await asyncio.wait_for(
                open_connection(loop, self.proxy, self.proxy_tls, self.scheme, self.host, self.port,
                                lambda: proto), self.connect_timeout)
            proto.connected_ns = time.monotonic_ns()
            apply_buffer_sizes(transport, *self.buffer_sizes)
            if codec is not None:
                await asyncio.wait_for(proto.tls_handshake(), self.connect_timeout)
                proto.tls_ns = time.monotonic_ns()
        except asyncio.TimeoutError:
            proto.close()
            raise RequestTimeout(f"connecting to {self.host}:{self.port} took more than "
                                 f"{self.connect_timeout}s") from None
        self.proto = proto

    @property
    def connected(self) -> bool:
        return self.proto is not None and not self.proto.eof

    @property
    def socket_buffers(self) -> SocketBuffers | None:
        """The kernel's SO_RCVBUF / SO_SNDBUF of the current connection."""
        if self.proto is None or self.proto.transport is None:
            return None
        return buffer_sizes_of(self.proto.transport.get_extra_info("socket"))

    # ---- requests ---------------------------------------------------------------------
    # send(req, reader) is ClientCore's (Cython): see rest/_aio.pyx.

    async def _within_total_timeout(self, exchange: Awaitable[Response], req: Any,
                                    progress: list[Any]) -> Response:
        # (the label now: the caller may overwrite req before the timeout)
        label = describe(req)
        try:
            return await asyncio.wait_for(exchange, self.total_timeout)
        except RequestTimeout:
            raise                             # a read or connect timeout: it says which
        except asyncio.TimeoutError:
            self._discard()
            sent, received, reader = progress
            timeout = RequestTimeout(f"{label} took more than total_timeout={self.total_timeout}s")
            if not sent:
                raise not_sent(timeout, req) from None
            raise outcome_unknown(timeout, req, sent, received, reader) from None

    def _discard(self) -> None:
        if self.proto is not None:
            self.proto.close()
            self.proto = None

    # ---- conveniences ------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      headers: Mapping[str, str] | None = None, json: Any = None,
                      data: bytes | None = None, form: Any = None, weight: int = 1) -> Response:
        """One request: ``params`` (query), ``headers``, a body from ``json``,
        ``form`` (x-www-form-urlencoded) or ``data`` (bytes); ``weight``: its
        cost against the client's ``rate_limit``."""
        req = build_request(self.writer, method, path, params, headers, json, data, form)
        return await self.send(req, self.reader, weight)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def close(self) -> None:
        """Close the connection; later requests raise ClientClosed."""
        self.closed = True
        self._discard()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def parse_origin(url: str, tls: TlsConfig | None) -> tuple[str, str, int, TlsConfig | None]:
    """(scheme, host, port, tls) of an http(s) URL; https without ``tls`` gets
    the default ``TlsConfig()``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r}: need an http:// or https:// URL with a host")
    if parts.scheme == "https" and tls is None:
        tls = TlsConfig()
    if parts.scheme == "http" and tls is not None:
        raise ValueError(f"tls= given for {url!r}: use https://")
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), tls


async def connect(url: str, *, tls: TlsConfig | None = None, connect_timeout: float | None = 10.0,
                  read_timeout: float | None = 30.0, total_timeout: float | None = None,
                  max_body_size: int = 16 * 1024 * 1024, headers: Any = None,
                  so_rcvbuf: int | None = None, so_sndbuf: int | None = None,
                  proxy: Any = True, proxy_tls: Any = None, accept_encoding: Any = None,
                  rate_limit: RateLimit | None = None,
                  rate_limit_headers: RateLimitHeaders | None = None) -> Client:
    """Open a keep-alive connection to ``url``'s origin (http:// or https://).

    ``so_rcvbuf`` / ``so_sndbuf``: SO_RCVBUF / SO_SNDBUF in bytes (None: the
    kernel's autotuning); ``client.socket_buffers`` reads back what it uses.
    ``proxy`` / ``proxy_tls``: as for ``ws.connect`` (docs/proxies.md); the
    connection is a CONNECT tunnel for http:// origins too, and
    ``connect_timeout`` covers the proxy's handshake. ``accept_encoding``:
    e.g. ``("gzip", "deflate")`` to ask for compressed responses (decoded as
    they arrive; ``max_body_size`` bounds the decoded size); off by default.
    ``rate_limit``: a ``RateLimit`` this client's requests (weight 1, or
    ``weight=``) wait for; share one between clients to share the budget.
    ``rate_limit_headers``: the exchange's own headers for ``resp.rate_limit``."""
    scheme, host, port, tls = parse_origin(url, tls)
    client = Client(scheme, host, port, tls=tls, connect_timeout=connect_timeout,
                    read_timeout=read_timeout, total_timeout=total_timeout,
                    max_body_size=max_body_size, headers=headers, so_rcvbuf=so_rcvbuf, so_sndbuf=so_sndbuf,
                    proxy=proxy, proxy_tls=proxy_tls, accept_encoding=accept_encoding,
                    rate_limit=rate_limit, rate_limit_headers=rate_limit_headers)
    await client._connect()
    return client
