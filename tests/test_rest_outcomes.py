"""What happened to a request (issue 14, part 2): RequestNotSent when no byte
of it was written, OutcomeUnknown once some were, each checked against what
a scripted server really received; raise_for_status() as typed errors."""

from __future__ import annotations

import asyncio
import email.utils
import os
import ssl
import time

import pytest

from nexus_net import rest
from nexus_net.http import ConnectionLost, RequestTimeout, ResponseReader
from nexus_net.tls import TlsConfig

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "qty": "0.01"}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Recorder:
    """A keep-alive server that records every request it read, then acts as
    ``script(n)`` says for the n-th request overall: bytes to send, "drop"
    (close without answering), "stall" (never answer), "half" (a head and
    part of the body, then close)."""

    def __init__(self, script):
        self.script = script
        self.requests: list[bytes] = []
        self.connections = 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def handle(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                action = self.script(len(self.requests) - 1)
                if action == "drop":
                    break
                if action == "stall":
                    await asyncio.sleep(30)
                    break
                if action == "half":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                    await writer.drain()
                    break
                writer.write(action)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def posts(self) -> int:
        return sum(r.startswith(b"POST ") for r in self.requests)


# ---- RequestNotSent: nothing of the request reached the wire -------------------------------

async def test_a_connection_that_cannot_be_reopened_is_request_not_sent():
    async with Recorder(lambda n: OK) as srv:
        client = await rest.connect(srv.url)
        try:
            assert (await client.get("/warm")).bytes() == b"ok"
            client.proto.transport.close()          # the idle connection ends; nobody listens any more
            srv.server.close()                      # (3.12+: wait_closed waits for open connections too)
            await srv.server.wait_closed()
            await asyncio.sleep(0.05)
            with pytest.raises(rest.RequestNotSent) as info:
                await client.post("/api/v3/order", json=ORDER)
            exc = info.value
            assert isinstance(exc, rest.ConnectFailed) and isinstance(exc, ConnectionLost)
            assert isinstance(exc, OSError)                                   # old except clauses still catch it
            assert (exc.method, exc.target, exc.bytes_sent) == ("POST", "/api/v3/order", 0)
            assert "was not sent" in str(exc)
            assert srv.posts() == 0                                          # and it really was not
        finally:
            await client.close()


async def test_a_request_queued_behind_a_stalled_one_is_not_sent_when_total_timeout_ends_it():
    async with Recorder(lambda n: "stall") as srv:
        client = await rest.connect(srv.url, read_timeout=None)
        try:
            first = asyncio.ensure_future(client.post("/api/v3/order", json=ORDER))   # holds the connection
            await asyncio.sleep(0.1)
            client.total_timeout = 0.3
            with pytest.raises(rest.ConnectTimeout) as info:                       # waited its turn in vain
                await client.post("/api/v3/order", json={**ORDER, "qty": "0.02"})
            assert isinstance(info.value, RequestTimeout) and info.value.bytes_sent == 0
            assert "was not sent" in str(info.value) and "total_timeout=0.3s" in str(info.value)
            assert srv.posts() == 1 and b'"qty":"0.01"' in srv.requests[0]   # only the first went out
            first.cancel()
        finally:
            await client.close()


async def test_a_reconnect_that_times_out_is_a_connect_timeout():
    # a "server" that accepts TCP and never answers the TLS ClientHello
    async def silent(reader, writer):
        await asyncio.sleep(10)
    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = rest.Client("https", "127.0.0.1", port, tls=TlsConfig(), connect_timeout=0.3,
                             read_timeout=5, total_timeout=None, max_body_size=1 << 20, headers=None)
        with pytest.raises(rest.ConnectTimeout) as info:      # the first request opens the connection
            await client.post("/api/v3/order", json=ORDER)
        assert isinstance(info.value, rest.RequestNotSent) and isinstance(info.value, RequestTimeout)
        await client.close()
    finally:
        server.close()


def test_the_blocking_client_raises_request_not_sent():
    import socket
    import threading
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    got = []

    def serve_one():
        conn, _ = lsock.accept()
        got.append(conn.recv(65536))
        conn.sendall(OK)
        lsock.close()                                   # no second connection will be accepted
        time.sleep(0.1)
        conn.close()
    t = threading.Thread(target=serve_one)
    t.start()
    with rest.sync.connect(f"http://127.0.0.1:{port}") as client:
        assert client.get("/warm").bytes() == b"ok"
        t.join()
        with pytest.raises(rest.ConnectFailed) as info:
            client.post("/api/v3/order", json=ORDER)
        assert info.value.bytes_sent == 0 and len(got) == 1 and got[0].startswith(b"GET /warm")


# ---- OutcomeUnknown: written, no complete response -----------------------------------------

async def test_a_post_read_then_dropped_is_outcome_unknown_and_not_retried():
    async with Recorder(lambda n: "drop") as srv:
        client = await rest.connect(srv.url)
        try:
            with pytest.raises(rest.OutcomeUnknown) as info:
                await client.post("/api/v3/order", json=ORDER)
            exc = info.value
            assert isinstance(exc, rest.ResponseLost) and isinstance(exc, ConnectionLost)
            assert exc.bytes_sent == len(srv.requests[0]) and exc.bytes_received == 0 and exc.status is None
            assert srv.posts() == 1                                          # it did arrive, once
            assert "outcome is unknown" in str(exc)
        finally:
            await client.close()


async def test_an_idempotent_get_is_retried_once_then_outcome_unknown():
    async with Recorder(lambda n: "drop") as srv:
        client = await rest.connect(srv.url)
        try:
            with pytest.raises(rest.ResponseLost):
                await client.get("/api/v3/openOrders")
            assert len(srv.requests) == 2 and srv.connections == 2         # retried on a fresh connection
        finally:
            await client.close()


async def test_a_stalled_response_is_a_response_timeout():
    async with Recorder(lambda n: "stall") as srv:
        client = await rest.connect(srv.url, read_timeout=0.3)
        try:
            with pytest.raises(rest.ResponseTimeout) as info:
                await client.post("/api/v3/order", json=ORDER)
            assert isinstance(info.value, RequestTimeout) and isinstance(info.value, rest.OutcomeUnknown)
            assert info.value.bytes_sent > 0 and srv.posts() == 1
            assert client.proto is None                                       # never reused
        finally:
            await client.close()


async def test_half_a_response_then_a_drop_says_what_was_received():
    async with Recorder(lambda n: "half") as srv:
        client = await rest.connect(srv.url)
        try:
            with pytest.raises(rest.ResponseLost) as info:
                await client.post("/api/v3/order", json=ORDER)
            assert info.value.status == 200 and info.value.bytes_received > 10 and srv.posts() == 1
        finally:
            await client.close()


async def test_a_tls_failure_after_the_write_is_outcome_unknown(localhost_pki):
    """A TLS server (a thread, Python's ssl) that reads the request and then
    sends a forged record on the raw socket: the client's TLS fails after the
    write."""
    import socket
    import threading
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(localhost_pki["server"])
    lsock = socket.create_server(("127.0.0.1", 0))
    got = []

    def serve():
        conn, _ = lsock.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            data = b""
            while b"\r\n\r\n" not in data:
                data += tls.recv(65536)
            got.append(data)
            raw = socket.socket(fileno=os.dup(tls.fileno()))
            raw.sendall(b"\x17\x03\x03\x00\x20" + b"forged, not a record of this session")
            time.sleep(1)
            raw.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        client = await rest.connect(f"https://127.0.0.1:{lsock.getsockname()[1]}",
                                    tls=TlsConfig(ca_file=localhost_pki["ca"]), read_timeout=10)
        try:
            with pytest.raises(rest.ResponseLost, match="TLS failed mid-response") as info:
                await client.post("/api/v3/order", json=ORDER)
            assert info.value.bytes_sent > 0 and len(got) == 1 and got[0].startswith(b"POST /api/v3/order")
        finally:
            await client.close()
    finally:
        await asyncio.to_thread(t.join, 5)
        lsock.close()


async def test_send_callback_reports_outcome_unknown():
    async with Recorder(lambda n: OK if n == 0 else "drop") as srv:
        client = await rest.connect(srv.url)
        try:
            assert (await client.get("/warm")).bytes() == b"ok"
            fut = asyncio.get_running_loop().create_future()
            writer = rest.RequestWriter("127.0.0.1")
            client.send_callback(writer.post("/api/v3/order").body_json(ORDER).finish(), ResponseReader(),
                                 lambda r, e: fut.set_result((r, e)))
            resp, exc = await asyncio.wait_for(fut, 5)
            assert resp is None and isinstance(exc, rest.ResponseLost) and exc.bytes_sent > 0
            assert srv.posts() == 1
        finally:
            await client.close()


def test_the_blocking_client_raises_outcome_unknown():
    async def main():
        async with Recorder(lambda n: "drop" if n == 0 else "stall") as srv:
            def run():
                with rest.sync.connect(srv.url, read_timeout=0.3) as client:
                    with pytest.raises(rest.ResponseLost) as lost:
                        client.post("/api/v3/order", json=ORDER)
                    with pytest.raises(rest.ResponseTimeout) as stalled:
                        client.post("/api/v3/order", json=ORDER)
                    return lost.value, stalled.value
            lost, stalled = await asyncio.to_thread(run)
            assert lost.bytes_sent > 0 and stalled.bytes_sent > 0 and srv.posts() == 2
    asyncio.run(main())


# ---- raise_for_status ----------------------------------------------------------------------

def status_reply(status: int, reason: str, *headers: str, body: bytes = b'{"code":-1}') -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def test_raise_for_status_types():
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    replies = [status_reply(429, "Too Many Requests", "Retry-After: 7"),
               status_reply(418, "I'm a teapot", f"Retry-After: {date}"),
               status_reply(503, "Service Unavailable"), status_reply(503, "Service Unavailable"),
               status_reply(401, "Unauthorized", body=b'{"code":-2015,"msg":"Invalid API-key"}'),
               status_reply(200, "OK")]
    async with Recorder(lambda n: replies[n]) as srv:
        client = await rest.connect(srv.url)
        try:
            with pytest.raises(rest.RateLimited) as info:
                (await client.post("/api/v3/order", json=ORDER)).raise_for_status()
            assert info.value.status == 429 and info.value.retry_after == 7.0 and "retry after 7s" in str(info.value)
            assert isinstance(info.value, rest.ClientError)
            with pytest.raises(rest.RateLimited) as info:
                (await client.get("/api/v3/ticker")).raise_for_status()
            assert info.value.status == 418 and 25 <= info.value.retry_after <= 31
            with pytest.raises(rest.ServerError) as info:
                (await client.post("/api/v3/order", json=ORDER)).raise_for_status()
            assert info.value.outcome_unknown and "outcome is unknown" in str(info.value)
            with pytest.raises(rest.ServerError) as info:
                (await client.get("/api/v3/ticker")).raise_for_status()
            assert not info.value.outcome_unknown
            with pytest.raises(rest.ClientError) as info:
                (await client.get("/api/v3/account")).raise_for_status()
            assert info.value.status == 401 and b"Invalid API-key" in info.value.body
            assert info.value.header("content-type") == "application/json"
            assert not isinstance(info.value, rest.RateLimited)
            resp = await client.get("/ok")
            assert resp.raise_for_status() is resp and resp.ok
        finally:
            await client.close()


@pytest.mark.parametrize("status,cls", [(429, "RateLimited"), (418, "RateLimited"), (503, "ServerError"),
                                        (404, "ClientError"), (500, "ServerError")])
async def test_raise_for_status_against_httpbin(httpbin, status, cls):
    async with await rest.connect(httpbin.url) as client:
        resp = await client.get(f"/status/{status}")
        assert resp.status == status and not resp.ok
        with pytest.raises(getattr(rest, cls)) as info:
            resp.raise_for_status()
        assert info.value.status == status


def test_the_blocking_read_timeout_holds_on_later_requests_of_a_connection():
    # (the idle check before each request used to clear the socket's timeout)
    async def main():
        async with Recorder(lambda n: OK if n < 2 else "stall") as srv:
            def run():
                with rest.sync.connect(srv.url, read_timeout=0.3) as client:
                    assert client.get("/a").bytes() == b"ok" and client.get("/b").bytes() == b"ok"
                    t0 = time.monotonic()
                    with pytest.raises(rest.ResponseTimeout):
                        client.post("/api/v3/order", json=ORDER)
                    return time.monotonic() - t0
            assert await asyncio.to_thread(run) < 10         # not the server's 30 s stall
    asyncio.run(main())
