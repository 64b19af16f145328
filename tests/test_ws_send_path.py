"""The server's send path (issue 12): coalesced writes and broadcast.

Peers are real: our client and server, the ``websockets`` client, over TCP
(and TLS) on 127.0.0.1. ``conn.out.writes`` counts the writes handed to the
transport, which is what coalescing is about; what arrives is checked message
by message, in order."""

from __future__ import annotations

import asyncio
import ssl

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect

from nexus_net import ws
from nexus_net.tls import TlsConfig
from wsutil import nexus_server

NOPING = dict(ping_interval=None)


def url(server):
    return f"ws://127.0.0.1:{server.port}/"


# ---- coalescing ------------------------------------------------------------------

async def test_messages_sent_in_one_loop_step_share_writes_and_arrive_in_order():
    n = 5000
    writes = {}

    async def push(conn):
        before = conn.out.writes
        for i in range(n):
            await conn.send_text(f"m{i}")
        writes["push"] = conn.out.writes - before
        await conn.close()

    async with nexus_server(push) as server:
        async with ws_connect(url(server), compression=None, max_queue=None) as peer:
            got = [m async for m in peer]
    assert got == [f"m{i}" for i in range(n)]
    # one direct write, then one per 64 KiB buffer (about 8 bytes a frame)
    assert writes["push"] <= 1 + (n * 8) // (64 * 1024) + 2


async def test_coalescing_off_writes_every_message_on_its_own():
    n = 200
    writes = {}

    async def push(conn):
        conn.out.coalesce = False
        before = conn.out.writes
        for i in range(n):
            await conn.send_binary(b"%d" % i)
        writes["push"] = conn.out.writes - before
        await conn.close()

    async with nexus_server(push) as server:
        async with ws.connect(url(server), **NOPING) as conn:
            got = [m.bytes() async for m in conn]
    assert got == [b"%d" % i for i in range(n)]
    assert writes["push"] == n


async def test_a_reply_after_a_read_is_written_at_once():
    seen = []

    async def answer(conn):
        async for msg in conn:
            before = conn.out.writes
            await conn.send_text(msg.text())
            seen.append((conn.out.writes - before, conn.out.pending_size))

    async with nexus_server(answer) as server:
        async with ws.connect(url(server), **NOPING) as conn:
            for i in range(50):
                await conn.send_text(f"q{i}")
                assert (await conn.recv()).text() == f"q{i}"
    assert seen == [(1, 0)] * 50


async def test_a_send_after_sleeping_is_written_at_once():
    seen = []

    async def ticker(conn):
        for i in range(20):
            await asyncio.sleep(0.002)      # any sleep longer than the same-step window (50 us)
            before = conn.out.writes
            await conn.send_text(f"t{i}")
            seen.append((conn.out.writes - before, conn.out.pending_size))
        await conn.close()

    async with nexus_server(ticker) as server:
        async with ws.connect(url(server), **NOPING) as conn:
            got = [m.text() async for m in conn]
    assert got == [f"t{i}" for i in range(20)]
    assert seen == [(1, 0)] * 20


async def test_what_a_step_buffered_leaves_at_the_end_of_the_loop_iteration():
    seen = {}

    async def two(conn):
        await conn.send_text("a")
        await conn.send_text("b")
        seen["pending"] = conn.out.pending_size
        await asyncio.sleep(0)            # one loop iteration: the flush runs before we resume
        seen["after"] = conn.out.pending_size
        async for _ in conn:            # (answers the client's close)
            pass

    async with nexus_server(two) as server:
        async with ws.connect(url(server), **NOPING) as conn:
            assert [(await conn.recv()).text() for _ in range(2)] == ["a", "b"]
    assert seen["pending"] > 0 and seen["after"] == 0


async def test_write_buffer_size_and_drain_include_the_coalesced_frames():
    seen = {}

    async def two(conn):
        await conn.send_text("a")
        await conn.send_text("bb")
        seen["size"] = conn.write_buffer_size
        await conn.drain()
        seen["after"] = conn.out.pending_size
        async for _ in conn:            # (answers the client's close)
            pass

    async with nexus_server(two) as server:
        async with ws.connect(url(server), **NOPING) as conn:
            assert [(await conn.recv()).text() for _ in range(2)] == ["a", "bb"]
    assert seen["size"] >= 4 and seen["after"] == 0


