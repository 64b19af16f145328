"""The blocking REST client against a real local httpbin and a keep-alive server."""

import asyncio
import socket
import threading

import pytest

from nexus_net import rest
from nexus_net.http import ConnectionLost, RequestTimeout
from nexus_net.tls import TlsConfig

pytest.importorskip("pytest_httpbin")


def test_get_post_status_and_chunked(httpbin):
    with rest.sync.connect(httpbin.url) as conn:
        assert conn.get("/get", params={"q": "a b"}).json()["args"] == {"q": "a b"}
        assert conn.post("/post", json={"x": 1}).json()["json"] == {"x": 1}
        assert conn.request("DELETE", "/delete").status == 200
        for code in (201, 204, 404, 500):
            assert conn.get(f"/status/{code}").status == code
        assert len(conn.get("/stream/4").text().strip().split("\n")) == 4
        head = conn.request("HEAD", "/get")
        assert head.status == 200 and len(head.body) == 0
        assert conn.reconnects >= 2              # pytest-httpbin closes every connection


def test_https(httpbin_secure):
    from pytest_httpbin import certs
    with rest.sync.connect(httpbin_secure.url, tls=TlsConfig(ca_file=certs.where())) as conn:
        assert conn.post("/post", json={"tls": 1}).json()["json"] == {"tls": 1}


@pytest.fixture
def keepalive_url():
    from aiohttp import web
    ready = threading.Event()
    box = {}

    async def get(request):
        return web.json_response({"args": dict(request.query)})

    def run():
        async def main():
            app = web.Application()
            app.router.add_get("/get", get)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            box["port"] = site._server.sockets[0].getsockname()[1]
            ready.set()
            while not box.get("stop"):
                await asyncio.sleep(0.02)
            await runner.cleanup()
        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    yield f"http://127.0.0.1:{box['port']}"
    box["stop"] = True
    thread.join(5)


def test_keep_alive_reuses_one_socket(keepalive_url):
    with rest.sync.connect(keepalive_url) as conn:
        sock = conn.io.sock
        for i in range(200):
            assert conn.get("/get", params={"i": str(i)}).json()["args"] == {"i": str(i)}
        assert conn.io.sock is sock and conn.reconnects == 0


def one_shot_server(handler):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def run():
        try:
            c, _ = srv.accept()
            handler(c)
        except OSError:
            pass

    threading.Thread(target=run, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.getsockname()[1]}"


def test_read_timeout():
    def stall(c):
        c.recv(65536)
        threading.Event().wait(3)

    srv, url = one_shot_server(stall)
    try:
        conn = rest.sync.connect(url, read_timeout=0.2)
        with pytest.raises(RequestTimeout):
            conn.get("/slow")
        conn.close()
    finally:
        srv.close()


def test_server_closing_mid_body():
    def cut(c):
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npartial")
        c.close()

    srv, url = one_shot_server(cut)
    try:
        conn = rest.sync.connect(url)
        with pytest.raises(ConnectionLost, match="mid-response"):
            conn.post("/x", json={})
        conn.close()
    finally:
        srv.close()
