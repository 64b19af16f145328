"""The pytest plugin (issue 16, part 1): nexus_ws_server, nexus_rest_server
and nexus_tls used directly, and a user's project run in a subprocess
(pytester) passing and failing as it should, on both loops."""

from __future__ import annotations

import asyncio
import importlib.util
import textwrap

import pytest

from nexus_net import rest, ws
from nexus_net.testing import Delay, Drop, close, drop, expect, recv, send, sleep

pytest_plugins = ["pytester"]
NOPING = dict(ping_interval=None)


# ---- the fixtures, used here directly ---------------------------------------------------------

async def test_ws_server_echoes_records_and_pushes(nexus_ws_server):
    server = await nexus_ws_server()
    async with ws.connect(server.url, **NOPING) as a, ws.connect(server.url, **NOPING) as b:
        await a.send_text("hello")
        assert (await a.recv()).text() == "hello"
        await b.send_binary(b"\x00\x01")
        assert (await b.recv()).bytes() == b"\x00\x01"
        await server.wait_connections(2)
        assert await server.push('{"px":1}') == 2
        assert (await a.recv()).text() == '{"px":1}' and (await b.recv()).text() == '{"px":1}'
    assert server.received == ["hello", b"\x00\x01"]


async def test_ws_server_close_codes_and_drops_reach_the_client(nexus_ws_server):
    server = await nexus_ws_server()
    conn = await ws.connect(server.url, **NOPING)
    await server.wait_connections(1)
    await server.close(1012, "restart")
    with pytest.raises(ws.ConnectionClosedError) as info:
        await conn.recv()
    assert (info.value.code, info.value.reason) == (1012, "restart")
    conn2 = await ws.connect(server.url, **NOPING)
    await server.wait_connections(2)
    await server.drop()
    with pytest.raises(ws.ConnectionClosedError) as info:
        while True:
            if await conn2.recv() is None:
                break
    assert info.value.code == 1006                      # no close frame: a network failure


async def test_ws_server_scripts_and_a_reconnecting_bot(nexus_ws_server):
    server = await nexus_ws_server()
    server.script([expect('{"op":"subscribe"}'), send('{"px":1}'), sleep(0.05), close(1012, "restart")])
    got = []

    async def on_connect(conn):
        await conn.send_text('{"op":"subscribe"}')
    async with ws.connect(server.url, reconnect=True, on_connect=on_connect, backoff_initial=0.01,
                          backoff_max=0.05, **NOPING) as feed:
        while len(got) < 3:
            got.append((await asyncio.wait_for(feed.recv(), 10)).text())
    assert got == ['{"px":1}'] * 3 and server.connected_total >= 3
    assert server.received[:3] == ['{"op":"subscribe"}'] * 3


async def test_ws_server_over_tls(nexus_ws_server, nexus_tls):
    server = await nexus_ws_server(tls=True)
    assert server.url.startswith("wss://localhost:")
    async with ws.connect(server.url, tls=nexus_tls.client_config, **NOPING) as conn:
        await conn.send_text("secure")
        assert (await conn.recv()).text() == "secure"


async def test_rest_server_routes_records_and_fails_on_cue(nexus_rest_server):
    server = await nexus_rest_server({
        "POST /api/v3/order": (200, {"orderId": 1}),
        "GET /api/v3/time": lambda req: (200, {"serverTime": 1764633600000, "q": req.query.get("x")}),
        "GET /slow": Delay(0.05, (200, "late")),
        "GET /limited": [(429, {"code": -1003}, {"Retry-After": "1"}), (200, {"ok": True})],
        "POST /lost": Drop(),
    })
    async with await rest.connect(server.url) as client:
        r = await client.post("/api/v3/order", json={"symbol": "BTCUSDT"}, headers={"X-MBX-APIKEY": "k"})
        assert r.json() == {"orderId": 1}
        assert (await client.get("/api/v3/time", params={"x": "1"})).json()["q"] == "1"
        assert (await client.get("/slow")).text() == "late"
        with pytest.raises(rest.RateLimited) as info:
            (await client.get("/limited")).raise_for_status()
        assert info.value.retry_after == 1.0
        assert (await client.get("/limited")).json() == {"ok": True}
        assert (await client.get("/nowhere")).status == 404
        with pytest.raises(rest.OutcomeUnknown):
            await client.post("/lost", json={"symbol": "ETHUSDT"})
    first = server.requests[0]
    assert (first.method, first.path, first.json(), first.header("x-mbx-apikey")) == \
        ("POST", "/api/v3/order", {"symbol": "BTCUSDT"}, "k")
    assert server.requests[-1].path == "/lost" and server.requests[-1].json() == {"symbol": "ETHUSDT"}
    assert [r.connection for r in server.requests[:6]] == [1] * 6       # one keep-alive connection


