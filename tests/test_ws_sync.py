"""The blocking client against our server and a websockets server."""

import asyncio
import os
import threading

import pytest

from nexus_net import ws
from wire import frame
from wsutil import accept_handshake, nexus_server, raw_server

websockets_sync = pytest.importorskip("websockets.sync.server")


@pytest.fixture
def websockets_sync_server():
    def handler(conn):
        for message in conn:
            if message == "close-4000":
                conn.close(4000, "asked")
                return
            conn.send(message)

    server = websockets_sync.serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
    server.shutdown()
    thread.join(5)


def test_round_trips_against_websockets(websockets_sync_server):
    with ws.sync.connect(websockets_sync_server, max_message_size=1 << 25) as conn:
        conn.send_text("hello ✓")
        assert conn.recv(timeout=5).text() == "hello ✓"
        payload = os.urandom(16 * 1024 * 1024)
        conn.send_binary(payload)
        assert conn.recv(timeout=30).bytes() == payload
        conn.ping(b"x")
        conn.send_text("after ping")
        assert conn.recv(timeout=5).text() == "after ping"
    assert conn.closed and conn.close_code == 1000


def test_peer_close_code_and_sending_after_close(websockets_sync_server):
    conn = ws.sync.connect(websockets_sync_server)
    conn.send_text("close-4000")
    with pytest.raises(ws.ConnectionClosedError) as info:
        conn.recv(timeout=5)
    assert (info.value.code, info.value.reason) == (4000, "asked")
    with pytest.raises(ws.ConnectionClosed):
        conn.send_text("late")


def test_recv_timeout_leaves_the_connection_usable(websockets_sync_server):
    with ws.sync.connect(websockets_sync_server) as conn:
        with pytest.raises(TimeoutError):
            conn.recv(timeout=0.1)
        conn.send_text("still here")
        assert conn.recv(timeout=5).text() == "still here"


def run_in_loop(coro_factory):
    """Run an asyncio peer in a thread while the blocking client runs here."""
    ready = threading.Event()
    box = {}

    def runner():
        async def main():
            async with coro_factory() as port:
                box["port"] = port
                ready.set()
                while not box.get("stop"):
                    await asyncio.sleep(0.02)
        asyncio.run(main())

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    assert ready.wait(5)
    return box, thread


class ServerPort:
    def __init__(self, **kwargs):
        self.kwargs = kwargs

    async def __aenter__(self):
        self.cm = nexus_server(**self.kwargs)
        return (await self.cm.__aenter__()).port

    async def __aexit__(self, *exc):
        await self.cm.__aexit__(*exc)


def test_against_our_own_server_with_fragments():
    box, thread = run_in_loop(lambda: ServerPort())
    try:
        with ws.sync.connect(f"ws://127.0.0.1:{box['port']}/") as conn:
            for size in (0, 125, 126, 65536, 1 << 20):
                data = os.urandom(size)
                conn.send_binary(data)
                assert conn.recv(timeout=5).bytes() == data
            for msg_text in ("a", "é" * 1000):
                conn.send_text(msg_text)
                assert conn.recv(timeout=5).text() == msg_text
    finally:
        box["stop"] = True
        thread.join(5)


def test_tcp_drop_gives_1006_after_buffered_messages():
    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        writer.write(frame(0x1, b"kept") + frame(0x2, b"par", fin=False))
        await writer.drain()
        writer.close()

    box, thread = run_in_loop(lambda: raw_server(peer))
    try:
        conn = ws.sync.connect(f"ws://127.0.0.1:{box['port']}/")
        assert conn.recv(timeout=5).text() == "kept"
        with pytest.raises(ws.ConnectionClosedError) as info:
            conn.recv(timeout=5)
        assert info.value.code == 1006
    finally:
        box["stop"] = True
        thread.join(5)


def test_protocol_error_closes_with_1002():
    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        writer.write(b"\x8f\x00")            # reserved control opcode
        await asyncio.sleep(2)

    box, thread = run_in_loop(lambda: raw_server(peer))
    try:
        conn = ws.sync.connect(f"ws://127.0.0.1:{box['port']}/")
        with pytest.raises(ws.ConnectionClosedError, match="reserved control opcode") as info:
            conn.recv(timeout=5)
        assert info.value.code == 1002
    finally:
        box["stop"] = True
        thread.join(5)


def test_handshake_timeout():
    async def stall(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)

    box, thread = run_in_loop(lambda: raw_server(stall))
    try:
        with pytest.raises(ws.HandshakeTimeout):
            ws.sync.connect(f"ws://127.0.0.1:{box['port']}/", open_timeout=0.3)
    finally:
        box["stop"] = True
        thread.join(10)
