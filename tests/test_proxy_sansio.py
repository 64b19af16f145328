"""The proxy layer without I/O: URLs, the environment rules, and the SOCKS4a,
SOCKS5 and HTTP CONNECT handshakes byte by byte (issue 13)."""

from __future__ import annotations

import struct
import urllib.request

import pytest

from nexus_net.proxy import (ConnectHandshake, ProxyAuthRequired, ProxyConnectFailed, ProxyError,
                             ProxyProtocolError, Socks4aHandshake, Socks5Handshake, bypass_proxy, parse_proxy,
                             proxy_from_environment, resolve_proxy)

# ---- URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize("url, scheme, host, port", [
    ("http://proxy.example:3128", "http", "proxy.example", 3128),
    ("http://proxy.example", "http", "proxy.example", 80),
    ("https://proxy.example", "https", "proxy.example", 443),
    ("socks5://10.0.0.1", "socks5", "10.0.0.1", 1080),
    ("socks5h://[::1]:9050", "socks5h", "::1", 9050),
    ("SOCKS4A://Proxy:1081", "socks4a", "proxy", 1081),
    ("proxy.example:8080", "http", "proxy.example", 8080),       # no scheme: HTTP, as in many environments
])
def test_proxy_urls(url, scheme, host, port):
    p = parse_proxy(url)
    assert (p.scheme, p.host, p.port, p.username, p.password) == (scheme, host, port, None, None)


def test_credentials_are_decoded_and_never_printed():
    p = parse_proxy("http://al%40ice:p%3Ass@proxy:3128")
    assert (p.username, p.password) == ("al@ice", "p:ss")
    for text in (repr(p), str(p), p.redacted, f"{p}"):
        assert "ice" not in text and "p:ss" not in text and "p%3Ass" not in text
        assert "***@proxy:3128" in text
    assert p.basic_auth() == "Basic YWxAaWNlOnA6c3M="


