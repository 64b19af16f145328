"""The asyncio REST client: ``conn = await rest.connect(url)``, ``await conn.send(req, reader)``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping
from urllib.parse import urlsplit

from nexus_net.http import ConnectionLost, RequestTimeout, Response, ResponseReader
from nexus_net.rest._request import Request, RequestWriter
from nexus_net.tls import TlsCodec, TlsConfig

log = logging.getLogger("nexus_net.rest")

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def build_request(writer: RequestWriter, method: str, path: str, params: Mapping[str, Any] | None,
                  headers: Mapping[str, str] | None, json: Any, data: bytes | None) -> Request:
    """The request the ``get``/``post``/... conveniences send."""
    b = writer.request(method, path)
    for k, v in (params or {}).items():
        b.query(k, v)
    for k, v in (headers or {}).items():
        b.header(k, v)
    if json is not None:
        b.header("Content-Type", "application/json").body_json(json)
    elif data is not None:
        b.body(data)
    return b.finish()


class _Protocol(asyncio.BufferedProtocol):
    """Moves bytes between the socket and the current request's ResponseReader."""

    def __init__(self, tls: TlsCodec | None) -> None:
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.reader: ResponseReader | None = None
        self.spare = ResponseReader(4096)       # catches bytes that arrive between requests
        self.waiter: asyncio.Future[None] | None = None
        self.eof = False
        self.lost = False
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.tls is not None:
            return self.tls.get_buffer()
        return (self.reader or self.spare).buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.received += nbytes
        reader = self.reader or self.spare
        if self.tls is not None:
            self.tls.buffer_updated(nbytes)
            if self.tls.handshake_done:
                self.tls.read_into(reader.read_buffer)
        else:
            reader.advance(nbytes)
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for bytes (or EOF). The future is armed before the first await,
        so bytes that arrive before this task runs again still wake it."""
        waiter = self.waiter = asyncio.get_running_loop().create_future()
        try:
            if timeout is None:
                await waiter
            else:
                await asyncio.wait_for(waiter, timeout)   # a future: no extra task
        finally:
            self.waiter = None

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        if self.tls is not None:
            self.transport.write(self.tls.encrypt(data))
        else:
            self.transport.write(data)

    async def tls_handshake(self) -> None:
        assert self.tls is not None and self.transport is not None
        while True:
            try:
                done = self.tls.do_handshake()
            finally:
                out = self.tls.pending_output()
                if out and not self.lost:
                    self.transport.write(out)
            if done:
                return
            if self.lost:
                raise ConnectionLost("connection closed during the TLS handshake")
            await self.wait()

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            if self.tls is not None and self.tls.handshake_done:
                self.transport.write(self.tls.shutdown())
            self.transport.close()


class Client:
    """One keep-alive HTTP/1.1 connection to one origin (one request in flight).

    ``send(req, reader)`` writes a ``Request`` built by a ``RequestWriter`` and
    returns the ``Response`` parsed by ``reader`` (it borrows the reader's
    buffer). ``get``/``post``/``put``/``delete``/``request`` are conveniences
    with their own writer and reader.
    """

    def __init__(self, scheme: str, host: str, port: int, *, tls: TlsConfig | None,
                 connect_timeout: float | None, read_timeout: float | None,
                 total_timeout: float | None, max_body_size: int, headers: Any) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.proto: _Protocol | None = None
        self.writer = RequestWriter(host, port=port, secure=scheme == "https", headers=headers)
        self.reader = ResponseReader(max_body_size=max_body_size)
        self.lock = asyncio.Lock()
        self.reconnects = 0

    # ---- connection management ---------------------------------------------------------
    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        codec = TlsCodec(self.tls, False, self.host) if self.tls is not None else None
        proto = _Protocol(codec)
        try:
            await asyncio.wait_for(loop.create_connection(lambda: proto, self.host, self.port),
                                   self.connect_timeout)
            if codec is not None:
                await asyncio.wait_for(proto.tls_handshake(), self.connect_timeout)
        except asyncio.TimeoutError:
            proto.close()
            raise RequestTimeout(f"connecting to {self.host}:{self.port} took more than "
                                 f"{self.connect_timeout}s") from None
        self.proto = proto

    @property
    def connected(self) -> bool:
        return self.proto is not None and not self.proto.eof

    # ---- requests ---------------------------------------------------------------------
    async def send(self, req: Request, reader: ResponseReader) -> Response:
        """Send ``req`` and wait for its response (keep-alive; retried once on a
        fresh connection if an idempotent request met a connection the server
        had closed)."""
        if self.total_timeout is None:
            return await self._send(req, reader)
        try:
            return await asyncio.wait_for(self._send(req, reader), self.total_timeout)
        except asyncio.TimeoutError:
            self._discard()
            raise RequestTimeout(f"{req.method} {req.target} took more than {self.total_timeout}s") from None

    async def _send(self, req: Request, reader: ResponseReader) -> Response:
        data = req.bytes()          # a copy: the transport may keep it past this call
        async with self.lock:
            for attempt in (0, 1):
                if not self.connected:
                    self._discard()
                    await self._connect()
                    if attempt or self.reconnects:
                        log.debug("reconnected to %s:%d", self.host, self.port)
                    self.reconnects += 1
                proto = self.proto
                assert proto is not None
                if proto.spare.pending:
                    self._discard()           # bytes nobody asked for: don't trust this connection
                    continue
                reader.reset()                # reader state belongs to one exchange on one connection
                proto.reader = reader
                if req.method == "HEAD":
                    reader.expect_head()
                before = proto.received
                proto.write(data)
                try:
                    response = await self._read(proto, reader)
                except ConnectionLost:
                    self._discard()
                    if attempt == 0 and proto.received == before and req.method in IDEMPOTENT:
                        log.debug("server closed the idle connection; retrying %s %s", req.method, req.target)
                        continue
                    raise
                finally:
                    proto.reader = None
                if not response.keep_alive:
                    self._discard()
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(self, proto: _Protocol, reader: ResponseReader) -> Response:
        while True:
            response = reader.next()
            if response is not None:
                return response
            if proto.eof:
                try:
                    reader.feed_eof()
                    response = reader.next()
                except Exception as exc:
                    raise ConnectionLost(f"server closed the connection mid-response: {exc}") from exc
                if response is not None:
                    return response
                raise ConnectionLost("server closed the connection before responding")
            # Awaited inline, never wrapped in wait_for(): a coroutine handed to
            # wait_for() runs as a new task, and bytes arriving before its first
            # step would wake nobody.
            try:
                await proto.wait(self.read_timeout)
            except asyncio.TimeoutError:
                self._discard()
                raise RequestTimeout(f"no response within read_timeout={self.read_timeout}s") from None

    def _discard(self) -> None:
        if self.proto is not None:
            self.proto.close()
            self.proto = None

    # ---- conveniences ------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      headers: Mapping[str, str] | None = None, json: Any = None,
                      data: bytes | None = None) -> Response:
        req = build_request(self.writer, method, path, params, headers, json, data)
        return await self.send(req, self.reader)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def close(self) -> None:
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
                  max_body_size: int = 16 * 1024 * 1024, headers: Any = None) -> Client:
    """Open a keep-alive connection to ``url``'s origin (http:// or https://)."""
    scheme, host, port, tls = parse_origin(url, tls)
    client = Client(scheme, host, port, tls=tls, connect_timeout=connect_timeout,
                    read_timeout=read_timeout, total_timeout=total_timeout,
                    max_body_size=max_body_size, headers=headers)
    await client._connect()
    return client
