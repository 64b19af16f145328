"""Bad peers and faults: every one ends in a specific exception, never a hang."""

import asyncio
import socket
import struct
import subprocess
import sys

import pytest

from nexus_net import ws
from nexus_net.ws import handshake as hs
from wire import frame
from wsutil import accept_handshake, nexus_server, raw_server

NOPING = dict(ping_interval=None)


async def test_tcp_closed_without_close_frame_gives_1006_after_buffered_messages():
    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        writer.write(frame(0x1, b"one") + frame(0x2, b"two") + frame(0x1, b"thr", fin=False))
        await writer.drain()
        writer.close()                       # no close frame

    async with raw_server(peer) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", **NOPING)
        assert (await conn.recv()).text() == "one"     # nothing received is lost
        assert (await conn.recv()).bytes() == b"two"
        with pytest.raises(ws.ConnectionClosedError) as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.code == 1006 and conn.close_code == 1006
        assert conn.closed


async def read_close_frame(reader):
    """Read one close frame (masked when our client sent it)."""
    head = await reader.readexactly(2)
    assert head[0] == 0x88, f"expected a close frame, got {head!r}"
    key = await reader.readexactly(4) if head[1] & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(await reader.readexactly(head[1] & 0x7F)))
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode()


@pytest.mark.parametrize("garbage,code,match", [
    (b"\x83\x00", 1002, "reserved data opcode"),
    (b"\xc1\x00", 1002, "RSV1"),
    (frame(0x1, b"\xff\xfe"), 1007, "UTF-8"),
    (b"\x82\x7f" + struct.pack("!Q", 1 << 40), 1009, "max_frame_size"),
])
async def test_garbage_after_handshake_closes_with_the_right_code(garbage, code, match):
    got = asyncio.get_running_loop().create_future()

    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        writer.write(garbage)
        got.set_result(await read_close_frame(reader))

    async with raw_server(peer) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", max_message_size=1 << 20, **NOPING)
        with pytest.raises(ws.ConnectionClosedError, match=match) as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.code == code
        peer_code, _ = await asyncio.wait_for(got, 5)
        assert peer_code == code
        await asyncio.wait_for(conn.wait_closed(), 5)


