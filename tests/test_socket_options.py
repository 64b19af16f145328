"""so_rcvbuf / so_sndbuf on every entry point (issue 12): applied to the real
socket (the kernel's value read back), validated with a clear error, and
traffic still flows. Linux doubles the value asked for; other kernels keep it
as is, so both are accepted."""

from __future__ import annotations

import asyncio
import socket

import pytest

from nexus_net import rest, ws
from nexus_net._sockopts import SocketBuffers
from wsutil import echo, nexus_server, threaded_server

NOPING = dict(ping_interval=None)
RCV, SND = 40 * 1024, 24 * 1024      # unlike any default of the kernel

def effective(asked):
    return {asked, 2 * asked}


def assert_buffers(buffers, rcv=RCV, snd=SND):
    assert isinstance(buffers, SocketBuffers)
    assert buffers.rcvbuf in effective(rcv), buffers
    assert buffers.sndbuf in effective(snd), buffers


async def test_ws_client_and_server_apply_their_buffer_sizes():
    async with nexus_server(echo, so_rcvbuf=2 * RCV, so_sndbuf=2 * SND) as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", so_rcvbuf=RCV, so_sndbuf=SND, **NOPING) as conn:
            assert_buffers(conn.socket_buffers)
            side = next(iter(server.connections))
            assert_buffers(side.socket_buffers, 2 * RCV, 2 * SND)
            big = bytes(range(256)) * 8192           # 2 MiB through the capped buffers
            await conn.send_binary(big)
            assert (await conn.recv()).bytes() == big


async def test_ws_defaults_leave_the_kernel_alone():
    async with nexus_server() as server:
        async with ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING) as conn:
            probe = socket.socket()
            try:
                default = SocketBuffers(probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                                        probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
            finally:
                probe.close()
            assert conn.socket_buffers.rcvbuf >= default.rcvbuf // 2
            assert conn.socket_buffers.rcvbuf not in effective(RCV)


def test_ws_blocking_client_applies_its_buffer_sizes():
    with threaded_server(echo) as port:
        with ws.sync.connect(f"ws://127.0.0.1:{port}/", so_rcvbuf=RCV, so_sndbuf=SND, **NOPING) as conn:
            assert_buffers(conn.socket_buffers)
            conn.send_text("hi")
            assert conn.recv().text() == "hi"




async def test_rest_client_and_pool_apply_their_buffer_sizes(keepalive_server):
    client = await rest.connect(keepalive_server, so_rcvbuf=RCV, so_sndbuf=SND)
    try:
        assert_buffers(client.socket_buffers)
        assert (await client.get("/get")).json() == {"args": {}}
    finally:
        await client.close()
    pool = await rest.ClientPool.connect(keepalive_server, connections=2, so_rcvbuf=RCV, so_sndbuf=SND)
    try:
        async with pool.acquire() as c:
            assert_buffers(c.socket_buffers)
            assert (await c.get("/get")).json() == {"args": {}}
    finally:
        await pool.close()


async def test_rest_blocking_client_applies_its_buffer_sizes(keepalive_server):
    def call():
        with rest.sync.connect(keepalive_server, so_rcvbuf=RCV, so_sndbuf=SND) as client:
            assert client.get("/get").json() == {"args": {}}
            return client.socket_buffers
    assert_buffers(await asyncio.get_running_loop().run_in_executor(None, call))


@pytest.mark.parametrize("bad, error, text", [
    ("64k", TypeError, "so_rcvbuf must be an int"),
    (True, TypeError, "so_rcvbuf must be an int"),
    (0, ValueError, "so_rcvbuf must be between 4096 and"),
    (-1, ValueError, "so_rcvbuf must be between"),
    (1 << 40, ValueError, "so_rcvbuf must be between"),
])
async def test_bad_buffer_sizes_are_refused_by_every_entry_point(bad, error, text):
    with pytest.raises(error, match=text):
        ws.connect("ws://127.0.0.1:1/", so_rcvbuf=bad)
    with pytest.raises(error, match=text):
        await ws.serve(echo, "127.0.0.1", 0, so_rcvbuf=bad)
    with pytest.raises(error, match=text):
        ws.sync.connect("ws://127.0.0.1:1/", so_rcvbuf=bad)
    with pytest.raises(error, match=text):
        await rest.connect("http://127.0.0.1:1", so_rcvbuf=bad)
    with pytest.raises(error, match=text):
        rest.sync.connect("http://127.0.0.1:1", so_rcvbuf=bad)
    with pytest.raises(error, match=text.replace("rcv", "snd")):
        ws.connect("ws://127.0.0.1:1/", so_sndbuf=bad)
