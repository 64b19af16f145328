"""WebSocket connections through real proxies on 127.0.0.1 (issue 13):
pproxy for HTTP CONNECT, HTTP CONNECT over TLS, SOCKS4a and SOCKS5."""

from __future__ import annotations

import asyncio
import logging

import pytest

from nexus_net import ws
from nexus_net.proxy import ProxyAuthRequired, ProxyConnectFailed, ProxyError, check_proxy
from nexus_net.tls import TlsConfig
from proxies import free_port, pproxy
from wsutil import nexus_server, raw_server

pytest.importorskip("pproxy")
NOPING = dict(ping_interval=None)
BIG = bytes(range(256)) * (16 * 4096)            # 16 MiB


@pytest.fixture(scope="module")
def open_proxy():
    with pproxy("http+socks4+socks5") as port:
        yield port


@pytest.fixture(scope="module")
def auth_proxy():
    with pproxy("http+socks5", "alice:s3cret") as port:
        yield port


@pytest.fixture(scope="module")
def pki(localhost_pki):
    return localhost_pki


@pytest.fixture(scope="module")
def tls_proxy(pki):
    with pproxy("http+ssl", None, "--ssl", pki["server"]) as port:
        yield port


async def echo_through(url: str, proxy: object, big: bool = False, **kw) -> None:
    async with ws.connect(url, proxy=proxy, open_timeout=20, **NOPING, **kw) as conn:
        await conn.send_text(f"through {proxy}")
        assert (await conn.recv()).text() == f"through {proxy}"
        if big:
            await conn.send_binary(BIG)
            got = await conn.recv()
            assert len(got) == len(BIG) and got.bytes() == BIG


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h", "socks4a"])
async def test_ws_echo_through_each_proxy_kind_16_mib_included(open_proxy, scheme):
    async with nexus_server(max_message_size=32 << 20) as server:
        await echo_through(f"ws://127.0.0.1:{server.port}/", f"{scheme}://127.0.0.1:{open_proxy}",
                           big=True, max_message_size=32 << 20)


@pytest.mark.parametrize("scheme", ["http", "socks5h"])
async def test_wss_through_a_proxy(open_proxy, pki, scheme):
    tls = TlsConfig.server(pki["server"], pki["server"])
    async with nexus_server(tls=tls) as server:
        await echo_through(f"wss://localhost:{server.port}/", f"{scheme}://127.0.0.1:{open_proxy}",
                           tls=TlsConfig(ca_file=pki["ca"]))


async def test_wss_through_an_https_proxy_is_tls_inside_tls(tls_proxy, pki):
    tls = TlsConfig.server(pki["server"], pki["server"])
    async with nexus_server(tls=tls, max_message_size=32 << 20) as server:
        await echo_through(f"wss://localhost:{server.port}/", f"https://localhost:{tls_proxy}",
                           big=True, tls=TlsConfig(ca_file=pki["ca"]), proxy_tls=TlsConfig(ca_file=pki["ca"]),
                           max_message_size=32 << 20)


async def test_an_https_proxy_with_an_untrusted_certificate_is_a_proxy_tls_error(tls_proxy):
    from nexus_net.proxy import ProxyTLSError
    async with nexus_server() as server:
        with pytest.raises(ProxyTLSError, match="TLS to the proxy"):
            await ws.connect(f"ws://127.0.0.1:{server.port}/", proxy=f"https://localhost:{tls_proxy}",
                             open_timeout=20, **NOPING)


@pytest.mark.parametrize("scheme", ["http", "socks5"])
async def test_credentials_accepted(auth_proxy, scheme):
    async with nexus_server() as server:
        await echo_through(f"ws://127.0.0.1:{server.port}/", f"{scheme}://alice:s3cret@127.0.0.1:{auth_proxy}")


