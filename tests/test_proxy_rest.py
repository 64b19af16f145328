"""REST through real proxies (issue 13): rest.connect, rest.sync.connect and
the pool, against pproxy, tinyproxy and Dante, origins aiohttp (keep-alive)
and httpbin."""

from __future__ import annotations

import asyncio

import pytest

from nexus_net import rest
from nexus_net.proxy import ProxyAuthRequired
from proxies import DANTED, TINYPROXY, danted, pproxy, require_binary, tinyproxy

pytest.importorskip("pproxy")
pytest.importorskip("pytest_httpbin")


@pytest.fixture(scope="module")
def proxy_urls(tmp_path_factory):
    """One URL per (implementation, protocol)."""
    require_binary(TINYPROXY, "tinyproxy")
    require_binary(DANTED, "dante-server")
    with pproxy("http+socks4+socks5") as pp, \
            tinyproxy(str(tmp_path_factory.mktemp("rest-tinyproxy"))) as tiny, \
            danted(str(tmp_path_factory.mktemp("rest-danted"))) as dante:
        yield {"pproxy http": f"http://127.0.0.1:{pp}", "pproxy socks5h": f"socks5h://127.0.0.1:{pp}",
               "pproxy socks4a": f"socks4a://127.0.0.1:{pp}", "tinyproxy": f"http://127.0.0.1:{tiny}",
               "dante socks5": f"socks5://127.0.0.1:{dante}"}


@pytest.fixture(scope="module")
def auth_proxy():
    with pproxy("http+socks5", "alice:s3cret") as port:
        yield port


KINDS = ["pproxy http", "pproxy socks5h", "pproxy socks4a", "tinyproxy", "dante socks5"]


@pytest.mark.parametrize("kind", KINDS)
async def test_keep_alive_gets_reuse_one_tunnel(proxy_urls, keepalive_server, kind):
    client = await rest.connect(keepalive_server, proxy=proxy_urls[kind])
    try:
        first = client.proto
        for i in range(5):
            r = await client.get("/get", params={"i": str(i)})
            assert r.status == 200 and r.json() == {"args": {"i": str(i)}}
        assert client.proto is first and client.reconnects == 0     # one tunnel, reused
    finally:
        await client.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_post_to_httpbin_through_the_proxy(proxy_urls, httpbin, kind):
    client = await rest.connect(httpbin.url, proxy=proxy_urls[kind])
    try:
        for n in range(3):                                          # httpbin closes: reconnects go through it too
            r = await client.post("/post", json={"order": n, "side": "buy"})
            assert r.status == 200 and r.json()["json"] == {"order": n, "side": "buy"}
    finally:
        await client.close()


@pytest.mark.parametrize("kind", ["pproxy http", "tinyproxy", "dante socks5"])
async def test_blocking_client_through_the_proxy(proxy_urls, keepalive_server, kind):
    def run():
        with rest.sync.connect(keepalive_server, proxy=proxy_urls[kind]) as client:
            return [client.get("/get", params={"k": str(i)}).json() for i in range(3)], client.reconnects
    got, reconnects = await asyncio.to_thread(run)
    assert got == [{"args": {"k": str(i)}} for i in range(3)] and reconnects == 0


async def test_the_pool_through_a_proxy(proxy_urls, keepalive_server):
    pool = await rest.ClientPool.connect(keepalive_server, connections=3, proxy=proxy_urls["dante socks5"])
    try:
        async def one(i):
            async with pool.acquire() as client:
                return (await client.get("/get", params={"n": str(i)})).json()
        got = await asyncio.gather(*(one(i) for i in range(12)))
        assert got == [{"args": {"n": str(i)}} for i in range(12)]
    finally:
        await pool.close()


async def test_a_pool_spread_over_several_proxies(keepalive_server, tmp_path):
    """proxy=[A, B, None]: connection i goes through proxy[i % 3], and a
    repaired connection through its own proxy again (the proxies' logs count)."""
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    def count(log):
        return log.read_text().count(" -> ")

    async def tunnels_are(a_count, b_count):
        # pproxy writes its log line from its own process: give it time to land
        for _ in range(200):
            if (count(log_a), count(log_b)) == (a_count, b_count):
                return True
            await asyncio.sleep(0.025)
        return (count(log_a), count(log_b)) == (a_count, b_count)
    with pproxy("http", None, log=str(log_a)) as a, pproxy("socks5", None, log=str(log_b)) as b:
        proxies = [f"http://127.0.0.1:{a}", f"socks5://127.0.0.1:{b}", None]
        pool = await rest.ClientPool.connect(keepalive_server, connections=6, proxy=proxies)
        try:
            assert await tunnels_are(2, 2), (count(log_a), count(log_b))   # and two direct ones
            assert sorted(c.proxy.redacted if c.proxy else "direct" for c in pool.idle) == \
                sorted(p or "direct" for p in proxies * 2)

            async def one(i):
                async with pool.acquire() as client:
                    return (await client.get("/get", params={"n": str(i)})).json()
            got = await asyncio.gather(*(one(i) for i in range(30)))
            assert got == [{"args": {"n": str(i)}} for i in range(30)]
            assert await tunnels_are(2, 2)                              # keep-alive: no new tunnel

            via_b = next(c for c in pool.idle if c.proxy and c.proxy.scheme == "socks5")
            via_b.proto.transport.abort()                               # the connection breaks
            await asyncio.sleep(0)
            assert not via_b.connected
            pool.idle.remove(via_b)
            pool.release(via_b)                                         # -> repaired in the background
            for _ in range(200):
                if via_b.connected:
                    break
                await asyncio.sleep(0.05)
            assert via_b.connected and await tunnels_are(2, 3)
        finally:
            await pool.close()
    with pytest.raises(ValueError, match="names no proxy"):
        await rest.ClientPool.connect(keepalive_server, connections=2, proxy=[])


async def test_rest_proxy_credentials(keepalive_server, auth_proxy):
    client = await rest.connect(keepalive_server, proxy=f"http://alice:s3cret@127.0.0.1:{auth_proxy}")
    await client.close()
    with pytest.raises(ProxyAuthRequired) as info:
        await rest.connect(keepalive_server, proxy=f"http://alice:wrong-pw@127.0.0.1:{auth_proxy}")
    assert "wrong-pw" not in str(info.value)