async def test_rest_server_over_tls(nexus_rest_server, nexus_tls):
    server = await nexus_rest_server({"GET /ping": (200, {})}, tls=True)
    async with await rest.connect(server.url, tls=nexus_tls.client_config) as client:
        assert (await client.get("/ping")).json() == {}


async def test_a_failing_handler_fails_the_test_at_teardown():
    from nexus_net.testing import RestTestServer, WsTestServer
    server = await RestTestServer({"GET /x": lambda req: 1 / 0}).start()
    async with await rest.connect(server.url) as client:
        assert (await client.get("/x")).status == 500
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        await server.aclose()
    ws_server = await WsTestServer().start()
    ws_server.script([expect("ping")])
    async with ws.connect(ws_server.url, **NOPING) as conn:
        await conn.send_text("something else")
        await asyncio.sleep(0.1)
    with pytest.raises(AssertionError, match="something else"):
        await ws_server.aclose()


# ---- a user's project, in a subprocess --------------------------------------------------------

USER_CONFTEST = """
import asyncio

def pytest_asyncio_loop_factories(config, item):
    try:
        import uvloop
    except ImportError:                      # (.ci/matrix has a run without it)
        return {"asyncio": asyncio.new_event_loop}
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
"""

USER_TESTS = '''
import pytest
from nexus_net import rest, ws

async def test_bot_subscribes(nexus_ws_server):
    server = await nexus_ws_server()
    async with ws.connect(server.url, ping_interval=None) as conn:
        await conn.send_text('{"op":"subscribe","args":["trades"]}')
        await conn.recv()
    assert server.received == ['{"op":"subscribe","args":["trades"]}']

async def test_order_desk(nexus_rest_server):
    server = await nexus_rest_server({"POST /api/v3/order": (200, {"orderId": 7})})
    async with await rest.connect(server.url) as client:
        assert (await client.post("/api/v3/order", json={"qty": 1})).json()["orderId"] == 7
    assert server.requests[0].json() == {"qty": 1}

async def test_tls_just_works(nexus_ws_server, nexus_tls):
    server = await nexus_ws_server(tls=True)
    async with ws.connect(server.url, tls=nexus_tls.client_config, ping_interval=None) as conn:
        await conn.send_text("x")
        assert (await conn.recv()).text() == "x"

async def test_this_one_must_fail(nexus_ws_server):
    server = await nexus_ws_server()
    async with ws.connect(server.url, ping_interval=None) as conn:
        await conn.send_text("a")
        await conn.recv()
    assert server.received == ["b"]
'''


def test_a_users_project_with_the_plugin(pytester):
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_bot=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    loops = 2 if importlib.util.find_spec("uvloop") else 1
    result.assert_outcomes(passed=3 * loops, failed=loops)   # every test on each loop; the failing one fails
    result.stdout.fnmatch_lines(["*test_this_one_must_fail*", "*assert*'a'*==*'b'*"])


def test_the_plugin_in_strict_mode_without_the_loop_hook(pytester):
    pytester.makeini("[pytest]\nasyncio_mode = strict\n")
    pytester.makepyfile(test_strict=textwrap.dedent('''
        import pytest
        from nexus_net import ws

        @pytest.mark.asyncio
        async def test_echo(nexus_ws_server):
            server = await nexus_ws_server()
            async with ws.connect(server.url, ping_interval=None) as conn:
                await conn.send_text("strict")
                assert (await conn.recv()).text() == "strict"
    '''))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
