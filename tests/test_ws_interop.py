"""Our client and server against websockets and aiohttp, over real TCP on 127.0.0.1."""

import asyncio
import os

import pytest

from nexus_net import ws
from wsutil import echo, nexus_server

websockets = pytest.importorskip("websockets")
aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web  # noqa: E402
from websockets.asyncio.client import connect as wsl_connect  # noqa: E402
from websockets.asyncio.server import serve as wsl_serve  # noqa: E402

BIG = 16 * 1024 * 1024
LIMITS = dict(max_message_size=BIG + 1024, ping_interval=None)


# ---- peers ----------------------------------------------------------------

async def wsl_script(conn):
    """websockets server: echo, plus commands that exercise our client."""
    async for message in conn:
        if message == "fragments":
            await conn.send(["frag", "men", "ted"])
            await conn.send([b"\x01", b"\x02"])
        elif message == "ping-me":
            await conn.ping(b"from-server")
            await conn.send("pinged")
        elif message.startswith("close:") if isinstance(message, str) else False:
            _, code, reason = message.split(":", 2)
            await conn.close(int(code), reason)
            return
        elif message == "big":
            await conn.send(b"\xab" * BIG)
        else:
            await conn.send(message)


@pytest.fixture
async def websockets_server():
    async with wsl_serve(wsl_script, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


@pytest.fixture
async def aiohttp_server():
    async def handler(request):
        conn = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await conn.prepare(request)
        async for msg in conn:
            if msg.type == aiohttp.WSMsgType.TEXT:
                if msg.data.startswith("close:"):
                    _, code, reason = msg.data.split(":", 2)
                    await conn.close(code=int(code), message=reason.encode())
                    break
                await conn.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await conn.send_bytes(msg.data)
        return conn

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/"
    await runner.cleanup()


# ---- our client -------------------------------------------------------------

@pytest.fixture(params=["websockets", "aiohttp"])
async def peer_url(request, websockets_server, aiohttp_server):
    return websockets_server if request.param == "websockets" else aiohttp_server


async def test_text_and_binary_round_trip(peer_url):
    async with ws.connect(peer_url, **LIMITS) as conn:
        await conn.send_text("héllo")
        msg = await conn.recv()
        assert (msg.kind, msg.text()) == (ws.Kind.TEXT, "héllo")
        payload = os.urandom(70_000)
        await conn.send_binary(payload)
        msg = await conn.recv()
        assert (msg.kind, msg.bytes()) == (ws.Kind.BINARY, payload)
        await conn.send_fragments(["our ", "frag", "ments"])
        assert (await conn.recv()).text() == "our fragments"


async def test_16_mib_message_both_ways(peer_url):
    async with ws.connect(peer_url, **LIMITS) as conn:
        payload = os.urandom(BIG)
        await conn.send_binary(payload)
        msg = await asyncio.wait_for(conn.recv(), 30)
        assert msg.bytes() == payload


@pytest.mark.parametrize("code,reason", [(1000, "done"), (1001, "away"), (4000, "app")])
async def test_peer_closes_with_code(peer_url, code, reason):
    async with ws.connect(peer_url, **LIMITS) as conn:
        await conn.send_text(f"close:{code}:{reason}")
        if code in (1000, 1001):
            assert await conn.recv() is None
        else:
            with pytest.raises(ws.ConnectionClosedError) as info:
                await conn.recv()
            assert (info.value.code, info.value.reason) == (code, reason)
        assert (conn.close_code, conn.close_reason) == (code, reason)
        await asyncio.wait_for(conn.wait_closed(), 5)
        with pytest.raises(ws.ConnectionClosed):
            await conn.send_text("too late")


async def test_fragmented_messages_and_pings_from_websockets(websockets_server):
    async with ws.connect(websockets_server, **LIMITS) as conn:
        await conn.send_text("fragments")
        assert (await conn.recv()).text() == "fragmented"
        assert (await conn.recv()).bytes() == b"\x01\x02"
        await conn.send_text("ping-me")            # answered by us inside recv()
        assert (await conn.recv()).text() == "pinged"


async def test_our_ping_resolves_on_pong(peer_url):
    async with ws.connect(peer_url, **LIMITS) as conn:
        pong = conn.ping(b"abc")
        await conn.send_text("after ping")
        assert (await conn.recv()).text() == "after ping"   # reading processes the pong
        await asyncio.wait_for(pong, 5)


async def test_we_close_and_websockets_sees_our_code():
    seen = asyncio.get_running_loop().create_future()

    async def handler(conn):
        try:
            async for _ in conn:
                pass
        finally:
            seen.set_result((conn.close_code, conn.close_reason))

    async with wsl_serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", ping_interval=None)
        await conn.close(4321, "bye now")
        assert await asyncio.wait_for(seen, 5) == (4321, "bye now")
        assert conn.closed and conn.close_code == 4321


# ---- our server ---------------------------------------------------------------

async def test_websockets_client_against_our_server():
    async with nexus_server(max_message_size=BIG + 1024) as server:
        async with wsl_connect(f"ws://127.0.0.1:{server.port}/", max_size=None) as conn:
            await conn.send("text ✓")
            assert await conn.recv() == "text ✓"
            await conn.send(b"\x00\x01")
            assert await conn.recv() == b"\x00\x01"
            await conn.send(["a", "b", "c"])        # fragmented from the peer
            assert await conn.recv() == "abc"
            await asyncio.wait_for(await conn.ping(b"p"), 5)
            payload = os.urandom(BIG)
            await conn.send(payload)
            assert await asyncio.wait_for(conn.recv(), 30) == payload
        assert conn.close_code == 1000


async def test_aiohttp_client_against_our_server():
    async with nexus_server(max_message_size=BIG + 1024) as server:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{server.port}/", max_msg_size=0) as conn:
                await conn.send_str("hi")
                assert (await conn.receive()).data == "hi"
                await conn.send_bytes(b"\xff" * 1000)
                assert (await conn.receive()).data == b"\xff" * 1000
                payload = os.urandom(BIG)
                await conn.send_bytes(payload)
                msg = await asyncio.wait_for(conn.receive(), 30)
                assert msg.data == payload
                await conn.close(code=4001, message=b"client done")
            assert conn.close_code == 4001


async def test_server_handler_close_codes_reach_websockets_client():
    async def handler(conn):
        msg = await conn.recv()
        await conn.close(int(msg.text()), "handler says so")

    async with nexus_server(handler) as server:
        for code in (1000, 1001, 1011, 4999):
            async with wsl_connect(f"ws://127.0.0.1:{server.port}/") as conn:
                await conn.send(str(code))
                with pytest.raises(websockets.ConnectionClosed):
                    await conn.recv()
            assert (conn.close_code, conn.close_reason) == (code, "handler says so")


async def test_handler_exception_closes_with_1011():
    async def handler(conn):
        raise RuntimeError("boom")

    async with nexus_server(handler) as server:
        async with wsl_connect(f"ws://127.0.0.1:{server.port}/") as conn:
            with pytest.raises(websockets.ConnectionClosed):
                await conn.recv()
        assert conn.close_code == 1011


async def test_graceful_shutdown_sends_1001():
    server = await ws.serve(echo, "127.0.0.1", 0, ping_interval=None)
    conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", ping_interval=None)
    await conn.send_text("x")
    assert (await conn.recv()).text() == "x"
    server.close()
    assert await asyncio.wait_for(conn.recv(), 5) is None      # 1001 is a clean close
    assert conn.close_code == 1001
    await asyncio.wait_for(server.wait_closed(), 5)


async def test_send_many_keeps_order_and_kinds(websockets_server):
    async with ws.connect(websockets_server, **LIMITS) as conn:
        batch = [f"t{i}" if i % 3 else bytes([i % 256]) * (i % 200) for i in range(600)]
        await conn.send_many(batch)
        await conn.send_many([])                         # nothing to send is fine
        for item in batch:
            msg = await asyncio.wait_for(conn.recv(), 5)
            if isinstance(item, str):
                assert (msg.kind, msg.text()) == (ws.Kind.TEXT, item)
            else:
                assert (msg.kind, msg.bytes()) == (ws.Kind.BINARY, item)
