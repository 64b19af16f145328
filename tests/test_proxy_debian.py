"""WebSocket connections through Debian's proxies on 127.0.0.1 (issue 13):
tinyproxy (HTTP CONNECT) and Dante (SOCKS5), the second implementation of
each protocol beside pproxy (tests/test_proxy_live.py)."""

from __future__ import annotations

import pytest

from nexus_net import ws
from nexus_net.proxy import ProxyAuthRequired, ProxyConnectFailed, ProxyError
from nexus_net.tls import TlsConfig
from proxies import DANTED, TINYPROXY, danted, free_port, require_binary, tinyproxy
from wsutil import nexus_server

NOPING = dict(ping_interval=None)
BIG = bytes(range(256)) * (16 * 4096)            # 16 MiB


@pytest.fixture(scope="module")
def pki(localhost_pki):
    return localhost_pki


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    require_binary(TINYPROXY, "tinyproxy")
    with tinyproxy(str(tmp_path_factory.mktemp("tinyproxy"))) as port:
        yield port


@pytest.fixture(scope="module")
def tiny_auth(tmp_path_factory):
    require_binary(TINYPROXY, "tinyproxy")
    with tinyproxy(str(tmp_path_factory.mktemp("tinyproxy-auth")), basic_auth=("alice", "s3cret")) as port:
        yield port


@pytest.fixture(scope="module")
def blocked_port():
    return free_port()


@pytest.fixture(scope="module")
def dante(tmp_path_factory, blocked_port):
    require_binary(DANTED, "dante-server")
    with danted(str(tmp_path_factory.mktemp("danted")), blocked_port=blocked_port) as port:
        yield port


async def round_trip(url: str, proxy: str, **kw) -> None:
    async with ws.connect(url, proxy=proxy, open_timeout=20, max_message_size=32 << 20, **NOPING, **kw) as conn:
        await conn.send_text("hello")
        assert (await conn.recv()).text() == "hello"
        await conn.send_binary(BIG)
        got = await conn.recv()
        assert got.bytes() == BIG


def proxies_under_test(tiny: int, dante: int) -> list[str]:
    return [f"http://127.0.0.1:{tiny}", f"socks5://127.0.0.1:{dante}", f"socks5h://127.0.0.1:{dante}"]


async def test_ws_16_mib_through_tinyproxy_and_dante(tiny, dante):
    async with nexus_server(max_message_size=32 << 20) as server:
        for proxy in proxies_under_test(tiny, dante):
            await round_trip(f"ws://127.0.0.1:{server.port}/", proxy)


async def test_wss_through_tinyproxy_and_dante(tiny, dante, pki):
    tls = TlsConfig.server(pki["server"], pki["server"])
    async with nexus_server(tls=tls, max_message_size=32 << 20) as server:
        for proxy in proxies_under_test(tiny, dante):
            await round_trip(f"wss://localhost:{server.port}/", proxy, tls=TlsConfig(ca_file=pki["ca"]))


async def test_tinyproxy_basic_auth(tiny_auth):
    async with nexus_server(max_message_size=32 << 20) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        await round_trip(url, f"http://alice:s3cret@127.0.0.1:{tiny_auth}")
        for creds in ("alice:wrong-pw@", ""):
            with pytest.raises(ProxyAuthRequired) as info:
                await ws.connect(url, proxy=f"http://{creds}127.0.0.1:{tiny_auth}", open_timeout=20, **NOPING)
            # (tinyproxy 1.11 says 401 where RFC 9110 says 407: both mean this)
            assert info.value.status in (401, 407) and "wrong-pw" not in str(info.value)


async def test_tinyproxy_that_cannot_reach_the_target(tiny):
    with pytest.raises(ProxyError) as info:
        await ws.connect(f"ws://127.0.0.1:{free_port()}/", proxy=f"http://127.0.0.1:{tiny}",
                         open_timeout=20, **NOPING)
    assert info.value.status is not None and info.value.status >= 400


async def test_dante_refuses_by_rule_and_reports_refused_targets(dante, blocked_port):
    with pytest.raises(ProxyConnectFailed) as info:
        await ws.connect(f"ws://127.0.0.1:{blocked_port}/", proxy=f"socks5://127.0.0.1:{dante}",
                         open_timeout=20, **NOPING)
    assert info.value.reply == 2 and info.value.reply_name == "connection not allowed by ruleset"
    with pytest.raises(ProxyConnectFailed) as info:
        await ws.connect(f"ws://127.0.0.1:{free_port()}/", proxy=f"socks5h://127.0.0.1:{dante}",
                         open_timeout=20, **NOPING)
    assert info.value.reply_name in ("connection refused", "host unreachable", "general SOCKS server failure")