async def test_mixed_sends_of_one_step_keep_their_order():
    big = bytes(range(256)) * 300               # 76,800 B: written on its own, after what is pending

    async def mixed(conn):
        await conn.send_text("first")
        await conn.send_binary(b"second")
        await conn.send_many(["third", b"fourth"])
        await conn.send_binary(big)
        await conn.send_text("after-big")
        await conn.send_fragments(["frag", "ment"])
        await conn.pong(b"hb")
        await conn.send_text("last")
        await conn.close()

    async with nexus_server(mixed) as server:
        async with ws_connect(url(server), compression=None, max_size=None) as peer:
            got = [m async for m in peer]
    assert got == ["first", b"second", "third", b"fourth", big, "after-big", "fragment", "last"]


class BytesSubclass(bytes):
    pass


# Every kind of payload a send takes, at the frame-header size boundaries: the
# frames appended to a busy step's buffer take a shortcut for bytes and str
# (FrameWriter.append_message); the others go the general way. Both must put
# the same messages on the wire, masked in the client role.
PAYLOADS = [
    b"", b"x" * 125, b"y" * 126, b"z" * 16383, "", "caf\u00e9 \u20ac" * 20, "t" * 126,
    bytearray(b"ba" * 70), memoryview(b"0123456789" * 30)[5:250], BytesSubclass(b"sub"),
    memoryview(bytearray(b"w" * 4000)),
]


def expected(payload):
    return payload if isinstance(payload, str) else bytes(payload)


async def test_every_payload_kind_appended_in_one_step_arrives_intact_from_the_server():
    writes = {}

    async def burst(conn):
        before = conn.out.writes
        for _ in range(3):                      # the first is written at once, the rest appended
            for p in PAYLOADS:
                await conn.send(p)
        writes["burst"] = conn.out.writes - before
        await conn.close()

    async with nexus_server(burst) as server:
        async with ws_connect(url(server), compression=None, max_queue=None) as peer:
            got = [m async for m in peer]
    assert got == [expected(p) for p in PAYLOADS] * 3
    # the sends were appended (~61 KB in all: the first write, at most one at
    # the 64 KiB threshold), so the appending path is what was checked
    assert writes["burst"] <= 3


async def test_every_payload_kind_appended_in_one_step_arrives_intact_from_the_client():
    received = []
    done = asyncio.Event()

    async def collect(peer):
        async for m in peer:
            received.append(m)
        done.set()

    async with websockets.serve(collect, "127.0.0.1", 0, compression=None) as wss:
        port = wss.sockets[0].getsockname()[1]
        async with ws.connect(f"ws://127.0.0.1:{port}/", **NOPING) as conn:
            before = conn.out.writes
            for _ in range(3):
                for p in PAYLOADS:
                    await conn.send(p)
            writes = conn.out.writes - before
        await asyncio.wait_for(done.wait(), 10)
    assert received == [expected(p) for p in PAYLOADS] * 3
    assert writes <= 3


async def test_close_right_after_a_burst_loses_nothing():
    n = 3000

    async def burst_then_close(conn):
        for i in range(n):
            await conn.send_text(str(i))
        await conn.close(1000)

    async with nexus_server(burst_then_close) as server:
        conn = await ws.connect(url(server), **NOPING)
        got = [m.text() async for m in conn]
    assert got == [str(i) for i in range(n)]
    assert conn.close_code == 1000


async def test_coalescing_over_tls(tmp_path):
    import trustme
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    n = 4000
    writes = {}

    async def push(conn):
        before = conn.out.writes
        for i in range(n):
            await conn.send_text(f"s{i}")
        writes["push"] = conn.out.writes - before
        await conn.close()

    tls = TlsConfig.server(str(tmp_path / "server.pem"), str(tmp_path / "server.pem"))
    async with nexus_server(push, tls=tls) as server:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        async with ws_connect(f"wss://localhost:{server.port}/", ssl=ctx, compression=None,
                              max_queue=None) as peer:
            got = [m async for m in peer]
    assert got == [f"s{i}" for i in range(n)]
    assert writes["push"] <= 10


