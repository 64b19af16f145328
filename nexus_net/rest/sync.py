"""The blocking REST client: ``conn = rest.sync.connect(url)``, ``conn.send(req, reader)``.

Same requests, responses, errors and keep-alive rules as the asyncio client,
over a plain socket: bytes are received with ``recv_into`` straight into the
``ResponseReader``'s buffer. Use one connection from one thread at a time.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any, Mapping

from nexus_net._blocking_io import BlockingIo
from nexus_net.http import ClientClosed, ConnectionLost, RequestTimeout, Response, ResponseReader
from nexus_net.rest._request import Request, RequestWriter
from nexus_net.rest._aio import IDEMPOTENT, not_sent, outcome_unknown
from nexus_net.rest.client import build_request, parse_origin
from nexus_net.rest.ratelimit import RateLimit, RateLimitHeaders
from nexus_net._sockopts import SocketBuffers, apply_buffer_sizes, buffer_sizes_of, check_buffer_sizes
from nexus_net.proxy import check_proxy
from nexus_net.proxy.tunnel import open_socket
from nexus_net.tls import TlsCodec, TlsConfig, TlsError

log = logging.getLogger("nexus_net.rest")


class Client:
    """One keep-alive HTTP/1.1 connection, blocking. See ``rest.Client``."""

    def __init__(self, scheme: str, host: str, port: int, *, tls: TlsConfig | None,
                 connect_timeout: float | None, read_timeout: float | None,
                 max_body_size: int, headers: Any, so_rcvbuf: int | None = None,
                 so_sndbuf: int | None = None, proxy: Any = True, proxy_tls: Any = None,
                 accept_encoding: Any = None, rate_limit: RateLimit | None = None,
                 rate_limit_headers: RateLimitHeaders | None = None) -> None:
        check_buffer_sizes(so_rcvbuf, so_sndbuf)
        self.proxy, self.proxy_tls = check_proxy(proxy), proxy_tls   # (a bad proxy URL fails now)
        self.scheme, self.host, self.port = scheme, host, port
        self.buffer_sizes = (so_rcvbuf, so_sndbuf)
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.io: BlockingIo | None = None
        self.writer = RequestWriter(host, port=port, secure=scheme == "https", headers=headers,
                                    accept_encoding=accept_encoding)
        self.reader = ResponseReader(max_body_size=max_body_size)
        self.reconnects = 0
        self.closed = False
        self.connect_times = (0, 0, 0)
        self.limiter = rate_limit
        self.rate_limit_headers = rate_limit_headers

    @property
    def socket_buffers(self) -> SocketBuffers | None:
        """The kernel's SO_RCVBUF / SO_SNDBUF of the current connection."""
        return buffer_sizes_of(self.io.sock) if self.io is not None else None

    def _connect(self) -> None:
        if self.closed:
            raise ClientClosed(f"this client to {self.host}:{self.port} was closed")
        t_connect = time.monotonic_ns()
        try:
            # (the proxy is looked up at every (re)connect: a changed environment applies)
            sock, first = open_socket(self.proxy, self.proxy_tls, self.scheme, self.host, self.port,
                                      timeout=self.connect_timeout)
        except socket.timeout:
            raise RequestTimeout(f"connecting to {self.host}:{self.port} took more than "
                                 f"{self.connect_timeout}s") from None
        t_connected = time.monotonic_ns()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        apply_buffer_sizes(sock, *self.buffer_sizes)
        io = BlockingIo(sock, TlsCodec(self.tls, False, self.host) if self.tls is not None else None, first)
        if io.codec is not None:
            try:
                io.tls_handshake(ResponseReader(4096))
            except socket.timeout:
                sock.close()
                raise RequestTimeout(f"TLS handshake with {self.host}:{self.port} timed out") from None
            except BaseException:
                sock.close()
                raise
        io.set_timeout(self.read_timeout)
        self.io = io
        self.connect_times = (t_connect, t_connected, time.monotonic_ns() if io.codec is not None else 0)

    def _discard(self) -> None:
        if self.io is not None:
            try:
                self.io.close()
            except OSError:
                pass
            self.io = None

    def send(self, req: Request, reader: ResponseReader, weight: int = 1) -> Response:
        """Send ``req``, wait for and return its response (see ``rest.Client.send``):
        RequestNotSent (ConnectFailed, ConnectTimeout) when no byte of it was
        written, OutcomeUnknown (ResponseLost, ResponseTimeout) once some were."""
        data = req.bytes()
        method = req.method
        if self.limiter is not None:
            self.limiter.acquire_blocking(weight)
        for attempt in (0, 1):
            opened = False
            if self.io is None or self.io.peer_closed_idle():
                self._discard()
                if self.reconnects or attempt:
                    log.debug("reconnecting to %s:%d", self.host, self.port)
                try:
                    self._connect()
                except (OSError, RequestTimeout) as exc:
                    raise not_sent(exc, req) from exc
                self.reconnects += 1
                opened = True
            io = self.io
            assert io is not None
            reader.reset()                    # reader state belongs to one exchange on one connection
            if req.is_head:
                reader.expect_head()
            try:
                io.send(data)
            except OSError as exc:           # the send failed: the connection is gone
                self._discard()
                if not io.wrote_any:
                    if attempt == 0:
                        continue              # nothing went out: safe to send again, any method
                    raise not_sent(ConnectionLost(f"sending failed: {exc}"), req) from exc
                if attempt == 0 and method in IDEMPOTENT:
                    continue
                raise outcome_unknown(ConnectionLost(f"sending failed: {exc}"), req, len(data), 0,
                                      reader) from exc
            t_written = time.monotonic_ns()
            t_first = 0
            received = 0
            try:
                while True:
                    response = reader.next()
                    if response is not None:
                        break
                    try:
                        n = io.fill(reader)
                    except socket.timeout:
                        raise RequestTimeout(f"no response within read_timeout={self.read_timeout}s") from None
                    except (OSError, TlsError) as exc:
                        log.debug("receive failed: %r", exc)
                        n = 0
                    if n == 0:
                        try:
                            reader.feed_eof()
                            response = reader.next()
                        except Exception as exc:
                            raise ConnectionLost(f"server closed the connection mid-response: {exc}") from exc
                        if response is not None:
                            break
                        raise ConnectionLost("server closed the connection before responding")
                    if not received:
                        t_first = time.monotonic_ns()
                    received += n
            except (ConnectionLost, RequestTimeout) as exc:
                self._discard()
                if attempt == 0 and received == 0 and method in IDEMPOTENT \
                        and not isinstance(exc, RequestTimeout):
                    continue
                raise outcome_unknown(exc, req, len(data), received, reader) from exc
            except BaseException:
                self._discard()               # a parse error: the connection's state is unknown
                raise
            if not response.keep_alive:
                self._discard()
            response.request_method = method
            response.rate_limit_headers = self.rate_limit_headers
            if opened:
                response._set_timings(*self.connect_times, t_written, t_first or t_written)
            else:
                response._set_timings(0, 0, 0, t_written, t_first or t_written)
            if self.limiter is not None and response.status in (429, 418):
                self.limiter.note_response(response.status, response.header("retry-after"))
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, json: Any = None,
                data: bytes | None = None, form: Any = None, weight: int = 1) -> Response:
        return self.send(build_request(self.writer, method, path, params, headers, json, data, form),
                         self.reader, weight)

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        """Close the connection; later requests raise ClientClosed."""
        self.closed = True
        self._discard()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str, *, tls: TlsConfig | None = None, connect_timeout: float | None = 10.0,
            read_timeout: float | None = 30.0, max_body_size: int = 16 * 1024 * 1024,
            headers: Any = None, so_rcvbuf: int | None = None, so_sndbuf: int | None = None,
            proxy: Any = True, proxy_tls: Any = None, accept_encoding: Any = None,
            rate_limit: RateLimit | None = None, rate_limit_headers: RateLimitHeaders | None = None) -> Client:
    """Open a blocking keep-alive connection to ``url``'s origin (``so_rcvbuf`` /
    ``so_sndbuf``, ``proxy`` / ``proxy_tls``, ``accept_encoding``, ``rate_limit``,
    ``rate_limit_headers`` as for ``rest.connect``)."""
    scheme, host, port, tls = parse_origin(url, tls)
    client = Client(scheme, host, port, tls=tls, connect_timeout=connect_timeout, read_timeout=read_timeout,
                    max_body_size=max_body_size, headers=headers, so_rcvbuf=so_rcvbuf, so_sndbuf=so_sndbuf,
                    proxy=proxy, proxy_tls=proxy_tls, accept_encoding=accept_encoding,
                    rate_limit=rate_limit, rate_limit_headers=rate_limit_headers)
    client._connect()
    return client