# pproxy answers HTTP with 407; on SOCKS5 it hangs up instead of sending RFC
# 1929's failure reply (or 0xFF for no credentials): a ProxyError all the
# same, never a connection that seems to work. (The SOCKS5 replies
# themselves: tests/test_proxy_sansio.py.)
@pytest.mark.parametrize("scheme, error", [("http", ProxyAuthRequired), ("socks5h", ProxyError)])
@pytest.mark.parametrize("creds", ["alice:wrong-pw@", ""])
async def test_wrong_or_missing_credentials_are_refused(auth_proxy, scheme, error, creds):
    async with nexus_server() as server:
        with pytest.raises(error) as info:
            await ws.connect(f"ws://127.0.0.1:{server.port}/", proxy=f"{scheme}://{creds}127.0.0.1:{auth_proxy}",
                             open_timeout=20, **NOPING)
    if scheme == "http":
        assert info.value.status == 407
    assert "wrong-pw" not in str(info.value) and "wrong-pw" not in repr(info.value)


async def test_a_target_the_http_proxy_cannot_reach_is_a_proxy_error(open_proxy):
    dead = free_port()                               # nothing listens there
    with pytest.raises(ProxyError):
        await ws.connect(f"ws://127.0.0.1:{dead}/", proxy=f"http://127.0.0.1:{open_proxy}",
                         open_timeout=20, **NOPING)


@pytest.mark.parametrize("scheme", ["socks5", "socks4a"])
async def test_a_target_the_socks_proxy_cannot_reach(open_proxy, scheme):
    # pproxy grants SOCKS requests before it connects, then hangs up: the
    # opening handshake sees the end of the connection (no hang, no
    # half-open connection).
    dead = free_port()
    with pytest.raises((ProxyConnectFailed, ConnectionError)):
        await ws.connect(f"ws://127.0.0.1:{dead}/", proxy=f"{scheme}://127.0.0.1:{open_proxy}",
                         open_timeout=20, **NOPING)


async def test_a_proxy_that_never_answers_hits_open_timeout():
    held = []

    async def silent(reader, writer):
        held.append(writer)                          # accept, read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for scheme in ("http", "socks5h"):
            with pytest.raises(ws.HandshakeTimeout):
                await ws.connect("ws://127.0.0.1:9/", proxy=f"{scheme}://127.0.0.1:{port}",
                                 open_timeout=0.5, **NOPING)
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


async def test_proxy_from_the_environment_and_no_proxy(monkeypatch, auth_proxy):
    async with nexus_server() as server:
        url = f"ws://127.0.0.1:{server.port}/"
        monkeypatch.setenv("http_proxy", f"http://alice:wrong-pw@127.0.0.1:{auth_proxy}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with pytest.raises(ProxyAuthRequired):            # the environment's proxy is used...
            await ws.connect(url, open_timeout=20, **NOPING)
        async with ws.connect(url, proxy=None, **NOPING) as conn:   # ...not with proxy=None
            await conn.send_text("direct")
            assert (await conn.recv()).text() == "direct"
        monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
        async with ws.connect(url, **NOPING) as conn:     # ...nor for a host no_proxy names
            await conn.send_text("bypassed")
            assert (await conn.recv()).text() == "bypassed"
        monkeypatch.setenv("no_proxy", "example.com")
        with pytest.raises(ProxyAuthRequired):            # a no_proxy naming other hosts bypasses nothing
            await ws.connect(url, open_timeout=20, **NOPING)
        monkeypatch.setenv("http_proxy", f"http://alice:s3cret@127.0.0.1:{auth_proxy}")
        await echo_through(url, True)


def blocking_echo(url: str) -> None:
    with ws.sync.connect(url, open_timeout=20, ping_interval=None) as conn:
        assert conn.request_path == "/final"
        conn.send_text("blocking")
        assert conn.recv().text() == "blocking"


async def test_a_redirect_target_gets_its_own_proxy_decision(monkeypatch, tmp_path):
    """The proxy and no_proxy are looked up for each URL of a redirect chain:
    127.0.0.1 (direct, no_proxy names it) -> localhost (through the proxy),
    and the other way round. The proxy's own log counts the tunnels."""
    log = tmp_path / "pproxy.log"
    with pproxy("http", None, log=str(log)) as proxy_port:
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy_port}")
        tunnels = lambda: log.read_text().count(" -> ")          # noqa: E731
        async with nexus_server() as server:
            for start_host, final_host, no_proxy, through in [("127.0.0.1", "localhost", "127.0.0.1", 1),
                                                             ("localhost", "127.0.0.1", "127.0.0.1", 1),
                                                             ("127.0.0.1", "localhost", "", 2)]:
                monkeypatch.setenv("no_proxy", no_proxy)
                target = f"ws://{final_host}:{server.port}/final"

                async def redirector(reader, writer):
                    await reader.readuntil(b"\r\n\r\n")
                    writer.write(f"HTTP/1.1 302 Found\r\nLocation: {target}\r\n"
                                 "Content-Length: 0\r\n\r\n".encode())
                    await writer.drain()

                before = tunnels()
                async with raw_server(redirector) as port:
                    async with ws.connect(f"ws://{start_host}:{port}/start", open_timeout=20, **NOPING) as conn:
                        assert conn.request_path == "/final"
                        await conn.send_text("redirected")
                        assert (await conn.recv()).text() == "redirected"
                    await asyncio.to_thread(blocking_echo, f"ws://{start_host}:{port}/start")
                assert tunnels() - before == 2 * through, (start_host, final_host, no_proxy)


