"""The REST client against a real local httpbin (HTTP and HTTPS)."""

import asyncio
import gzip

import pytest

from nexus_net import rest
from nexus_net.http import ConnectionLost, RequestTimeout, ResponseReader
from nexus_net.rest import RequestWriter
from nexus_net.tls import TlsConfig

pytest.importorskip("pytest_httpbin")
httpbin_app = pytest.importorskip("httpbin").app


class Origin:
    def __init__(self, server, tls):
        self.url, self.port, self.tls = server.url, server.port, tls

    def connect(self, **kw):
        return rest.connect(self.url, tls=self.tls, **kw)


@pytest.fixture(params=["http", "https"])
def origin(request):
    """The local httpbin, over HTTP and over HTTPS (its own test CA)."""
    if request.param == "http":
        return Origin(request.getfixturevalue("httpbin"), None)
    from pytest_httpbin import certs
    return Origin(request.getfixturevalue("httpbin_secure"), TlsConfig(ca_file=certs.where()))


async def test_get_with_query_params(origin):
    async with await origin.connect() as conn:
        r = await conn.get("/get", params={"symbol": "BTC-USD", "note": "a b&c"})
        assert r.status == 200
        assert r.json()["args"] == {"symbol": "BTC-USD", "note": "a b&c"}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_methods_with_json_bodies(origin, method):
    async with await origin.connect() as conn:
        r = await conn.request(method, f"/{method.lower()}", json={"px": "67000.5", "qty": 2})
        assert r.status == 200
        assert r.json()["json"] == {"px": "67000.5", "qty": 2}


async def test_custom_headers_and_default_headers(origin):
    async with await origin.connect(headers={"User-Agent": "nexus-net-test"}) as conn:
        r = await conn.get("/headers", headers={"X-Api-Key": "k123"})
        seen = r.json()["headers"]
        assert seen["X-Api-Key"] == "k123" and seen["User-Agent"] == "nexus-net-test"


@pytest.mark.parametrize("code", [200, 201, 204, 404, 500])
async def test_status_codes(origin, code):
    async with await origin.connect() as conn:
        r = await conn.get(f"/status/{code}")
        assert r.status == code
        if code == 204:
            assert len(r.body) == 0


async def test_redirect_is_not_followed(origin):
    async with await origin.connect() as conn:
        r = await conn.get("/redirect-to", params={"url": "/get", "status_code": "301"})
        assert r.status == 301 and r.header("location") == "/get"


async def test_chunked_stream(origin):
    async with await origin.connect() as conn:
        r = await conn.get("/stream/5")
        lines = r.text().strip().split("\n")
        assert len(lines) == 5
        assert r.chunked or r.header("content-length") is None


async def test_stream_bytes(origin):
    async with await origin.connect() as conn:
        r = await conn.get("/stream-bytes/20000", params={"seed": "1", "chunk_size": "1000"})
        assert len(r.bytes()) == 20000


async def test_gzip_and_deflate_are_decoded(origin):
    # httpbin's /gzip and /deflate compress whatever the request asked for
    async with await origin.connect() as conn:
        r = await conn.get("/gzip")
        assert r.header("content-encoding") == "gzip" and r.json()["gzipped"] is True
        r = await conn.get("/deflate")
        assert r.header("content-encoding") == "deflate" and r.json()["deflated"] is True
        assert "Accept-Encoding" not in (await conn.get("/headers")).json()["headers"]


async def test_accept_encoding_is_sent_and_its_answers_decoded(origin):
    async with await origin.connect(accept_encoding=("gzip", "deflate")) as conn:
        for _ in range(3):                                  # (pytest-httpbin closes after every response)
            r = await conn.get("/headers")
            assert r.json()["headers"]["Accept-Encoding"] == "gzip, deflate"
            r = await conn.get("/gzip")
            assert r.json()["gzipped"] is True and r.json()["headers"]["Accept-Encoding"] == "gzip, deflate"


async def test_head_has_no_body(origin):
    async with await origin.connect() as conn:
        r = await conn.request("HEAD", "/get")
        assert r.status == 200 and len(r.body) == 0
        assert int(r.header("content-length")) > 0


async def test_one_mebibyte_bodies_both_ways(origin):
    payload = ("0123456789abcdef" * 65536)          # 1 MiB of text
    async with await origin.connect() as conn:
        r = await conn.post("/post", data=payload.encode(), headers={"Content-Type": "text/plain"})
        assert r.status == 200 and len(r.body) > 1_000_000
        assert r.json()["data"] == payload