async def test_a_listener_answering_a_batch_writes_once_per_read():
    counts = []

    class Echo(ws.Listener):
        def on_message(self, conn, msg):
            conn.send_binary(msg.data)

    server = await ws.serve(None, "127.0.0.1", 0, listener_factory=Echo, ping_interval=None)
    try:
        async with ws.connect(url(server), **NOPING) as conn:
            await conn.send_many([b"x%d" % i for i in range(100)])   # one write: most likely one read
            got = [(await conn.recv()).bytes() for _ in range(100)]
            side = next(iter(server.connections))
            counts.append(side.out.writes)
    finally:
        server.close()
        await server.wait_closed()
    assert got == [b"x%d" % i for i in range(100)]
    assert counts[0] < 100          # 101 response + 1 write per read, however the reads split


async def test_a_slow_reader_makes_the_pusher_wait_instead_of_buffering_without_bound():
    peak = {"buffered": 0}
    release = asyncio.Event()

    async def push(conn):
        for i in range(20000):
            await conn.send_binary(b"x" * 1000)
            peak["buffered"] = max(peak["buffered"], conn.write_buffer_size)
        await conn.close()

    async with nexus_server(push) as server:
        conn = await ws.connect(url(server), **NOPING, limit=64 * 1024)
        await asyncio.sleep(0.2)                # the client is not reading: the server must wait
        release.set()
        n = 0
        async for msg in conn:
            assert len(msg) == 1000
            n += 1
    assert n == 20000
    # the transport's high-water mark (64 KiB by default) plus one buffer and one frame
    assert peak["buffered"] <= 64 * 1024 + 64 * 1024 + 2 * 1010


# ---- broadcast -------------------------------------------------------------------

async def held_server(**kwargs):
    """A server whose handlers hold their connections open, reading (and
    dropping) what the clients send, so closing handshakes are answered."""
    async def hold(conn):
        async for _ in conn:
            pass
    return await ws.serve(hold, "127.0.0.1", 0, ping_interval=None, **kwargs)


async def wait_for_connections(server, n):
    for _ in range(500):
        if len(server.connections) == n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(server.connections)} of {n} connections arrived")


async def test_broadcast_reaches_every_client_library_in_order():
    server = await held_server()
    try:
        ours = [await ws.connect(url(server), **NOPING) for _ in range(3)]
        theirs = [await ws_connect(url(server), compression=None) for _ in range(2)]
        await wait_for_connections(server, 5)
        for i in range(100):
            assert ws.broadcast(server.connections, f"t{i}" if i % 2 else b"b%d" % i) == 0
        expected = [f"t{i}" if i % 2 else b"b%d" % i for i in range(100)]
        for conn in ours:
            got = []
            for _ in range(100):
                msg = await conn.recv()
                got.append(msg.text() if msg.kind is ws.Kind.TEXT else msg.bytes())
            assert got == expected
            await conn.close()
        for peer in theirs:
            assert [await peer.recv() for _ in range(100)] == expected
            await peer.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_broadcast_skips_and_counts_closing_connections():
    server = await held_server()
    try:
        clients = [await ws.connect(url(server), **NOPING) for _ in range(3)]
        await wait_for_connections(server, 3)
        conns = list(server.connections)
        conns[0].send_close(1000)
        assert ws.broadcast(conns, "x") == 1
        assert server.broadcast("y") == 1
        got = []
        for c in clients:
            first = await c.recv()
            got.append("closed" if first is None else [first.text(), (await c.recv()).text()])
            await c.close()
        assert sorted(map(str, got)) == sorted(map(str, ["closed", ["x", "y"], ["x", "y"]]))
    finally:
        server.close()
        await server.wait_closed()