# ---- the blocking client --------------------------------------------------------------

def sync_round_trip(url: str, proxy: str, **kw) -> None:
    with ws.sync.connect(url, proxy=proxy, open_timeout=20, ping_interval=None,
                         max_message_size=32 << 20, **kw) as conn:
        conn.send_text("sync")
        assert conn.recv().text() == "sync"
        conn.send_binary(BIG)
        assert conn.recv().bytes() == BIG


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h", "socks4a"])
async def test_blocking_client_through_each_proxy_kind(open_proxy, scheme):
    async with nexus_server(max_message_size=32 << 20) as server:
        await asyncio.to_thread(sync_round_trip, f"ws://127.0.0.1:{server.port}/",
                                f"{scheme}://127.0.0.1:{open_proxy}")


async def test_blocking_client_wss_through_an_https_proxy(tls_proxy, pki):
    tls = TlsConfig.server(pki["server"], pki["server"])
    async with nexus_server(tls=tls, max_message_size=32 << 20) as server:
        await asyncio.to_thread(sync_round_trip, f"wss://localhost:{server.port}/", f"https://localhost:{tls_proxy}",
                                tls=TlsConfig(ca_file=pki["ca"]), proxy_tls=TlsConfig(ca_file=pki["ca"]))


async def test_blocking_client_proxy_errors(auth_proxy):
    async with nexus_server() as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with pytest.raises(ProxyAuthRequired):
            await asyncio.to_thread(sync_round_trip, url, f"http://alice:wrong-pw@127.0.0.1:{auth_proxy}")
        await asyncio.to_thread(sync_round_trip, url, f"http://alice:s3cret@127.0.0.1:{auth_proxy}")


# ---- bytes that come with the proxy's reply belong to the tunnel ----------------------------