@pytest.mark.parametrize("url, fragment", [
    ("ftp://user:hunter2@proxy:21", "unsupported proxy scheme"),
    ("http://user:hunter2@proxy:notaport", "invalid port"),
    ("http://user:hunter2@:3128", "no host"),
    ("http://user:hunter2@proxy:3128/path", "no path"),
    ("socks4a://user:hunter2@proxy", "no password"),
])
def test_bad_proxy_urls_say_why_without_the_password(url, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        parse_proxy(url)
    assert "hunter2" not in str(info.value)


# ---- no_proxy: the same decisions as urllib -----------------------------------------------

HOSTS = [("example.com", 443), ("api.example.com", 443), ("example.com", 8080), ("notexample.com", 443),
         ("localhost", 80), ("127.0.0.1", 9001), ("10.1.2.3", 443), ("EXAMPLE.com", 443), ("a.b.c.example.com", 80)]
NO_PROXY = ["", "*", "example.com", ".example.com", "EXAMPLE.COM", "example.com:8080", "example.com:443",
            "localhost,127.0.0.1", "foo.org, .example.com", "127.0.0.1:9001", "10.1.2.3", "c.example.com",
            "xample.com", ",,", "other.org"]


@pytest.mark.parametrize("no_proxy", NO_PROXY)
def test_bypass_decides_like_urllib(no_proxy):
    for host, port in HOSTS:
        expected = bool(no_proxy) and urllib.request.proxy_bypass_environment(
            f"{host}:{port}", {"no": no_proxy})
        assert bypass_proxy(host, port, no_proxy) == bool(expected), (host, port, no_proxy)


@pytest.mark.parametrize("host, no_proxy, expected", [
    ("::1", "::1", True), ("::1", "[::1]", True), ("::1", "[::1]:8080", True), ("::1", "[::1]:9", False),
    ("2001:db8::1", "2001:db8::2", False),
])
def test_bypass_ipv6_literals_with_or_without_brackets(host, no_proxy, expected):
    # (urllib compares "[::1]" with "::1" as strings and never matches these)
    assert bypass_proxy(host, 8080, no_proxy) is expected


# ---- the environment -----------------------------------------------------------------------

@pytest.mark.parametrize("scheme, env, expected", [
    ("wss", {"https_proxy": "http://s:1"}, "http://s:1"),
    ("https", {"HTTPS_PROXY": "http://s:1"}, "http://s:1"),
    ("ws", {"http_proxy": "http://h:1", "https_proxy": "http://s:1"}, "http://h:1"),
    ("wss", {"http_proxy": "http://h:1"}, None),                      # no https_proxy, no all_proxy
    ("wss", {"all_proxy": "socks5h://a:1"}, "socks5h://a:1"),
    ("ws", {"ALL_PROXY": "socks5://a:1", "http_proxy": "http://h:1"}, "http://h:1"),
    ("ws", {"http_proxy": "http://lower:1", "HTTP_PROXY": "http://upper:1"}, "http://lower:1"),
    ("ws", {"HTTP_PROXY": "http://upper:1", "REQUEST_METHOD": "GET"}, None),   # httpoxy
    ("ws", {"http_proxy": "http://lower:1", "REQUEST_METHOD": "GET"}, "http://lower:1"),
    ("wss", {"https_proxy": "http://s:1", "no_proxy": "example.com"}, None),
    ("wss", {"https_proxy": "http://s:1", "NO_PROXY": "*"}, None),
    ("wss", {"https_proxy": "http://s:1", "no_proxy": "other.com"}, "http://s:1"),
    ("wss", {"https_proxy": "  "}, None),
])
def test_environment_rules(scheme, env, expected):
    got = proxy_from_environment(scheme, "example.com", 443, env)
    assert (got.redacted if got else None) == (parse_proxy(expected).redacted if expected else None)


def test_the_proxy_argument():
    env = {"https_proxy": "http://s:1"}
    assert resolve_proxy(True, "wss", "example.com", 443, env).host == "s"
    assert resolve_proxy(None, "wss", "example.com", 443, env) is None
    assert resolve_proxy(False, "wss", "example.com", 443, env) is None
    assert resolve_proxy("socks5h://x:2", "wss", "example.com", 443, {"no_proxy": "*"}).host == "x"


# ---- SOCKS5 ------------------------------------------------------------------------------------

def feed_bytewise(handshake, data: bytes) -> None:
    for i in range(len(data)):
        assert not handshake.done
        handshake.receive_data(data[i:i + 1])


def socks5_reply(code=0, atyp=1, addr=b"\x7f\x00\x00\x01", port=1080) -> bytes:
    return bytes([5, code, 0, atyp]) + addr + struct.pack("!H", port)


def test_socks5_without_auth_names_the_host_and_keeps_the_tunnel_bytes():
    h = Socks5Handshake("example.com", 443)
    assert h.data_to_send() == b"\x05\x01\x00"
    h.receive_data(b"\x05\x00")
    assert h.data_to_send() == b"\x05\x01\x00\x03\x0bexample.com\x01\xbb"
    reply = socks5_reply()
    feed_bytewise(h, reply[:-1])                     # not done a byte early...
    h.receive_data(reply[-1:] + b"first tunnel bytes")
    assert h.done and h.leftover == b"first tunnel bytes"


def test_socks5_reply_and_tunnel_bytes_in_one_read():
    h = Socks5Handshake("10.0.0.7", 80)
    h.data_to_send()
    h.receive_data(b"\x05\x00")
    assert h.data_to_send() == b"\x05\x01\x00\x01\x0a\x00\x00\x07\x00\x50"
    h.receive_data(socks5_reply(atyp=3, addr=b"\x04host") + b"HTTP/1.1 101")
    assert h.done and h.leftover == b"HTTP/1.1 101"
    with pytest.raises(RuntimeError):
        h.receive_data(b"more")


def test_socks5_ipv6_target_and_reply():
    h = Socks5Handshake("::1", 9001)
    h.data_to_send()
    h.receive_data(b"\x05\x00")
    assert h.data_to_send() == b"\x05\x01\x00\x04" + b"\x00" * 15 + b"\x01" + struct.pack("!H", 9001)
    h.receive_data(socks5_reply(atyp=4, addr=b"\x00" * 16))
    assert h.done


def test_socks5_username_password():
    h = Socks5Handshake("example.com", 443, "alice", "s3cret")
    assert h.data_to_send() == b"\x05\x02\x00\x02"
    h.receive_data(b"\x05\x02")
    assert h.data_to_send() == b"\x01\x05alice\x06s3cret"
    h.receive_data(b"\x01\x00")
    assert h.data_to_send().startswith(b"\x05\x01\x00\x03")
    h.receive_data(socks5_reply())
    assert h.done


def test_socks5_wrong_password_is_auth_required():
    h = Socks5Handshake("example.com", 443, "alice", "wrong")
    h.data_to_send()
    h.receive_data(b"\x05\x02")
    with pytest.raises(ProxyAuthRequired) as info:
        h.receive_data(b"\x01\x01")
    assert "wrong" not in str(info.value)


def test_socks5_proxy_that_wants_credentials_we_lack():
    h = Socks5Handshake("example.com", 443)
    with pytest.raises(ProxyAuthRequired, match="user name and password"):
        h.receive_data(b"\x05\xff")


@pytest.mark.parametrize("code, name", [(1, "general SOCKS server failure"), (2, "connection not allowed by ruleset"),
                                        (5, "connection refused"), (8, "address type not supported"),
                                        (0x42, "unassigned reply code")])
def test_socks5_failure_replies_by_name(code, name):
    h = Socks5Handshake("example.com", 443)
    h.receive_data(b"\x05\x00")
    with pytest.raises(ProxyConnectFailed) as info:
        h.receive_data(socks5_reply(code))
    assert (info.value.reply, info.value.reply_name) == (code, name)
    assert name in str(info.value)


@pytest.mark.parametrize("reply", [b"HTTP/1.1 400 Bad Request\r\n", b"\x04\x5a"])
def test_not_a_socks5_proxy(reply):
    with pytest.raises(ProxyProtocolError, match="not a SOCKS5 proxy"):
        Socks5Handshake("example.com", 443).receive_data(reply)


def test_eof_during_a_handshake():
    with pytest.raises(ProxyProtocolError, match="closed"):
        Socks5Handshake("example.com", 443).receive_data(b"")


def test_socks5_bad_arguments():
    with pytest.raises(ValueError):
        Socks5Handshake("x" * 256, 443)
    with pytest.raises(ValueError):
        Socks5Handshake("example.com", 0)
    with pytest.raises(ValueError):
        Socks5Handshake("example.com", 443, "u" * 256, "p")


# ---- SOCKS4a -----------------------------------------------------------------------------------

def test_socks4a_by_name_and_by_address():
    h = Socks4aHandshake("example.com", 443, "bob")
    assert h.data_to_send() == b"\x04\x01\x01\xbb\x00\x00\x00\x01bob\x00example.com\x00"
    feed_bytewise(h, b"\x00\x5a\x00\x00\x00\x00\x00\x00")
    assert h.done
    h = Socks4aHandshake("10.0.0.7", 80)
    assert h.data_to_send() == b"\x04\x01\x00\x50\x0a\x00\x00\x07\x00"
    h.receive_data(b"\x00\x5a\x00\x00\x00\x00\x00\x00tunnel")
    assert h.leftover == b"tunnel"


def test_socks4a_rejection_and_limits():
    h = Socks4aHandshake("example.com", 443)
    with pytest.raises(ProxyConnectFailed) as info:
        h.receive_data(b"\x00\x5b\x00\x00\x00\x00\x00\x00")
    assert info.value.reply == 91 and "rejected" in info.value.reply_name
    with pytest.raises(ValueError, match="IPv6"):
        Socks4aHandshake("::1", 443)


# ---- HTTP CONNECT ------------------------------------------------------------------------------

def test_connect_request_and_established_tunnel():
    h = ConnectHandshake("example.com", 443, "Basic YWxpY2U6czNjcmV0")
    assert h.data_to_send() == (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
                                b"Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n")
    assert h.data_to_send() == b""
    head = b"HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\n"
    for i in range(len(head) - 1):                 # the head a byte at a time...
        h.receive_data(head[i:i + 1])
        assert not h.done
    h.receive_data(head[-1:] + b"\x16\x03\x01 TLS bytes")   # ...its end with the tunnel's first bytes
    assert h.done and h.status == 200 and h.leftover == b"\x16\x03\x01 TLS bytes"


def test_connect_ipv6_target_is_bracketed():
    assert ConnectHandshake("::1", 8443).data_to_send().startswith(b"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443")


def test_connect_407_and_other_refusals():
    h = ConnectHandshake("example.com", 443)
    with pytest.raises(ProxyAuthRequired) as info:
        h.receive_data(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                       b"Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 5\r\n\r\nnope!")
    assert info.value.status == 407
    assert ("Proxy-Authenticate", 'Basic realm="x"') in info.value.headers
    with pytest.raises(ProxyError) as info:
        ConnectHandshake("example.com", 443).receive_data(b"HTTP/1.1 403 Forbidden\r\n\r\n")
    assert info.value.status == 403 and not isinstance(info.value, ProxyAuthRequired)
    assert "403 Forbidden" in str(info.value)


def test_connect_answer_that_is_not_http():
    with pytest.raises(ProxyProtocolError, match="not HTTP"):
        ConnectHandshake("example.com", 443).receive_data(b"\x05\x00\x00\x00garbage\r\n\r\n")
    with pytest.raises(ProxyProtocolError, match="closed"):
        ConnectHandshake("example.com", 443).receive_data(b"")