async def settle(conn, bound=10.0):
    """Let the loop run until ``conn``'s peer has taken everything sent to it."""
    deadline = asyncio.get_running_loop().time() + bound
    while conn.write_buffer_size and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.001)


async def test_a_slow_consumer_is_skipped_and_never_stalls_or_grows():
    server = await held_server()
    try:
        fast = await ws.connect(url(server), **NOPING)
        slow = await ws.connect(url(server), **NOPING, limit=64 * 1024)    # reads nothing for now
        await wait_for_connections(server, 2)
        slow_side = next(c for c in server.connections if c.remote_address == slow.local_address)
        fast_side = next(c for c in server.connections if c is not slow_side)
        received = []

        async def read_fast():
            async for msg in fast:
                received.append(len(msg))

        reader = asyncio.ensure_future(read_fast())
        payload = b"p" * 64 * 1024
        sent = skipped = 0
        while skipped < 5 and sent < 4000:    # the kernel buffers some MB before the slow one backs up
            skipped += ws.broadcast(server.connections, payload)
            sent += 1
            peak = slow_side.write_buffer_size
            assert peak <= 64 * 1024 + 64 * 1024 + len(payload) + 16
            await settle(fast_side)            # the fast client keeps up, so it is never skipped
        assert skipped == 5
        for _ in range(1000):
            if len(received) == sent:
                break
            await asyncio.sleep(0.01)
        assert received == [len(payload)] * sent      # the fast one lost nothing
        await fast.close()
        await reader
        slow.transport_.abort()
    finally:
        server.close()
        await server.wait_closed()


async def test_broadcast_can_close_slow_consumers_with_1013():
    server = await held_server()
    try:
        slow = await ws.connect(url(server), **NOPING, limit=64 * 1024)
        await wait_for_connections(server, 1)
        side = next(iter(server.connections))
        for _ in range(4000):
            ws.broadcast([side], b"q" * 64 * 1024, close_slow=1013)
            if side.close_sent:
                break
            await asyncio.sleep(0)
        assert side.close_sent
        n = 0
        with pytest.raises(ws.ConnectionClosedError) as info:
            while True:
                await asyncio.wait_for(slow.recv(), 10)
                n += 1
        assert info.value.code == 1013 and n > 0
    finally:
        server.close()
        await server.wait_closed()


async def test_broadcast_from_clients_masks_each_frame():
    seen = []

    async def collect(conn):
        async for msg in conn:
            seen.append(msg.text())

    async with nexus_server(collect) as server:
        clients = [await ws.connect(url(server), **NOPING) for _ in range(3)]
        assert ws.broadcast(clients, "hello") == 0
        for c in clients:
            await c.close()
    assert seen == ["hello"] * 3


async def test_broadcast_refuses_bad_arguments():
    server = await held_server()
    try:
        conn = await ws.connect(url(server), **NOPING)
        await wait_for_connections(server, 1)
        with pytest.raises(TypeError, match="str or a bytes-like"):
            ws.broadcast(server.connections, 42)
        with pytest.raises(TypeError, match="ws.Connection"):
            ws.broadcast([object()], "x")
        with pytest.raises(ValueError, match="close code 1006"):
            ws.broadcast(server.connections, "x", close_slow=1006)
        await conn.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_a_large_frame_goes_after_what_is_pending_without_being_copied_into_it():
    seen = {}
    big = b"L" * (64 * 1024)

    async def step(conn):
        await asyncio.sleep(0.002)           # a step of its own, after the handshake's write
        before = conn.out.writes
        await conn.send_text("a")            # written at once
        await conn.send_text("b")            # coalesced
        pending = conn.out.pending_size
        await conn.send_binary(big)          # pending first, then the frame on its own
        seen["writes"] = conn.out.writes - before
        seen["pending"] = (pending, conn.out.pending_size)
        await conn.close()

    async with nexus_server(step) as server:
        async with ws.connect(url(server), **NOPING) as conn:
            got = [m.text() if m.kind is ws.Kind.TEXT else m.bytes() async for m in conn]
    assert got == ["a", "b", big]
    assert seen["writes"] == 3 and seen["pending"][0] > 0 and seen["pending"][1] == 0