async def test_send_with_own_writer_and_reader(origin):
    writer = RequestWriter("127.0.0.1", port=origin.port, secure=origin.tls is not None, base_path="/anything")
    reader = ResponseReader(max_body_size=1 << 20)
    async with await origin.connect() as conn:
        req = writer.post("/order").query("a", "1").header("X-KEY", "k").body_json({"side": "buy"}).finish()
        r = await conn.send(req, reader)
        echoed = r.json()
        assert echoed["method"] == "POST" and echoed["args"] == {"a": "1"}
        assert echoed["json"] == {"side": "buy"} and echoed["headers"]["X-Key"] == "k"


async def test_keep_alive_reuses_one_connection(keepalive_server):
    async with await rest.connect(keepalive_server) as conn:
        first = conn.proto
        for i in range(200):
            r = await conn.get("/get", params={"i": str(i)})
            assert r.json()["args"] == {"i": str(i)} and r.keep_alive
        assert conn.proto is first                 # never reconnected
        assert conn.reconnects == 0


async def test_reconnects_after_the_server_closed_an_idle_connection(httpbin):
    # pytest-httpbin closes after every response: each request needs a new connection
    async with await rest.connect(httpbin.url) as conn:
        for i in range(5):
            assert (await conn.get("/get")).status == 200
        assert conn.reconnects >= 4


async def test_https(httpbin_secure):
    from pytest_httpbin import certs
    tls = TlsConfig(ca_file=certs.where())
    async with await rest.connect(httpbin_secure.url, tls=tls) as conn:
        r = await conn.post("/post", json={"secure": True})
        assert r.status == 200 and r.json()["json"] == {"secure": True}
        r = await conn.get("/stream/3")
        assert len(r.text().strip().split("\n")) == 3


async def test_server_that_stalls_hits_the_read_timeout():
    async def stall(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        conn = await rest.connect(f"http://127.0.0.1:{port}", read_timeout=0.2)
        with pytest.raises(RequestTimeout):
            await conn.get("/slow")
        await conn.close()
    finally:
        server.close()


async def test_server_closing_mid_body_is_a_clear_error():
    async def cut(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(cut, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        conn = await rest.connect(f"http://127.0.0.1:{port}")
        with pytest.raises(ConnectionLost, match="mid-response"):
            await conn.post("/x", json={})           # not idempotent: no retry
        await conn.close()
    finally:
        server.close()


async def test_head_after_a_read_until_close_response(httpbin):
    async with await rest.connect(httpbin.url) as conn:
        assert len((await conn.get("/stream/3")).text().strip().split("\n")) == 3
        head = await conn.request("HEAD", "/get")
        assert head.status == 200 and len(head.body) == 0


SERVER_SCRIPT = r"""
import asyncio, os, sys
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {0})
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
class P(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.buf = t, b""
    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            n = 0
            for line in self.buf[:end].split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            if len(self.buf) < end + 4 + n:
                return
            self.buf = self.buf[end + 4 + n:]
            self.t.write(REPLY)
async def main():
    server = await asyncio.get_running_loop().create_server(P, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


async def test_fast_replies_from_another_process_never_hang():
    """Regression: the waiter must exist before the reply can arrive. With the
    server in another process on the same core, a reply used to be processed
    before the waiting task first ran, and the request hung until read_timeout."""
    import os
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        port = int(proc.stdout.readline())
        if saved is not None:
            os.sched_setaffinity(0, {0})
        conn = await rest.connect(f"http://127.0.0.1:{port}", read_timeout=1)
        for _ in range(3000):
            assert (await conn.post("/x", data=b"payload")).bytes() == b"ok"
        await conn.close()
    finally:
        if saved is not None:
            os.sched_setaffinity(0, saved)
        proc.stdin.close()
        proc.wait(10)


async def test_total_timeout_covers_the_whole_request():
    async def stall(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        conn = await rest.connect(f"http://127.0.0.1:{port}", read_timeout=None, total_timeout=0.2)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(RequestTimeout, match=r"GET /slow took more than total_timeout=0\.2s"):
            await conn.get("/slow")
        assert loop.time() - t0 < 2
        assert not conn.connected
        await conn.close()
        # with both set, a read timeout is reported as one (not as the total)
        conn = await rest.connect(f"http://127.0.0.1:{port}", read_timeout=0.1, total_timeout=5)
        t0 = loop.time()
        with pytest.raises(RequestTimeout, match=r"read_timeout=0\.1s"):
            await conn.get("/slow")
        assert loop.time() - t0 < 1
        await conn.close()
    finally:
        server.close()
