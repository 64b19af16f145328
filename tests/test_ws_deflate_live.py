"""permessage-deflate over real connections on 127.0.0.1: our client and server
against websockets (its defaults and no-context-takeover variants) and aiohttp
(compress=15), both directions, 16 MiB and fragmented compressed messages;
the blocking client; wss://; and what each end does with a bad negotiation.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading

import pytest

from nexus_net import ws
from nexus_net.tls import TlsConfig
from wsutil import accept_handshake, echo, nexus_server, raw_server

websockets = pytest.importorskip("websockets")
aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web  # noqa: E402
from websockets.asyncio.client import connect as wsl_connect  # noqa: E402
from websockets.asyncio.server import serve as wsl_serve  # noqa: E402
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

BIG = 16 * 1024 * 1024
LIMITS = dict(max_message_size=BIG + 1024, ping_interval=None)
QUOTE = '{"e":"trade","s":"BTCUSDT","p":"67012.10","q":"0.00150000","T":%d}'


async def wsl_echo(conn):
    async for message in conn:
        if message == "fragments":
            await conn.send(["frag", "men", "ted"])
        else:
            await conn.send(message)


WSL_SERVERS = {
    "default": [ServerPerMessageDeflateFactory()],
    "no-context": [ServerPerMessageDeflateFactory(server_no_context_takeover=True,
                                                  client_no_context_takeover=True)],
    "small-windows": [ServerPerMessageDeflateFactory(server_max_window_bits=10, client_max_window_bits=9)],
}


@pytest.fixture(params=sorted(WSL_SERVERS))
async def wsl_server(request):
    async with wsl_serve(wsl_echo, "127.0.0.1", 0, max_size=None, ping_interval=None,
                         compression=None, extensions=WSL_SERVERS[request.param]) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", request.param


async def round_trips(conn: ws.Connection) -> None:
    for i in range(200):
        await conn.send_text(QUOTE % i)
        assert (await conn.recv()).text() == QUOTE % i
    payload = os.urandom(70_000)
    await conn.send_binary(payload)
    assert (await conn.recv()).bytes() == payload
    await conn.send_fragments(["our ", "compressed ", "fragments"])
    assert (await conn.recv()).text() == "our compressed fragments"
    text = "é" * (BIG // 2)                       # 16 MiB of UTF-8, compressible
    await conn.send_text(text)
    assert (await asyncio.wait_for(conn.recv(), 60)).text() == text


async def test_our_client_against_websockets_servers(wsl_server):
    url, kind = wsl_server
    async with ws.connect(url, compression="deflate", **LIMITS) as conn:
        codec = conn.compression
        assert codec is not None
        if kind == "no-context":
            assert codec.local_no_context_takeover and codec.remote_no_context_takeover
        if kind == "small-windows":
            assert (codec.local_max_window_bits, codec.remote_max_window_bits) == (9, 10)
        await round_trips(conn)
        await conn.send_text("fragments")
        assert (await conn.recv()).text() == "fragmented"
        # both directions really were compressed
        assert codec.deflated_messages >= 203 and codec.inflated_messages >= 204


@pytest.mark.parametrize("config", [
    ws.Deflate(), ws.Deflate(client_no_context_takeover=True, server_no_context_takeover=True),
    ws.Deflate(client_max_window_bits=10, server_max_window_bits=11), ws.Deflate(threshold=100)],
    ids=["default", "no-context", "windows", "threshold"])
async def test_websockets_client_against_our_server(config):
    async with nexus_server(compression=config, max_message_size=BIG + 1024) as server:
        async with wsl_connect(f"ws://127.0.0.1:{server.port}/", max_size=None, compression="deflate") as conn:
            extensions = conn.response.headers["Sec-WebSocket-Extensions"]
            assert extensions.startswith("permessage-deflate")
            for i in range(200):
                await conn.send(QUOTE % i)
                assert await conn.recv() == QUOTE % i
            await conn.send(["frag", "mented ", "by websockets"])
            assert await conn.recv() == "fragmented by websockets"
            payload = b"\x00\x01" * (BIG // 2)
            await conn.send(payload)
            assert await asyncio.wait_for(conn.recv(), 60) == payload


async def test_websockets_no_context_takeover_client_against_our_server():
    factory = ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True,
                                             server_max_window_bits=9, client_max_window_bits=9)
    async with nexus_server(compression="deflate") as server:
        async with wsl_connect(f"ws://127.0.0.1:{server.port}/", compression=None,
                               extensions=[factory]) as conn:
            assert "server_no_context_takeover" in conn.response.headers["Sec-WebSocket-Extensions"]
            for i in range(100):
                await conn.send(QUOTE % i)
                assert await conn.recv() == QUOTE % i


@pytest.fixture
async def aiohttp_server():
    async def handler(request):
        conn = web.WebSocketResponse(max_msg_size=0, compress=True)
        await conn.prepare(request)
        async for msg in conn:
            if msg.type == aiohttp.WSMsgType.TEXT:
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
    yield f"ws://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"
    await runner.cleanup()


async def test_our_client_against_aiohttp_server(aiohttp_server):
    async with ws.connect(aiohttp_server, compression="deflate", **LIMITS) as conn:
        assert conn.compression is not None
        await round_trips(conn)
        assert conn.compression.inflated_messages >= 203


async def test_aiohttp_client_against_our_server():
    async with nexus_server(compression="deflate", max_message_size=BIG + 1024) as server:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{server.port}/", compress=15,
                                          max_msg_size=0) as conn:
                assert conn.compress                       # negotiated (0: declined)
                for i in range(200):
                    await conn.send_str(QUOTE % i)
                    assert (await conn.receive()).data == QUOTE % i
                payload = os.urandom(BIG)
                await conn.send_bytes(payload)
                assert (await asyncio.wait_for(conn.receive(), 60)).data == payload


async def test_ours_to_ours_over_tls_with_listener_and_broadcast(localhost_pki):
    got: list[str] = []
    done = asyncio.get_running_loop().create_future()

    class Collect(ws.Listener):
        def on_message(self, conn, msg):
            got.append(msg.text())
            if len(got) == 300 and not done.done():
                done.set_result(None)

    tls = TlsConfig.server(localhost_pki["server"], localhost_pki["server"])
    async with nexus_server(compression="deflate", tls=tls) as server:
        url = f"wss://localhost:{server.port}/"
        client_tls = TlsConfig(ca_file=localhost_pki["ca"])
        conns = [await ws.connect(url, tls=client_tls, compression="deflate", ping_interval=None,
                                  listener=Collect()) for _ in range(3)]
        try:
            while len(server.connections) < 3:
                await asyncio.sleep(0.01)
            assert all(c.compression is not None for c in server.connections)
            for i in range(100):
                # one encode per connection: each has its own compression context
                assert ws.broadcast(server.connections, QUOTE % i) == 0
            await asyncio.wait_for(done, 30)
            assert sorted(got) == sorted([QUOTE % i for i in range(100)] * 3)
        finally:
            for c in conns:
                await c.close()


async def test_server_without_compression_declines_and_the_client_goes_on():
    async with nexus_server() as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", compression="deflate",
                              ping_interval=None) as conn:
            assert conn.compression is None
            assert not any(k.lower() == "sec-websocket-extensions" for k, _ in conn.response_headers)
            await conn.send_text("plain")
            assert (await conn.recv()).text() == "plain"


@pytest.mark.parametrize("answer,match", [
    ("permessage-deflate; server_max_window_bits=7", "between 8 and 15"),
    ("permessage-deflate; bogus", "unknown parameter"),
    ("permessage-deflate; client_max_window_bits=9; client_max_window_bits=9", "duplicate"),
    ("x-webkit-deflate-frame", "did not offer"),
])
async def test_client_fails_the_handshake_on_a_bad_answer(answer, match):
    async def handle(reader, writer):
        await accept_handshake(reader, writer, extensions=answer)
        await reader.read()

    async with raw_server(handle) as port:
        with pytest.raises(ws.NegotiationError, match=match):
            await ws.connect(f"ws://127.0.0.1:{port}/", compression="deflate", ping_interval=None)
        # the blocking client: the same check
        with pytest.raises(ws.NegotiationError, match=match):
            await asyncio.to_thread(ws.sync.connect, f"ws://127.0.0.1:{port}/", compression="deflate")


def raw_upgrade(port: int, extensions: str) -> str:
    """Send an upgrade request with this offer; the response head."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        request, _ = ws.handshake.build_request("127.0.0.1", "/", port=port,
                                                extra_headers=[("Sec-WebSocket-Extensions", extensions)])
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.decode("latin-1")