async def test_bytes_after_the_proxy_reply_reach_the_protocol_first():
    from nexus_net.proxy import parse_proxy
    from nexus_net.proxy.tunnel import open_tunnel, open_tunnel_sync

    async def eager_proxy(reader, writer):           # the reply and the tunnel's first bytes in one write
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\nfirst bytes|")
        await writer.drain()
        writer.write(b"later bytes")
        await writer.drain()
        await reader.read()                          # until the client closes
        writer.close()

    server = await asyncio.start_server(eager_proxy, "127.0.0.1", 0)
    proxy = parse_proxy(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    loop = asyncio.get_running_loop()

    class Collect(asyncio.BufferedProtocol):
        def __init__(self):
            self.buf = bytearray(5)                  # small: the leftover takes several get_buffer calls
            self.got = bytearray()
            self.more = asyncio.Event()

        def get_buffer(self, hint):
            return self.buf

        def buffer_updated(self, n):
            self.got += self.buf[:n]
            if self.got.endswith(b"later bytes"):
                self.more.set()

    try:
        proto = Collect()
        transport, protocol = await open_tunnel(loop, proxy, "example.com", 443, lambda: proto)
        assert protocol is proto and transport.get_protocol() is proto
        await asyncio.wait_for(proto.more.wait(), 10)
        assert bytes(proto.got) == b"first bytes|later bytes"
        transport.close()

        def blocking():
            sock, first = open_tunnel_sync(proxy, "example.com", 443, timeout=10)
            with sock:
                return first
        assert (await asyncio.to_thread(blocking)).startswith(b"first bytes|")
    finally:
        server.close()
        await server.wait_closed()


async def test_a_bad_proxy_url_or_a_stray_proxy_tls_fails_before_connecting():
    with pytest.raises(ValueError, match="unsupported proxy scheme") as info:
        ws.connect("ws://127.0.0.1:9/", proxy="ftp://u:hunter2@proxy:21")     # (no await: at the call)
    assert "hunter2" not in str(info.value)
    with pytest.raises(ValueError, match="unsupported proxy scheme"):
        ws.sync.connect("ws://127.0.0.1:9/", proxy="gopher://proxy")
    with pytest.raises(ValueError, match="only https:// proxies use TLS"):
        await ws.connect("ws://127.0.0.1:9/", proxy="http://127.0.0.1:9", proxy_tls=TlsConfig(),
                         open_timeout=5, **NOPING)


async def test_after_the_handshake_the_byte_path_is_the_direct_one(open_proxy):
    # Through the tunnel the connection sits on the same kind of transport as
    # a direct one, as that transport's protocol: no relay of ours in between.
    async with nexus_server() as server:
        url = f"ws://127.0.0.1:{server.port}/"
        async with ws.connect(url, proxy=None, **NOPING) as direct, \
                ws.connect(url, proxy=f"socks5://127.0.0.1:{open_proxy}", **NOPING) as tunneled:
            for conn in (direct, tunneled):
                assert conn.transport_.get_protocol() is conn
            assert type(tunneled.transport_) is type(direct.transport_)


async def test_credentials_never_reach_the_logs(auth_proxy, caplog):
    """Reconnect attempts (ws) and pool repairs (REST) log their reasons: the
    proxy is named there, its password never."""
    from nexus_net import rest
    caplog.set_level(logging.DEBUG, logger="nexus_net")
    dead = f"http://alice:hunter2@127.0.0.1:{free_port()}"              # nothing listens there
    wrong = f"http://alice:wrong-pw@127.0.0.1:{auth_proxy}"
    for proxy in (dead, wrong):
        with pytest.raises((OSError, ProxyAuthRequired)) as info:
            async for _conn in ws.connect("ws://127.0.0.1:9/", proxy=proxy, max_attempts=2,
                                          backoff_initial=0.01, open_timeout=10, **NOPING):
                pass
        assert "hunter2" not in str(info.value) and "wrong-pw" not in str(info.value)
    async with nexus_server() as server:
        client = await rest.connect(f"http://127.0.0.1:{server.port}", proxy=None)
        pool = rest.ClientPool(f"http://127.0.0.1:{server.port}", 1, proxy=dead, reconnect_initial=0.01)
        try:
            client.proxy = pool.proxies[0] = check_proxy(dead)
            client._discard()
            pool.release(client)                                        # repaired: fails, logs, retries
            for _ in range(100):
                if "reconnecting" in caplog.text:
                    break
                await asyncio.sleep(0.02)
        finally:
            await pool.close()
            await client.close()
    assert "reconnecting" in caplog.text and "failed 2 times" in caplog.text
    assert "127.0.0.1" in caplog.text and "***@" in caplog.text       # the proxy is named ...
    assert "hunter2" not in caplog.text and "wrong-pw" not in caplog.text  # ... its password never
