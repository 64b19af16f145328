"""Keepalive from one scheduler per loop (issue 12): no task per connection,
pings spread out, dead peers failed with 1011, live peers (pong or any byte)
kept, closed connections leave the scheduler. Peers: our client and server,
websockets, a raw TCP peer that never answers."""

from __future__ import annotations

import asyncio
import gc

from websockets.asyncio.client import connect as ws_connect

from nexus_net import ws
from nexus_net.ws.keepalive import GRANULARITY, Keepalive, KeepaliveScheduler, scheduler_for
from wsutil import accept_handshake, nexus_server, raw_server


def url_of(server):
    return f"ws://127.0.0.1:{server.port}/"


async def test_connections_share_one_scheduler_and_no_task_each():
    async with nexus_server(ping_interval=30, ping_timeout=10) as server:
        tasks_before = len(asyncio.all_tasks())
        clients = [await ws.connect(url_of(server), ping_interval=30) for _ in range(40)]
        await asyncio.sleep(0.05)
        assert all(isinstance(c.keepalive_task, Keepalive) for c in clients)
        sched = scheduler_for(asyncio.get_running_loop())
        assert len(sched) == 80                      # both ends of 40 connections
        # the server's handler tasks are the only new tasks (one per connection)
        assert len(asyncio.all_tasks()) - tasks_before == 40
        for c in clients:
            await c.close()
        await asyncio.sleep(0.05)
        assert len(sched) == 0


async def test_first_pings_are_spread_over_half_an_interval():
    async with nexus_server() as server:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        clients = [await ws.connect(url_of(server), ping_interval=10) for _ in range(100)]
        t1 = loop.time()
        sched = scheduler_for(loop)
        deadlines = sorted(when for when, _, entry in sched.heap if not entry.cancelled)
        assert len(deadlines) == 100
        assert t0 + 5 <= deadlines[0] and deadlines[-1] <= t1 + 10
        assert deadlines[-1] - deadlines[0] > 1.0         # not one instant (uniform over 5 s)
        for c in clients:
            await c.close()


async def test_the_scheduler_pings_and_measures_the_round_trip_against_websockets():
    async with nexus_server(ping_interval=0.05, ping_timeout=5) as server:
        async with ws_connect(url_of(server), ping_interval=None) as peer:
            side = None
            for _ in range(500):
                side = next(iter(server.connections), None)
                if side is not None and side.ping_rtt is not None:
                    break
                await asyncio.sleep(0.01)
            assert side is not None and side.ping_rtt is not None and side.ping_rtt >= 0
            assert not side.closed
            await peer.send("still here")                   # and it kept serving
            assert await peer.recv() == "still here"


async def test_a_peer_that_never_answers_is_failed_with_1011():
    got = asyncio.get_running_loop().create_future()

    async def silent(reader, writer):
        await accept_handshake(reader, writer)
        opcodes = []
        while not got.done():
            # frames from the client: masked, control-sized (payload < 126 bytes)
            head = await reader.readexactly(2)
            await reader.readexactly(4 + (head[1] & 0x7F))
            opcodes.append(head[0] & 0x0F)
            if opcodes[-1] == 0x8:                                   # our close frame
                got.set_result(opcodes)

    async with raw_server(silent) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", ping_interval=0.05, ping_timeout=0.1)
        opcodes = await asyncio.wait_for(got, 10)
        assert opcodes[0] == 0x9 and opcodes[-1] == 0x8            # pings, unanswered, then the close
        try:
            await asyncio.wait_for(conn.recv(), 10)
        except ws.ConnectionClosedError as exc:
            assert exc.code == 1011 and "keepalive" in exc.reason
        else:
            raise AssertionError("recv() should report the keepalive failure")


