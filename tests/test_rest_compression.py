"""Compressed responses through the REST clients (issue 14, part 1), against
aiohttp's server compressing for real and scripted servers that send half a
stream, a bomb, or hang up mid-body."""

from __future__ import annotations

import asyncio
import gzip
import time

import orjson
import pytest

from nexus_net import rest
from nexus_net.http import BodyTooLarge, ConnectionLost, ContentEncodingError, InvalidResponse

pytest.importorskip("aiohttp")

# an exchange-info-like document: ~64 KB of JSON
EXCHANGE_INFO = {"timezone": "UTC", "serverTime": 1764633600000, "symbols": [
    {"symbol": f"SYM{i}USDT", "status": "TRADING", "baseAsset": f"SYM{i}", "quoteAsset": "USDT",
     "filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.00010000", "tickSize": "0.00010000"},
                 {"filterType": "LOT_SIZE", "minQty": "0.10000000", "stepSize": "0.10000000"}]}
    for i in range(230)]}


@pytest.fixture
async def compressing_server():
    """aiohttp, compressing what the request's Accept-Encoding allows: /info
    with a Content-Length, /stream chunked, /headers echoes the request's."""
    from aiohttp import web

    async def info(request):
        resp = web.json_response(EXCHANGE_INFO)
        resp.enable_compression()
        return resp

    async def stream(request):
        resp = web.StreamResponse()
        resp.enable_compression()
        resp.content_type = "application/json"
        await resp.prepare(request)
        body = orjson.dumps(EXCHANGE_INFO)
        for i in range(0, len(body), 5000):
            await resp.write(body[i:i + 5000])
        await resp.write_eof()
        return resp

    async def headers(request):
        return web.json_response(dict(request.headers))

    app = web.Application()
    app.router.add_get("/info", info)
    app.router.add_get("/stream", stream)
    app.router.add_get("/headers", headers)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    await runner.cleanup()


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compressed_responses_are_decoded_on_one_keep_alive_connection(compressing_server, coding):
    client = await rest.connect(compressing_server, accept_encoding=(coding,))
    try:
        first = client.proto
        for path in ["/info", "/stream", "/info", "/stream"]:
            r = await client.get(path)
            assert r.status == 200 and r.header("content-encoding") == coding, path
            assert r.json() == EXCHANGE_INFO
        assert (r.chunked, client.proto is first, client.reconnects) == (True, True, 0)
        assert (await client.get("/headers")).json()["Accept-Encoding"] == coding
    finally:
        await client.close()


async def test_without_accept_encoding_the_server_sends_identity(compressing_server):
    client = await rest.connect(compressing_server)
    try:
        r = await client.get("/info")
        assert r.header("content-encoding") is None and r.json() == EXCHANGE_INFO
    finally:
        await client.close()


async def test_the_blocking_client_decodes_too(compressing_server):
    def run():
        with rest.sync.connect(compressing_server, accept_encoding=("gzip", "deflate")) as client:
            got = [client.get(p) for p in ("/info", "/stream")]
            return [(r.header("content-encoding"), r.json()) for r in got], client.reconnects
    got, reconnects = await asyncio.to_thread(run)
    assert [g[1] for g in got] == [EXCHANGE_INFO] * 2 and reconnects == 0
    assert {g[0] for g in got} <= {"gzip", "deflate"} and None not in {g[0] for g in got}


# ---- scripted servers -------------------------------------------------------------------

async def scripted(answer):
    """A server that reads one request head, then runs ``answer(writer)``."""
    async def handle(reader, writer):
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                if await answer(writer) is False:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass                    # (cancelled: the test ended while it was still writing)
        finally:
            writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


GZ = gzip.compress(orjson.dumps(EXCHANGE_INFO))


def head(n: int, coding: str = "gzip") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: {n}\r\n\r\n".encode()


async def test_half_a_gzip_stream_is_an_invalid_response_and_the_connection_is_discarded():
    async def half(writer):
        writer.write(head(len(GZ) // 2) + GZ[:len(GZ) // 2])      # framing complete, stream cut
        await writer.drain()
    server, url = await scripted(half)
    client = await rest.connect(url, accept_encoding=("gzip",))
    try:
        proto = client.proto
        with pytest.raises(ContentEncodingError, match="truncated") as info:
            await client.get("/x")
        assert isinstance(info.value, InvalidResponse)
        assert client.proto is None and proto.transport.is_closing()   # never reused
    finally:
        await client.close()
        server.close()


async def test_a_server_that_hangs_up_mid_gzip_body_is_connection_lost():
    async def cut(writer):
        writer.write(head(len(GZ)) + GZ[:1000])
        await writer.drain()
        return False
    server, url = await scripted(cut)
    client = await rest.connect(url, accept_encoding=("gzip",))
    try:
        with pytest.raises(ConnectionLost):
            await client.get("/x")
    finally:
        await client.close()
        server.close()


async def test_a_10_mb_to_10_gb_bomb_stops_at_max_body_size():
    member = gzip.compress(bytes(10 << 20), compresslevel=9)       # 10 MiB of zeros in ~10 KB
    bomb = member * 1024                                            # ~10 MB on the wire, 10 GiB inflated
    sent = asyncio.Event()

    async def send(writer):
        writer.write(head(len(bomb)) + bomb)
        try:
            await writer.drain()
        except ConnectionError:
            pass
        sent.set()
        return False
    server, url = await scripted(send)
    client = await rest.connect(url, accept_encoding=("gzip",))     # max_body_size: 16 MiB
    try:
        t0 = time.monotonic()
        with pytest.raises(BodyTooLarge, match="decompresses to more than max_body_size=16777216"):
            await client.get("/bomb")
        # it stopped at the limit: a few MB inflated, not 10 GiB (generous bound)
        assert time.monotonic() - t0 < 20
        assert client.proto is None
    finally:
        await client.close()
        server.close()


async def test_an_unknown_coding_raises_instead_of_returning_compressed_bytes():
    async def lzw(writer):
        writer.write(head(4, "compress") + b"\x1f\x9d\x90x")
        await writer.drain()
    server, url = await scripted(lzw)
    client = await rest.connect(url, accept_encoding=("gzip",))
    try:
        with pytest.raises(ContentEncodingError, match="cannot decode Content-Encoding 'compress'"):
            await client.get("/x")
    finally:
        await client.close()
        server.close()


async def test_brotli_from_httpbin(httpbin):
    """httpbin's /brotli, compressed by its own brotli package."""
    pytest.importorskip("brotli")
    client = await rest.connect(httpbin.url, accept_encoding=("br",))
    try:
        r = await client.get("/brotli")
        assert r.status == 200, r.status
        assert r.header("content-encoding") == "br" and r.json()["brotli"] is True
    finally:
        await client.close()
