"""SOCKS4a and SOCKS5 client handshakes as sans-IO state machines.

A handshake never touches a socket: ``data_to_send()`` gives the bytes to
write, ``receive_data(data)`` takes what the proxy sent. Once ``done`` is
true the tunnel is open and ``leftover`` holds any bytes that came after the
proxy's reply: they are the first bytes of the tunnel and belong to whoever
speaks through it. Failures raise ProxyAuthRequired, ProxyConnectFailed or
ProxyProtocolError; none of them carries the credentials.

SOCKS5 is RFC 1928 (CONNECT only), with RFC 1929 username/password
authentication when credentials are given; SOCKS4a is the SOCKS4 protocol
with the target named by host name (the proxy resolves it).
"""

from __future__ import annotations

import ipaddress
import struct

from nexus_net.proxy._handshake import Handshake
from nexus_net.proxy.errors import ProxyAuthRequired, ProxyConnectFailed, ProxyProtocolError

SOCKS5_REPLIES = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}
SOCKS4_REPLIES = {
    91: "request rejected or failed",
    92: "request rejected: the proxy cannot reach our identd",
    93: "request rejected: identd reports a different user id",
}
MAX_NAME = 255


class _SocksHandshake(Handshake):
    """SOCKS replies are parsed from an input buffer, in place."""

    eof_message = "the proxy closed the connection during the SOCKS handshake"

    def __init__(self) -> None:
        super().__init__()
        self._in = bytearray()

    def _received(self, data: bytes) -> None:
        self._in += data
        self._advance()

    def _advance(self) -> None:
        raise NotImplementedError

    def _finish(self, used: int) -> None:
        self.leftover = bytes(self._in[used:])
        self._in.clear()
        self.done = True


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise ValueError(f"target port {port} is outside 1-65535")


class Socks5Handshake(_SocksHandshake):
    """SOCKS5 CONNECT to ``host:port``.

    ``host`` is sent as a name (the proxy resolves it: socks5h) unless it is
    an IP literal; for socks5 (local DNS) the caller resolves first and gives
    the address.
    """

    def __init__(self, host: str, port: int, username: str | None = None,
                 password: str | None = None) -> None:
        super().__init__()
        _check_port(port)
        self._auth = None
        if username is not None:
            user, pw = username.encode(), (password or "").encode()
            if not 0 < len(user) <= 255 or len(pw) > 255:
                raise ValueError("SOCKS5 user names and passwords are 1-255 and 0-255 bytes")
            self._auth = bytes([1, len(user)]) + user + bytes([len(pw)]) + pw
        addr = _address(host)
        if addr is None:
            name = host.encode("idna")
            if not 0 < len(name) <= MAX_NAME:
                raise ValueError(f"host name of {len(name)} bytes: SOCKS5 allows 1-255")
            target = bytes([3, len(name)]) + name
        elif addr.version == 4:
            target = b"\x01" + addr.packed
        else:
            target = b"\x04" + addr.packed
        self._request = b"\x05\x01\x00" + target + struct.pack("!H", port)
        self._state = "method"
        methods = b"\x00\x02" if self._auth is not None else b"\x00"
        self._out += bytes([5, len(methods)]) + methods

    def _advance(self) -> None:
        buf = self._in
        if self._state == "method":
            if len(buf) < 2:
                return
            if buf[0] != 5:
                raise ProxyProtocolError(f"not a SOCKS5 proxy (its reply starts with 0x{buf[0]:02X})")
            method = buf[1]
            del buf[:2]
            if method == 0x00:
                self._state = "reply"
                self._out += self._request
            elif method == 0x02 and self._auth is not None:
                self._state = "auth"
                self._out += self._auth
            elif method == 0xFF:
                raise ProxyAuthRequired(
                    "the SOCKS5 proxy accepts none of our authentication methods"
                    + ("" if self._auth is not None else " (it may want a user name and password)"))
            else:
                raise ProxyProtocolError(f"the SOCKS5 proxy chose method 0x{method:02X}, which we did not offer")
        if self._state == "auth":
            if len(buf) < 2:
                return
            if buf[0] != 1:
                raise ProxyProtocolError(f"bad SOCKS5 authentication reply version {buf[0]}")
            if buf[1] != 0:
                raise ProxyAuthRequired("the SOCKS5 proxy rejected the user name and password")
            del buf[:2]
            self._state = "reply"
            self._out += self._request
        if self._state == "reply":
            if len(buf) < 5:
                return
            if buf[0] != 5:
                raise ProxyProtocolError(f"bad SOCKS5 reply version {buf[0]}")
            rep, atyp = buf[1], buf[3]
            if rep != 0:
                name = SOCKS5_REPLIES.get(rep, "unassigned reply code")
                raise ProxyConnectFailed(f"SOCKS5 proxy could not connect: {name} (0x{rep:02X})",
                                         reply=rep, reply_name=name)
            if atyp == 1:
                size = 4 + 4 + 2
            elif atyp == 4:
                size = 4 + 16 + 2
            elif atyp == 3:
                size = 4 + 1 + buf[4] + 2
            else:
                raise ProxyProtocolError(f"SOCKS5 reply with unknown address type 0x{atyp:02X}")
            if len(buf) < size:
                return
            self._finish(size)


class Socks4aHandshake(_SocksHandshake):
    """SOCKS4a CONNECT to ``host:port`` (a name is resolved by the proxy; an
    IPv4 literal is sent as an address; SOCKS4 has no IPv6)."""

    def __init__(self, host: str, port: int, user_id: str | None = None) -> None:
        super().__init__()
        _check_port(port)
        user = (user_id or "").encode()
        if b"\x00" in user:
            raise ValueError("a SOCKS4 user id cannot contain NUL")
        addr = _address(host)
        if addr is not None and addr.version == 6:
            raise ValueError("SOCKS4a cannot reach an IPv6 address; use socks5 or socks5h")
        if addr is not None:
            self._out += struct.pack("!BBH", 4, 1, port) + addr.packed + user + b"\x00"
        else:
            name = host.encode("idna")
            if not name or b"\x00" in name:
                raise ValueError("empty or invalid host name")
            self._out += struct.pack("!BBH", 4, 1, port) + b"\x00\x00\x00\x01" + user + b"\x00" + name + b"\x00"

    def _advance(self) -> None:
        buf = self._in
        if len(buf) < 8:
            return
        if buf[0] != 0:
            raise ProxyProtocolError(f"not a SOCKS4 proxy (its reply starts with 0x{buf[0]:02X})")
        code = buf[1]
        if code != 90:
            name = SOCKS4_REPLIES.get(code, "unknown reply code")
            raise ProxyConnectFailed(f"SOCKS4a proxy could not connect: {name} ({code})",
                                     reply=code, reply_name=name)
        self._finish(8)