def bad_response(request_head, **changes):
    request = hs.parse_request(request_head)
    lines = {"status": "HTTP/1.1 101 Switching Protocols", "Upgrade": "websocket",
             "Connection": "Upgrade", "Sec-WebSocket-Accept": hs.accept_key(request.key)}
    lines.update(changes)
    body = lines.pop("body", b"")
    head = [lines.pop("status")] + [f"{k}: {v}" for k, v in lines.items() if v is not None]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize("changes,match,status", [
    ({"Sec-WebSocket-Accept": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "Sec-WebSocket-Accept", 101),
    ({"Upgrade": None}, "Upgrade", 101),
    ({"status": "HTTP/1.1 403 Forbidden", "Content-Length": "14", "body": b'{"error":"no"}'}, "403", 403),
    ({"status": "HTTP/1.1 200 OK"}, "200", 200),
])
async def test_bad_handshake_responses(changes, match, status):
    async def peer(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(bad_response(head, **changes))
        await writer.drain()
        await reader.read()

    async with raw_server(peer) as port:
        with pytest.raises(ws.InvalidHandshakeResponse, match=match) as info:
            await ws.connect(f"ws://127.0.0.1:{port}/", **NOPING)
        assert info.value.status == status
        assert info.value.headers


async def test_response_that_never_finishes_hits_open_timeout():
    async def peer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")   # no end
        await asyncio.sleep(30)

    async with raw_server(peer) as port:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(ws.HandshakeTimeout, match="0.3s"):
            await ws.connect(f"ws://127.0.0.1:{port}/", open_timeout=0.3, **NOPING)
        assert loop.time() - t0 < 2


async def test_redirects_are_followed_up_to_the_limit():
    async with nexus_server() as server:
        target = f"ws://127.0.0.1:{server.port}/final"

        async def redirector(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()

        async with raw_server(redirector) as port:
            async with ws.connect(f"ws://127.0.0.1:{port}/start", **NOPING) as conn:
                assert conn.request_path == "/final"
                await conn.send_text("via redirect")
                assert (await conn.recv()).text() == "via redirect"

        async def loop_redirect(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /again\r\n\r\n")
            await writer.drain()

        async with raw_server(loop_redirect) as port:
            with pytest.raises(ws.TooManyRedirects):
                await ws.connect(f"ws://127.0.0.1:{port}/", max_redirects=3, **NOPING)


async def raw_http(port, request):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"426"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", b"405"),
    (b"garbage\r\n\r\n", b"400"),
    # a head that never ends within the limit: answered (not left hanging)
    (b"GET / HTTP/1.1\r\nX-Flood: " + b"v" * 20000, b"431"),
])
async def test_server_rejects_non_websocket_requests_and_keeps_serving(request_bytes, status):
    async with nexus_server() as server:
        answer = await raw_http(server.port, request_bytes)
        assert answer.split(b" ")[1] == status
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING) as conn:
            await conn.send_text("still serving")
            assert (await conn.recv()).text() == "still serving"


async def test_server_times_out_silent_clients_and_keeps_serving():
    async with nexus_server(open_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""   # dropped after open_timeout
        writer.close()
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING) as conn:
            await conn.send_text("ok")
            assert (await conn.recv()).text() == "ok"


async def test_message_over_max_message_size_closes_with_1009_both_roles():
    async with nexus_server(max_message_size=1000) as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", max_message_size=1000, **NOPING)
        await conn.send_binary(b"x" * 5000)             # the server refuses it
        with pytest.raises(ws.ConnectionClosedError) as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.code == 1009

    async def big_sender(reader, writer):
        await accept_handshake(reader, writer)
        writer.write(frame(0x2, b"y" * 2000))
        await asyncio.sleep(5)

    async with raw_server(big_sender) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", max_message_size=1000, **NOPING)
        with pytest.raises(ws.ConnectionClosedError, match="max_frame_size") as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.code == 1009


async def test_slow_reader_keeps_memory_bounded():
    limit = 256 * 1024
    total = 3000
    payload = b"z" * 4096                                  # 12 MB in all

    async def flood(reader, writer):
        await accept_handshake(reader, writer)
        for _ in range(total):
            writer.write(frame(0x2, payload))
            await writer.drain()                           # blocks once we stop reading
        await asyncio.sleep(10)

    async with raw_server(flood) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", limit=limit, read_buffer_size=65536, **NOPING)
        await asyncio.sleep(0.5)                           # don't read: the sender must stall
        capacity = conn.reader.buffer_capacity
        assert conn.bytes_received < total * 4096 // 4      # reading paused: the sender stalled
        assert conn.reader.pending <= limit + 512 * 1024
        assert capacity <= 2 * (limit + 512 * 1024)
        received = 0
        while received < total:
            msg = await asyncio.wait_for(conn.recv(), 10)
            assert len(msg) == 4096
            received += 1
        assert conn.reader.buffer_capacity <= 2 * (limit + 512 * 1024)
        conn.transport_.abort()


async def test_keepalive_closes_with_1011_when_the_peer_goes_silent():
    async def silent(reader, writer):
        await accept_handshake(reader, writer)
        await asyncio.sleep(10)                            # never answers a ping

    async with raw_server(silent) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", ping_interval=0.1, ping_timeout=0.2)
        with pytest.raises(ws.ConnectionClosedError, match="keepalive") as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.code == 1011


async def test_keepalive_keeps_a_live_connection_open():
    async with nexus_server() as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", ping_interval=0.05, ping_timeout=0.5)
        await asyncio.sleep(0.4)                           # several pings, none answered by reading
        await conn.send_text("alive")
        assert (await conn.recv()).text() == "alive"
        await conn.close()


async def test_concurrent_recv_is_refused():
    async with nexus_server() as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING) as conn:
            first = asyncio.ensure_future(conn.recv())
            await asyncio.sleep(0.05)
            with pytest.raises(ws.ConcurrencyError):
                await conn.recv()
            await conn.send_text("for the first")
            assert (await asyncio.wait_for(first, 5)).text() == "for the first"


