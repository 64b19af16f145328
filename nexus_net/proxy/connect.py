"""HTTP CONNECT (RFC 9110, section 9.3.6) as a sans-IO handshake.

The request is built by our HTTP writer and the proxy's answer parsed by our
response reader, told that no body follows (the answer to a CONNECT that
succeeds has none, and one that fails ends our use of the connection). Bytes
after the head of a 2xx answer are the tunnel's first bytes: ``leftover``.
"""

from __future__ import annotations

from nexus_net.http import ResponseReader, write_request
from nexus_net.http.errors import HttpError
from nexus_net.proxy._handshake import Handshake
from nexus_net.proxy.errors import ProxyAuthRequired, ProxyError, ProxyProtocolError

MAX_ANSWER_HEAD = 16 * 1024


def authority(host: str, port: int) -> str:
    """``host:port`` as the request target and Host header want it (IPv6 in brackets)."""
    host = host.strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ConnectHandshake(Handshake):
    """``CONNECT host:port`` through an HTTP proxy, with Basic credentials
    when ``proxy_authorization`` is given (sent, never shown)."""

    eof_message = "the proxy closed the connection before answering CONNECT"

    def __init__(self, host: str, port: int, proxy_authorization: str | None = None) -> None:
        super().__init__()
        if not 0 < port < 65536:
            raise ValueError(f"target port {port} is outside 1-65535")
        target = authority(host, port)
        headers = [("Host", target)]
        if proxy_authorization:
            headers.append(("Proxy-Authorization", proxy_authorization))
        dst = bytearray(512 + sum(len(k) + len(v) for k, v in headers))
        self._out += dst[:write_request(dst, "CONNECT", target, headers)]
        self._reader = ResponseReader(max_head_bytes=MAX_ANSWER_HEAD)
        self._reader.expect_head()
        self.status: int | None = None

    def _received(self, data: bytes) -> None:
        try:
            self._reader.feed(data)
            answer = self._reader.next()
        except HttpError as exc:
            raise ProxyProtocolError(f"the proxy's answer to CONNECT is not HTTP: {exc}") from None
        if answer is None:
            return
        self.status = answer.status
        if 200 <= answer.status < 300:
            self.leftover = bytes(self._reader.read_buffer.readable())
            self.done = True
            return
        # 407 is the proxy's "who are you"; some proxies (tinyproxy 1.11 with
        # BasicAuth) answer a CONNECT with 401 instead: the same meaning here,
        # since only the proxy can have answered.
        cls = ProxyAuthRequired if answer.status in (401, 407) else ProxyError
        raise cls(f"the proxy answered CONNECT with {answer.status} {answer.reason}".rstrip(),
                  status=answer.status, reason=answer.reason, headers=answer.headers())