async def test_a_closed_connection_is_not_kept_alive_by_the_scheduler():
    async with nexus_server() as server:
        conn = await ws.connect(url_of(server), ping_interval=30)
        entry = conn.keepalive_task
        before = sum(type(o) is ws.Connection for o in gc.get_objects())
        await conn.close()
        del conn
        gc.collect()
        assert entry.cancelled and entry.conn is None      # the heap entry let go of it
        assert sum(type(o) is ws.Connection for o in gc.get_objects()) < before


async def test_nearby_deadlines_share_one_wakeup():
    loop = asyncio.get_running_loop()
    sched = KeepaliveScheduler(loop, rand=lambda: 0.0)       # every first ping at interval / 2
    async with nexus_server() as server:
        clients = [await ws.connect(url_of(server), ping_interval=None) for _ in range(20)]
        for c in clients:
            sched.add(c, 0.2, None)
        await asyncio.sleep(0.1 + 4 * GRANULARITY)
        assert sched.wakeups == 1                             # 20 pings, one timer callback
        for c in clients:
            await c.close()


# ---- idle memory: no receive slab while nothing is buffered ----------------------

def test_a_read_buffer_gives_its_memory_back_only_when_empty_and_unviewed():
    from nexus_net.buf import ReadBuf
    buf = ReadBuf(4096)
    buf.feed(b"abc")
    assert not buf.release_memory()            # bytes still unread
    view = buf.readable()
    buf.consume(3)
    assert buf.release_memory()                # let go of; the view keeps its bytes alive
    assert view.tobytes() == b"abc"
    view.release()
    assert not buf.release_memory()            # nothing left to let go of
    assert len(buf.writable(1)) >= 4096        # allocated again on demand
    buf.feed(b"xyz")
    assert bytes(buf.readable()) == b"xyz"


async def test_idle_connections_hold_no_receive_slab_and_still_work():
    async with nexus_server() as server:
        conn = await ws.connect(url_of(server), ping_interval=None)
        assert conn.reader.buffer_capacity == 0            # released after the handshake
        big = bytes(range(256)) * 4096                     # 1 MiB grows the buffer...
        await conn.send_binary(big)
        msg = await conn.recv()
        assert msg.bytes() == big
        assert conn.shrink_buffers() and conn.reader.buffer_capacity == 0
        assert msg.bytes() == big                          # a held message keeps its own bytes
        del msg
        await conn.send_text("after")
        assert (await conn.recv()).text() == "after"
        await conn.close()


async def test_a_ping_or_pong_alone_in_the_buffer_gives_the_slab_back():
    # The server has no keepalive of its own: the client's pings alone let it
    # drop the slab its first message needed (at once, not at its next tick).
    held = {}
    seen = asyncio.Event()

    async def handler(conn):
        held["conn"] = conn
        async for msg in conn:
            seen.set()

    async with nexus_server(handler) as server:
        conn = await ws.connect(url_of(server), ping_interval=None)
        reader = asyncio.ensure_future(conn.recv())        # someone reads: the pong is seen
        await conn.send_text("hello")
        await asyncio.wait_for(seen.wait(), 10)
        peer = held["conn"]
        assert peer.reader.buffer_capacity > 0             # the message's slab (initial size)
        await asyncio.wait_for(conn.ping(), 10)
        assert peer.reader.buffer_capacity == 0            # the ping came alone: slab given back
        assert conn.reader.buffer_capacity == 0            # and the pong's, on the client
        await conn.send_text("still works")
        await conn.close()
        assert await reader is None


async def test_keepalive_ticks_shrink_idle_connections():
    async with nexus_server() as server:
        conn = await ws.connect(url_of(server), ping_interval=0.2, ping_timeout=5)
        got = []

        async def read():                      # a reader, as a feed has: pongs are consumed
            async for msg in conn:
                got.append(len(msg))

        reader = asyncio.ensure_future(read())
        await conn.send_binary(bytes(1 << 20))
        for _ in range(500):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [1 << 20]
        for _ in range(500):
            if conn.reader.buffer_capacity == 0:
                break
            await asyncio.sleep(0.01)
        assert conn.reader.buffer_capacity == 0
        await conn.close()
        await reader