async def test_a_recv_that_never_runs_takes_no_message():
    # recv() and __anext__ take a buffered message in their own coroutine: one
    # that is closed unawaited, or a task cancelled before its first step,
    # must leave the message for the next reader.
    async def three(conn):
        await conn.send_many(["one", "two", "three", "four"])   # one write: one read here
        async for _ in conn:                                    # (reading answers the close)
            pass

    async with nexus_server(three) as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING) as conn:
            assert (await conn.recv()).text() == "one"          # the rest is buffered now
            conn.recv().close()
            conn.__anext__().close()
            task = asyncio.ensure_future(conn.recv())
            task.cancel()
            assert (await asyncio.gather(task, return_exceptions=True))[0].__class__ is asyncio.CancelledError
            assert (await conn.recv()).text() == "two"
            assert (await conn.__anext__()).text() == "three"
            assert (await conn.recv()).text() == "four"


async def test_server_fails_clients_that_break_the_protocol():
    async with nexus_server() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        request, key = hs.build_request("127.0.0.1", "/", port=server.port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        hs.check_response(head, key)
        writer.write(frame(0x1, b"unmasked from a client"))
        code, reason = await asyncio.wait_for(read_close_frame(reader), 5)
        assert code == 1002 and "mask" in reason
        assert await asyncio.wait_for(reader.read(), 5) == b""     # then TCP closes
        writer.close()


# Run in a child process: on the old code the parent's event loop would spin
# inside wait_closed() without ever reaching a timeout of its own.
WAIT_CLOSED_AFTER_FAILED_CONNECTION = """
import asyncio, sys
from nexus_net import ws
from nexus_net.ws import handshake as hs

async def echo(conn):
    async for msg in conn:
        await conn.send(msg.data)

async def main():
    for _ in range(5):
        server = await ws.serve(echo, "127.0.0.1", 0, ping_interval=None)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        request, key = hs.build_request("127.0.0.1", "/", port=server.port)
        writer.write(request)
        hs.check_response(await reader.readuntil(b"\\r\\n\\r\\n"), key)
        writer.write(b"\\x81\\x02hi")          # unmasked: the server fails the connection
        closing = await reader.read()         # its close frame (1002), then EOF
        assert closing[0] == 0x88 and closing[2:4] == b"\\x03\\xea", closing
        writer.close()
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
    print("wait_closed returned 5 times")

if sys.argv[1] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_wait_closed_returns_after_the_server_failed_a_connection(loop):
    # Python 3.12+ regression: wait_closed() looped "until the task set is
    # empty" over gather(), which need not yield there once every task is
    # done, so the done-callbacks emptying the set never ran: 100 % CPU, hang.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    try:
        proc = subprocess.run([sys.executable, "-c", WAIT_CLOSED_AFTER_FAILED_CONNECTION, loop],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("Server.wait_closed() never returned (the event loop spun)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "wait_closed returned 5 times" in proc.stdout


async def test_connect_errors_are_clear():
    with pytest.raises(ws.InvalidURI, match="scheme"):
        await ws.connect("http://127.0.0.1/")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(OSError):
        await ws.connect(f"ws://127.0.0.1:{port}/", **NOPING)


async def test_send_applies_write_backpressure():
    release = asyncio.Event()
    got = asyncio.get_running_loop().create_future()

    async def lazy_reader(reader, writer):
        await accept_handshake(reader, writer)
        await release.wait()                      # read nothing for a while
        total = 0
        while total < 200 * 65546:
            chunk = await reader.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
        got.set_result(total)

    async with raw_server(lazy_reader) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", **NOPING)
        transport = conn.transport_
        high = 256 * 1024
        transport.set_write_buffer_limits(high=high)
        payload = b"p" * 65536
        waited = 0
        max_buffered = 0

        async def sender():
            nonlocal waited, max_buffered
            for _ in range(200):                      # 13 MB, far more than socket buffers
                pending = conn.send_binary(payload)
                t0 = asyncio.get_running_loop().time()
                await pending
                if asyncio.get_running_loop().time() - t0 > 0.05:
                    waited += 1
                max_buffered = max(max_buffered, transport.get_write_buffer_size())

        task = asyncio.ensure_future(sender())
        await asyncio.sleep(0.5)
        assert not task.done()                        # blocked: the peer is not reading
        assert transport.get_write_buffer_size() <= high + 2 * 65546
        release.set()
        await asyncio.wait_for(task, 10)
        assert waited >= 1
        assert max_buffered <= high + 2 * 65546
        assert await asyncio.wait_for(got, 10) >= 200 * 65536
        conn.transport_.abort()


async def test_cancelling_a_waiting_recv_leaves_the_connection_usable():
    async with nexus_server() as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING) as conn:
            task = asyncio.ensure_future(conn.recv())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await conn.send_text("after cancel")
            assert (await asyncio.wait_for(conn.recv(), 5)).text() == "after cancel"
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(conn.recv(), 0.05)   # wait_for cancels it too
            await conn.send_text("again")
            assert (await asyncio.wait_for(conn.recv(), 5)).text() == "again"


async def test_receive_span_supports_the_copy_in_path_of_buffered_transports():
    # Transports that copy into get_buffer()'s result with buf[:n] = data
    # (asyncio's proactor helper) must work with our re-pointable Span.
    async with nexus_server() as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING) as conn:
            frame_bytes = frame(0x1, b"copied in")
            span = conn.get_buffer(-1)
            assert len(span) >= 16384 and not memoryview(span).readonly
            with pytest.raises(ValueError):
                span[0:2] = b"abc"                          # length mismatch refused
            span[0:len(frame_bytes)] = frame_bytes
            conn.buffer_updated(len(frame_bytes))
            assert (await asyncio.wait_for(conn.recv(), 5)).text() == "copied in"


async def test_unsolicited_pong_is_sent():
    got = asyncio.get_running_loop().create_future()

    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        head = await reader.readexactly(2)
        key = await reader.readexactly(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(await reader.readexactly(head[1] & 0x7F)))
        got.set_result((head[0], payload))

    async with raw_server(peer) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", **NOPING)
        await conn.pong(b"heartbeat")
        assert await asyncio.wait_for(got, 5) == (0x8A, b"heartbeat")
        conn.transport_.abort()


async def test_a_large_read_buffer_size_is_accepted():
    """The reader's capacity rule lives in one place: a read buffer larger than
    one frame plus the flow-control limit used to fail a check the caller
    never asked for."""
    async with nexus_server() as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", read_buffer_size=8 << 20, **NOPING) as conn:
            await conn.send_text("big buffer")
            assert (await conn.recv()).text() == "big buffer"


def test_a_close_frame_buffered_before_tcp_dropped_still_ends_cleanly():
    """The peer's close frame arrived, then FIN, before the application read:
    the close is still the peer's (1001, clean), not 1006."""
    from nexus_net.ws._session import Session
    s = Session(ws.Role.CLIENT)
    s.reader.feed(frame(1, b"last") + frame(8, struct.pack("!H", 1001) + b"bye"))
    s.mark_lost()
    assert s.next().text() == "last"
    assert s.next() is None and s.closed_for_reading
    assert s.close_code == 1001 and s.close_reason == "bye"
    with pytest.raises(ws.ConnectionClosedOK):
        s.check_send()