@pytest.mark.parametrize("offer,expected", [
    ("permessage-deflate; foo=1", None),
    ("permessage-deflate; server_max_window_bits=16", None),
    ("permessage-deflate; client_no_context_takeover=yes", None),
    ("permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9"),
    ("permessage-deflate; foo, permessage-deflate", "permessage-deflate; server_max_window_bits=12"),
])
async def test_server_declines_invalid_offers(offer, expected):
    async with nexus_server(compression="deflate") as server:
        head = await asyncio.to_thread(raw_upgrade, server.port, offer)
    assert head.startswith("HTTP/1.1 101")
    lines = [line.split(": ", 1)[1] for line in head.split("\r\n")
             if line.lower().startswith("sec-websocket-extensions:")]
    assert lines == ([] if expected is None else [expected])


def test_blocking_client_with_compression_against_our_server_and_websockets():
    results = {}

    def run_sync(url: str, key: str) -> None:
        with ws.sync.connect(url, compression="deflate", max_message_size=BIG + 1024) as conn:
            assert conn.compression is not None
            for i in range(100):
                conn.send(QUOTE % i)
                assert conn.recv().text() == QUOTE % i
            payload = os.urandom(1 << 20)
            conn.send(payload)
            assert conn.recv(timeout=30).bytes() == payload
            results[key] = conn.compression.inflated_messages

    async def main():
        async with nexus_server(compression="deflate", max_message_size=BIG + 1024) as server:
            await asyncio.to_thread(run_sync, f"ws://127.0.0.1:{server.port}/", "ours")
        async with wsl_serve(wsl_echo, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
            await asyncio.to_thread(run_sync, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/",
                                    "websockets")

    asyncio.run(main())
    assert results["ours"] >= 101 and results["websockets"] >= 101


async def test_an_8_bit_client_window_sends_uncompressed_but_receives_compressed():
    # The server tells us to compress with 8 bits: zlib cannot, so we send plain
    # messages (allowed per message) and still inflate what the server sends.
    config = ws.Deflate(client_max_window_bits=8)
    async with nexus_server(compression="deflate") as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", compression=config,
                              ping_interval=None) as conn:
            assert conn.compression.local_max_window_bits == 8
            for i in range(50):
                await conn.send_text(QUOTE % i)
                assert (await conn.recv()).text() == QUOTE % i
            assert conn.compression.deflated_messages == 0
            assert conn.compression.inflated_messages == 50
