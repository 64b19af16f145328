"""The blocking client as a feed client (issue 11): reconnect iteration and
keepalive pings, against real servers running in a background thread."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from nexus_net import ws
from nexus_net.ws import handshake as hs
from nexus_net.ws import sync
from wsutil import threaded_server


def test_blocking_reconnect_iteration_follows_retryable_closes_and_stops_after_1000():
    accepted = []

    async def handler(conn):
        accepted.append(1)
        await conn.send_text(f"connection {len(accepted)}")
        await conn.close(1012 if len(accepted) < 3 else 1000)

    got = []
    with threaded_server(handler) as port:
        it = sync.connect(f"ws://127.0.0.1:{port}/", reconnect=True, ping_interval=None,
                          backoff_initial=0.01, backoff_max=0.05)
        for conn in it:
            try:
                for msg in conn:
                    got.append(msg.text())
            except ws.ConnectionClosedError as exc:
                got.append(exc.code)
        assert it.reconnects == 2
    assert got == ["connection 1", 1012, "connection 2", 1012, "connection 3"]


def test_blocking_reconnect_raises_a_403_at_once():
    attempts = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve():
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            attempts.append(1)
            peer.recv(65536)
            peer.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            peer.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(ws.InvalidHandshakeResponse) as info:
            for _ in sync.connect(f"ws://127.0.0.1:{port}/", reconnect=True, backoff_initial=0.01):
                pass
        assert info.value.status == 403 and attempts == [1]
    finally:
        listener.close()


def test_blocking_keepalive_pings_while_waiting_in_recv():
    async def quiet(conn):
        async for _ in conn:                     # reads, so pings are answered; sends nothing
            pass

    with threaded_server(quiet) as port:
        with sync.connect(f"ws://127.0.0.1:{port}/", ping_interval=0.05, ping_timeout=2) as conn:
            with pytest.raises(TimeoutError):
                conn.recv(timeout=0.5)           # several pings went out meanwhile
            assert conn.stats.ping_rtt is not None and 0 <= conn.stats.ping_rtt < 2
            assert not conn.closed               # still usable after the timeout


def test_blocking_keepalive_fails_with_1011_when_the_peer_goes_silent():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    peers = []

    def serve():
        peer, _ = listener.accept()
        peers.append(peer)
        head = b""
        while b"\r\n\r\n" not in head:
            head += peer.recv(65536)
        peer.sendall(hs.build_response(hs.parse_request(head)))
        # then nothing at all: no pong, no data, TCP left open

    threading.Thread(target=serve, daemon=True).start()
    try:
        conn = sync.connect(f"ws://127.0.0.1:{port}/", ping_interval=0.05, ping_timeout=0.2)
        start = time.monotonic()
        with pytest.raises(ws.ConnectionClosedError) as info:
            conn.recv(timeout=10)
        assert info.value.code == 1011 and "keepalive" in info.value.reason
        assert 0.2 <= time.monotonic() - start < 5
        assert conn.closed
    finally:
        listener.close()
        for peer in peers:
            peer.close()
