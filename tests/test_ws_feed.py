"""The feed client (issue 11): reconnect and resubscribe, heartbeats, auto
replies, idle timeout, the listener API, receive timestamps and stats.

Every peer is a real server on 127.0.0.1: ours (ws.serve), a raw asyncio
stream speaking hand-made frames, or a plain HTTP responder for refused
handshakes. Timing bounds are generous: they prove an order or a floor,
never this machine's speed."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
import tracemalloc

import pytest

from nexus_net import ws
from nexus_net.ws import handshake as hs
from nexus_net.ws.reconnect import Backoff, parse_retry_after, retry_reason
from wire import frame
from wsutil import accept_handshake, echo, nexus_server, raw_server, threaded_server

NOPING = dict(ping_interval=None)
FAST = dict(ping_interval=None, backoff_initial=0.01, backoff_max=0.05)


# ---- receive timestamps ----------------------------------------------------------

async def test_received_ns_is_the_time_of_the_read_that_completed_the_message():
    sent_second = asyncio.Event()
    stamps = {}

    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        writer.write(frame(0x1, b"first"))
        await writer.drain()
        await go.wait()                        # the client has read the first frame
        stamps["before_second"] = time.time_ns()
        writer.write(frame(0x1, b"second, in two reads", fin=True)[:6])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(frame(0x1, b"second, in two reads")[6:])
        await writer.drain()
        sent_second.set()
        await read_until_close_frame(reader)      # then TCP closes

    go = asyncio.Event()
    async with raw_server(peer) as port:
        before = time.time_ns()
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", **NOPING)
        # wait until the first frame's bytes arrived, without parsing them
        # (reader.pending: received, unparsed bytes; the handshake's are gone)
        first_len = len(frame(0x1, b"first"))
        deadline = time.monotonic() + 5
        while conn.reader.pending < first_len and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        go.set()
        await asyncio.wait_for(sent_second.wait(), 5)
        while conn.reader.pending < first_len + len(frame(0x1, b"second, in two reads")):
            await asyncio.sleep(0.005)
        after = time.time_ns()
        first = await conn.recv()                # both parsed only now, after both reads
        second = await conn.recv()
        assert first.text() == "first" and second.text() == "second, in two reads"
        # each message carries the time of its own completing read, not of the parse
        assert before <= first.received_ns < stamps["before_second"]
        assert stamps["before_second"] + 40_000_000 <= second.received_ns <= after
        await conn.close()


async def test_messages_of_one_read_share_its_timestamp_and_the_codec_alone_has_none():
    async def burst(conn):
        await conn.send_many(["a", "b", "c"])     # one write: one read on the client
        await conn.recv()

    async with nexus_server(burst) as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING)
        msgs = [await conn.recv() for _ in range(3)]
        assert [m.text() for m in msgs] == ["a", "b", "c"]
        assert len({m.received_ns for m in msgs}) == 1 and msgs[0].received_ns > 0
        await conn.close()
    reader, writer = ws.pair(ws.Role.CLIENT)
    reader.feed(ws.pair(ws.Role.SERVER)[1].encode_text("x"))
    assert reader.next().received_ns == 0      # sans-IO: no transport, no clock


def test_blocking_client_stamps_messages_too():
    from nexus_net.ws import sync

    with threaded_server(echo) as port:
        with sync.connect(f"ws://127.0.0.1:{port}/") as conn:
            before = time.time_ns()
            conn.send_text("hi")
            msg = conn.recv(timeout=5)
            assert msg.text() == "hi" and before <= msg.received_ns <= time.time_ns()
            assert conn.stats.messages_in == 1 and conn.stats.messages_out == 1
            assert conn.stats.bytes_in >= 4 and conn.stats.bytes_out >= 8


# ---- stats --------------------------------------------------------------------

async def test_stats_count_messages_bytes_and_the_keepalive_round_trip():
    async with nexus_server() as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", ping_interval=0.05, ping_timeout=5)
        for i in range(50):
            await conn.send_text(f"m{i}")
            assert (await conn.recv()).text() == f"m{i}"
        deadline = time.monotonic() + 5
        while conn.stats.ping_rtt is None and time.monotonic() < deadline:
            await conn.send_text("x")
            await conn.recv()
        stats = conn.stats
        assert stats.messages_in == stats.messages_out >= 50
        assert stats.bytes_out >= 50 * (2 + 4 + 2) and stats.bytes_in >= 50 * (2 + 2)
        assert stats.ping_rtt is not None and 0 < stats.ping_rtt < 5
        assert stats.reconnects == 0 and stats.connected_for > 0
        await conn.close()


# ---- the listener API ---------------------------------------------------------------

class Recorder(ws.Listener):
    def __init__(self):
        self.events = []
        self.closed = asyncio.get_running_loop().create_future()

    def on_open(self, conn):
        self.events.append("open")

    def on_message(self, conn, msg):
        self.events.append((msg.kind, msg.bytes()))

    def on_close(self, conn, code, reason):
        self.events.append(("close", code))
        if not self.closed.done():
            self.closed.set_result((code, reason))


def scripted_stream():
    """Data messages mixed with pings, fragments and one large message."""
    out, expected = [], []
    for i in range(300):
        if i % 7 == 0:
            out.append(frame(0x9, b"hb%d" % i))
        if i % 11 == 0:
            payload = b"fragmented-%d" % i
            out += [frame(0x1, payload[:4], fin=False), frame(0x0, payload[4:9], fin=False),
                    frame(0x0, payload[9:])]
            expected.append((ws.Kind.TEXT, payload))
        elif i % 3 == 0:
            payload = os.urandom(i * 10)
            out.append(frame(0x2, payload))
            expected.append((ws.Kind.BINARY, payload))
        else:
            payload = b'{"i":%d}' % i
            out.append(frame(0x1, payload))
            expected.append((ws.Kind.TEXT, payload))
    big = os.urandom(300_000)
    out.append(frame(0x2, big))
    expected.append((ws.Kind.BINARY, big))
    return b"".join(out), expected


async def scripted_peer(stream):
    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        for i in range(0, len(stream), 1500):          # many reads, frames split anywhere
            writer.write(stream[i:i + 1500])
            if i % 30000 == 0:
                await writer.drain()
        writer.write(frame(0x8, b"\x03\xe8done"))
        await writer.drain()
        await read_until_close_frame(reader)     # (pongs come first); then TCP closes
    return peer


async def read_until_close_frame(reader):
    """Read the client's frames up to its close frame (closing TCP with unread
    bytes would make the kernel reset the connection)."""
    while True:
        head = await reader.readexactly(2)
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        await reader.readexactly(n + (4 if head[1] & 0x80 else 0))
        if head[0] & 0x0F == 0x8:
            return


async def test_listener_and_recv_deliver_the_same_sequence():
    stream, expected = scripted_stream()
    async with raw_server(await scripted_peer(stream)) as port:
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", **NOPING)
        via_recv = [(m.kind, m.bytes()) async for m in conn]
        assert conn.close_code == 1000
        listener = Recorder()
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", listener=listener, **NOPING)
        assert await asyncio.wait_for(listener.closed, 10) == (1000, "done")
    assert via_recv == expected
    assert listener.events[0] == "open" and listener.events[-1] == ("close", 1000)
    assert listener.events[1:-1] == expected
    with pytest.raises(ws.ConcurrencyError):
        await conn.recv()


async def test_listener_sends_from_callbacks_without_await():
    class Echoing(ws.Listener):
        def __init__(self):
            self.got = []
            self.done = asyncio.get_running_loop().create_future()

        def on_open(self, conn):
            conn.send_text("hello")                 # no await: written at once

        def on_message(self, conn, msg):
            self.got.append(msg.text())
            if len(self.got) < 100:
                conn.send_text(f"n{len(self.got)}")
            else:
                conn.send_close(1000, "enough")

        def on_close(self, conn, code, reason):
            self.done.set_result(code)

    async with nexus_server() as server:
        listener = Echoing()
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", listener=listener, **NOPING)
        assert await asyncio.wait_for(listener.done, 10) == 1000
        assert listener.got == ["hello"] + [f"n{i}" for i in range(1, 100)]
        assert conn.stats.messages_out == 100 and conn.stats.messages_in == 100


async def test_a_raising_callback_closes_with_1011_and_is_logged(caplog):
    seen = asyncio.get_running_loop().create_future()

    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        writer.write(frame(0x1, b"boom"))
        await writer.drain()
        head = await reader.readexactly(2)
        rest = await reader.readexactly(4 + (head[1] & 0x7F))
        key, payload = rest[:4], bytes(b ^ rest[i % 4] for i, b in enumerate(rest[4:]))
        seen.set_result((head[0], int.from_bytes(payload[:2], "big")))

    class Raising(Recorder):
        def on_message(self, conn, msg):
            raise RuntimeError("bug in the bot")

    caplog.set_level(logging.ERROR, logger="nexus_net.ws")
    async with raw_server(peer) as port:
        listener = Raising()
        await ws.connect(f"ws://127.0.0.1:{port}/", listener=listener, **NOPING)
        assert await asyncio.wait_for(seen, 5) == (0x88, 1011)
        code, _ = await asyncio.wait_for(listener.closed, 5)
        assert code == 1011
    assert any("on_message failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_listener_server_echoes_for_a_websockets_client():
    websockets = pytest.importorskip("websockets")

    class Echo(ws.Listener):
        def on_message(self, conn, msg):
            conn.send(msg.text() if msg.kind is ws.Kind.TEXT else msg.bytes())

    server = await ws.serve(None, "127.0.0.1", 0, listener_factory=Echo, ping_interval=None)
    try:
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/") as client:
            for i in range(200):
                await client.send(f"q{i}" if i % 2 else os.urandom(i))
            # order and content preserved
            for i in range(200):
                reply = await asyncio.wait_for(client.recv(), 5)
                if i % 2:
                    assert reply == f"q{i}"
                else:
                    assert isinstance(reply, bytes) and len(reply) == i
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
    with pytest.raises(ValueError):
        await ws.serve(None, "127.0.0.1", 0)


# ---- backoff and the retry rules ------------------------------------------------

def test_backoff_is_full_jitter_exponential_capped_and_resets():
    draws = iter([1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0])
    backoff = Backoff(initial=0.1, factor=2, maximum=0.5, reset_after=60, random=lambda: next(draws))
    delays = [backoff.next_delay() for _ in range(7)]
    assert delays == pytest.approx([0.1, 0.1, 0.4, 0.5, 0.5, 0.5, 0.0])
    backoff.connected_for(59.0)
    assert backoff.ceiling() == 0.5
    backoff.connected_for(60.0)
    assert backoff.next_delay() == pytest.approx(0.1)        # back to the first step
    assert Backoff(random=lambda: 0.0).next_delay(retry_after=2.0) == 2.0
    with pytest.raises(ValueError):
        Backoff(initial=1, maximum=0.5)


def test_backoff_delays_fall_in_their_jitter_bounds():
    backoff = Backoff(initial=0.1, factor=2, maximum=30)
    for n in range(12):
        bound = min(30, 0.1 * 2 ** n)
        assert 0 <= backoff.next_delay() <= bound


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("7") == 7.0
    now = 1_700_000_000.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now=now) == pytest.approx(20.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", now=now) == 0.0     # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_what_is_retried_and_what_is_raised():
    from nexus_net.tls import TlsCertificateError
    assert retry_reason(ws.ConnectionClosedError(1006, ""))
    for code in (1001, 1011, 1012, 1013, 1014):
        assert retry_reason(ws.ConnectionClosedError(code, "")), code
    for code in (1000, 1002, 1003, 1007, 1008, 1009, 4000):
        assert retry_reason(ws.ConnectionClosedError(code, "")) is None, code
    assert retry_reason(ConnectionRefusedError("refused"))
    assert retry_reason(ws.HandshakeTimeout("slow"))
    assert retry_reason(ws.InvalidHandshakeResponse("busy", 503, []))
    assert retry_reason(ws.InvalidHandshakeResponse("slow down", 429, []))
    for status in (400, 401, 403, 404):
        assert retry_reason(ws.InvalidHandshakeResponse("no", status, [])) is None
    assert retry_reason(ws.InvalidURI("bad")) is None
    assert retry_reason(TlsCertificateError("unknown CA")) is None
    assert retry_reason(ws.ProtocolError("misuse")) is None


# ---- reconnecting: async for conn in ws.connect(...) ---------------------------------

class Script:
    """A server whose n-th connection runs the n-th step; it counts handshakes."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.accepted = 0
        self.received = []

    async def __call__(self, conn):
        step = self.steps[min(self.accepted, len(self.steps) - 1)]
        self.accepted += 1
        await step(self, conn)


async def test_async_for_yields_a_new_connection_after_a_retryable_close_and_stops_after_1000():
    async def restart(script, conn):
        await conn.send_text(f"connection {script.accepted}")
        await conn.close(1012, "service restart")

    async def finish(script, conn):
        await conn.send_text("last")
        await conn.close(1000, "bye")

    script = Script(restart, restart, finish)
    async with nexus_server(script) as server:
        got = []
        async for conn in ws.connect(f"ws://127.0.0.1:{server.port}/", **FAST):
            try:
                async for msg in conn:
                    got.append(msg.text())
            except ws.ConnectionClosedError as exc:
                got.append(exc.code)
        assert got == ["connection 1", 1012, "connection 2", 1012, "last"]
        assert script.accepted == 3


async def test_a_403_is_raised_at_once_and_a_503_is_retried_after_retry_after():
    attempts = []
    statuses = [403]

    async def http(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        attempts.append(time.monotonic())
        if statuses[0] == 403:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        elif len(attempts) == 1:
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
        else:
            writer.write(hs.build_response(hs.parse_request(head)))
            await writer.drain()
            await reader.read()
            return
        await writer.drain()

    async with raw_server(http) as port:
        with pytest.raises(ws.InvalidHandshakeResponse) as info:
            async for _ in ws.connect(f"ws://127.0.0.1:{port}/", **FAST):
                pass
        assert info.value.status == 403 and len(attempts) == 1   # never retried

    attempts.clear()
    statuses[0] = 503
    async with raw_server(http) as port:
        async for conn in ws.connect(f"ws://127.0.0.1:{port}/", **FAST):
            assert conn.handshake_status == 101
            await conn.close()
            break
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.9      # Retry-After: 1 honoured (backoff alone is <= 0.05 s)


# ---- reconnect=True: one object across connections -------------------------------------

async def test_reconnect_resubscribes_before_the_first_message_and_loses_nothing():
    # Each connection sends 40 numbered messages as soon as it opens (before
    # any subscription arrives), then drops TCP in the middle of a frame.
    sent = []

    async def peer(reader, writer):
        await accept_handshake(reader, writer)
        n = len(sent)
        sent.append([])
        for i in range(40):
            payload = b"c%d-m%d" % (n, i)
            sent[n].append(payload)
            writer.write(frame(0x1, payload))
        if n < 3:
            writer.write(frame(0x1, b"never complete")[:5])      # dropped mid-frame
            await writer.drain()
            writer.transport.abort()
            return
        writer.write(frame(0x8, b"\x03\xe8"))
        await writer.drain()
        await reader.read()

    stream = []
    disconnects = []

    async def on_connect(conn):
        await asyncio.sleep(0.02)      # messages are waiting already; they must not be delivered yet
        stream.append("subscribed")
        await conn.send_text('{"op":"subscribe"}')

    def on_disconnect(conn, exc):
        disconnects.append(exc.code)

    async with raw_server(peer) as port:
        rc = await ws.connect(f"ws://127.0.0.1:{port}/", reconnect=True, on_connect=on_connect,
                              on_disconnect=on_disconnect, **FAST)
        async for msg in rc:
            stream.append(msg.bytes())
        assert rc.reconnects == 3
    expected = []
    for conn_msgs in sent:
        expected += ["subscribed"] + conn_msgs
    assert stream == expected              # in order, none lost, none duplicated
    assert disconnects == [1006, 1006, 1006, 1000]     # the last: the server ended the feed


async def test_sends_while_disconnected_wait_for_the_next_connection():
    got = []

    async def first_drops(script, conn):
        if script.accepted == 1:
            conn.transport_.abort()
            return
        async for msg in conn:
            got.append(msg.text())
            await conn.send_text("ack " + msg.text())

    script = Script(first_drops)
    async with nexus_server(script) as server:
        rc = await ws.connect(f"ws://127.0.0.1:{server.port}/", reconnect=True, open_timeout=5, **FAST)
        await rc.connection.wait_closed()
        await rc.send_text("order 1")             # waits for the reconnect, then goes out
        assert (await asyncio.wait_for(rc.recv(), 5)).text() == "ack order 1"
        assert got == ["order 1"] and rc.reconnects == 1
        await rc.close()
        with pytest.raises(ws.ConnectionClosed):
            await rc.send_text("after close")


async def test_a_send_gives_up_after_open_timeout_when_no_connection_comes():
    async def drop(script, conn):
        conn.transport_.abort()

    script = Script(drop)
    async with nexus_server(script) as server:
        rc = await ws.connect(f"ws://127.0.0.1:{server.port}/", reconnect=True, open_timeout=0.5,
                              max_attempts=1, **FAST)
        server.close()                             # nothing to reconnect to
        await server.wait_closed()
        await asyncio.wait_for(rc.connection.wait_closed(), 5)
        start = time.monotonic()
        with pytest.raises(ws.ConnectionClosed):
            await rc.send_text("lost?")
        assert time.monotonic() - start < 5
        # max_attempts=1: the reconnect gave up, and recv() says why (no hang)
        try:
            await asyncio.wait_for(rc.recv(), 5)
        except ConnectionRefusedError:
            pass
        else:
            pytest.fail("recv() did not raise the reconnect's failure")
        await rc.close()


async def test_idle_timeout_closes_a_silent_feed_with_1011_and_reconnects():
    async def silent_then_talk(script, conn):
        if script.accepted == 1:
            await conn.wait_closed()                 # says nothing, closes nothing
            return
        await conn.send_text("alive")
        await conn.wait_closed()

    script = Script(silent_then_talk)
    async with nexus_server(script) as server:
        start = time.monotonic()
        rc = await ws.connect(f"ws://127.0.0.1:{server.port}/", reconnect=True, idle_timeout=0.3, **FAST)
        first = rc.connection
        msg = await asyncio.wait_for(rc.recv(), 10)
        assert msg.text() == "alive" and rc.reconnects == 1
        assert first.close_code == 1011 and time.monotonic() - start >= 0.3
        await rc.close()


async def test_200_reconnect_cycles_leak_no_task_fd_or_memory():
    async def restart(script, conn):
        await conn.send_text("tick")
        await conn.close(1012)

    def fds():
        return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0

    script = Script(restart)
    async with nexus_server(script) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        n = 0
        baseline = None
        tracemalloc.start()
        async for conn in ws.connect(url, ping_interval=None, backoff_initial=0, backoff_max=0):
            try:
                async for _ in conn:
                    pass
            except ws.ConnectionClosedError:
                pass
            n += 1
            if n == 20:
                gc.collect()
                baseline = (len(asyncio.all_tasks()), fds(), tracemalloc.get_traced_memory()[0])
            if n == 200:
                await conn.close()
                break
        await asyncio.sleep(0.05)
        gc.collect()
        tasks, files, memory = len(asyncio.all_tasks()), fds(), tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert tasks <= baseline[0] + 2, (tasks, baseline)
        assert files <= baseline[1] + 2, (files, baseline)
        # 180 more cycles (client and server side in this process): well
        # under 1 KB each would be kept if anything per connection leaked
        assert memory - baseline[2] < 180 * 1024, (memory, baseline)


# ---- heartbeats and auto replies ---------------------------------------------------------

async def test_text_heartbeat_okx_style_answers_are_not_delivered():
    async def okx(conn):
        async for msg in conn:
            if msg.text() == "ping":
                await conn.send_text("pong")
            else:
                await conn.send_text("data:" + msg.text())

    async with nexus_server(okx) as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/",
                                heartbeat=ws.Heartbeat.text(interval=0.05, timeout=2), **NOPING)
        reading = asyncio.ensure_future(conn.recv())      # a bot always reads
        deadline = time.monotonic() + 5
        while conn.heartbeat_answers < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not reading.done()                         # no pong was delivered
        await conn.send_text("x")
        assert (await asyncio.wait_for(reading, 5)).text() == "data:x"
        assert conn.heartbeat_answers >= 3
        assert conn.stats.heartbeat_rtt is not None and 0 <= conn.stats.heartbeat_rtt < 2
        await conn.close()


async def test_an_unanswered_heartbeat_closes_with_1011():
    async def mute(conn):
        async for _ in conn:
            pass                      # receives the pings, never answers

    async with nexus_server(mute) as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/",
                                heartbeat=ws.Heartbeat.text(interval=0.05, timeout=0.2), **NOPING)
        with pytest.raises(ws.ConnectionClosedError) as info:
            await asyncio.wait_for(conn.recv(), 10)
        assert info.value.code == 1011 and "heartbeat" in info.value.reason


async def test_json_op_heartbeat_bybit_style():
    import orjson

    async def bybit(conn):
        async for msg in conn:
            doc = msg.json()
            if doc.get("op") == "ping":
                await conn.send_text('{"success":true,"ret_msg":"pong","conn_id":"c1","op":"ping"}')
            else:
                await conn.send_text(orjson.dumps({"topic": "trades", "echo": doc}).decode())

    async with nexus_server(bybit) as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/",
                                heartbeat=ws.Heartbeat.json_op(interval=0.05, timeout=2), **NOPING)
        reading = asyncio.ensure_future(conn.recv())
        deadline = time.monotonic() + 5
        while conn.heartbeat_answers < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not reading.done()
        await conn.send_text('{"op":"subscribe"}')
        assert (await asyncio.wait_for(reading, 5)).json()["topic"] == "trades"
        assert conn.heartbeat_answers >= 2
        await conn.close()


async def test_auto_reply_answers_htx_style_pings_and_delivers_the_rest():
    answers = []

    async def htx(conn):
        for i in range(5):
            await conn.send_text('{"ping": %d}' % (1700000000000 + i))
            await conn.send_text('{"ch":"market.btcusdt.trade","i":%d}' % i)
        for _ in range(5):
            answers.append((await conn.recv()).json())
        await conn.close()

    async with nexus_server(htx) as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", auto_reply=ws.json_ping_reply(),
                                auto_reply_prefix=b'{"ping"', **NOPING)
        delivered = [msg.json() async for msg in conn]
    assert delivered == [{"ch": "market.btcusdt.trade", "i": i} for i in range(5)]
    assert answers == [{"pong": 1700000000000 + i} for i in range(5)]


async def test_heartbeat_with_a_listener():
    async def okx(conn):
        async for msg in conn:
            await conn.send_text("pong" if msg.text() == "ping" else "data")

    async with nexus_server(okx) as server:
        listener = Recorder()
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", listener=listener,
                                heartbeat=ws.Heartbeat.text(interval=0.05, timeout=2), **NOPING)
        deadline = time.monotonic() + 5
        while conn.heartbeat_answers < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert conn.heartbeat_answers >= 2
        assert listener.events == ["open"]          # pongs never reached on_message
        await conn.close()


async def test_reconnect_with_a_listener_calls_on_open_per_connection():
    async def restart_twice(script, conn):
        await conn.send_text(f"c{script.accepted}")
        await conn.close(1012 if script.accepted < 3 else 1000)

    class Feed(Recorder):
        def on_open(self, conn):
            self.events.append("open")
            conn.send_text("subscribe")

    script = Script(restart_twice)
    async with nexus_server(script) as server:
        listener = Feed()
        rc = await ws.connect(f"ws://127.0.0.1:{server.port}/", reconnect=True, listener=listener, **FAST)
        deadline = time.monotonic() + 10
        while not rc.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert rc.closed and rc.reconnects == 2
        await rc.close()
    data = [e for e in listener.events if e == "open" or (isinstance(e, tuple) and e[0] is ws.Kind.TEXT)]
    assert data == ["open", (ws.Kind.TEXT, b"c1"), "open", (ws.Kind.TEXT, b"c2"), "open", (ws.Kind.TEXT, b"c3")]


async def test_timestamps_can_be_turned_off_and_on_again():
    async with nexus_server() as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/", **NOPING)
        conn.timestamps = False
        await conn.send_text("a")
        assert (await conn.recv()).received_ns == 0         # no stale time from an earlier read
        conn.timestamps = True
        before = time.time_ns()
        await conn.send_text("b")
        msg = await conn.recv()
        assert before <= msg.received_ns <= time.time_ns()
        await conn.close()


async def test_a_slow_reader_gets_every_connection_in_order_even_after_several_drops():
    async def short_lived(script, conn):
        n = script.accepted
        for i in range(3):
            await conn.send_text(f"c{n}-m{i}")
        if n < 4:
            await conn.drain()              # (abort discards what was not handed over)
            conn.transport_.abort()
        else:
            await conn.close(1000)

    script = Script(short_lived)
    async with nexus_server(script) as server:
        rc = await ws.connect(f"ws://127.0.0.1:{server.port}/", reconnect=True, **FAST)
        deadline = time.monotonic() + 10
        while rc.reconnects < 3 and time.monotonic() < deadline:     # nobody reads meanwhile
            await asyncio.sleep(0.02)
        assert rc.reconnects == 3
        got = [msg.text() async for msg in rc]           # ends with the 4th's clean close
    assert got == [f"c{n}-m{i}" for n in range(1, 5) for i in range(3)]


async def test_a_listener_still_gets_a_connection_that_dropped_during_on_connect():
    async def drops(script, conn):
        await conn.send_text(f"c{script.accepted}")
        if script.accepted == 1:
            await conn.drain()              # (abort discards what was not handed over)
            conn.transport_.abort()
        else:
            await conn.close(1000)

    async def slow_on_connect(conn):
        await asyncio.sleep(0.1)          # the first connection is lost meanwhile

    script = Script(drops)
    async with nexus_server(script) as server:
        listener = Recorder()
        rc = await ws.connect(f"ws://127.0.0.1:{server.port}/", reconnect=True, listener=listener,
                              on_connect=slow_on_connect, **FAST)
        deadline = time.monotonic() + 10
        while not rc.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await rc.close()
    assert listener.events == ["open", (ws.Kind.TEXT, b"c1"), ("close", 1006),
                               "open", (ws.Kind.TEXT, b"c2"), ("close", 1000)]


async def test_a_heartbeat_payload_that_raises_closes_with_1011():
    def broken():
        raise RuntimeError("cannot build the ping")

    async with nexus_server() as server:
        conn = await ws.connect(f"ws://127.0.0.1:{server.port}/",
                                heartbeat=ws.Heartbeat(0.05, broken, lambda m: False), **NOPING)
        with pytest.raises(ws.ConnectionClosedError) as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.code == 1011 and "heartbeat" in info.value.reason


async def test_an_on_connect_that_fails_ends_the_stream_with_its_error():
    async def talk(script, conn):
        await conn.send_text("x")
        if script.accepted == 1:
            await conn.drain()              # (abort discards what was not handed over)
            conn.transport_.abort()
        else:
            await conn.wait_closed()

    calls = []

    async def on_connect(conn):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("bad subscription")

    script = Script(talk)
    async with nexus_server(script) as server:
        rc = await ws.connect(f"ws://127.0.0.1:{server.port}/", reconnect=True, on_connect=on_connect, **FAST)
        assert (await rc.recv()).text() == "x"
        with pytest.raises(ValueError, match="bad subscription"):
            await asyncio.wait_for(rc.recv(), 5)
        await rc.close()


async def test_heartbeat_answers_are_filtered_by_prefix_and_size_before_any_python_call():
    offered = []

    def is_pong(msg):
        offered.append(msg.bytes())
        return True

    async def server(conn):
        await conn.recv()                                   # the heartbeat
        for payload in ('{"op":"pong"}', '{"op":"pong","pad":"' + "x" * 100 + '"}', "pong?", '{"op":"pong"}'):
            await conn.send_text(payload)
        await conn.send_text("end")
        await conn.wait_closed()

    async with nexus_server(server) as srv:
        hb = ws.Heartbeat(0.05, '{"op":"ping"}', is_pong, timeout=5, prefix=b'{"op"', max_size=20)
        conn = await ws.connect(f"ws://127.0.0.1:{srv.port}/", heartbeat=hb, **NOPING)
        delivered = [(await asyncio.wait_for(conn.recv(), 5)).text() for _ in range(3)]
        await conn.close()
    # the long answer (over max_size) and the unprefixed one were never offered
    assert offered == [b'{"op":"pong"}', b'{"op":"pong"}']
    assert delivered == ['{"op":"pong","pad":"' + "x" * 100 + '"}', "pong?", "end"]
    assert conn.heartbeat_answers == 2


async def test_feed_options_are_checked_when_connect_is_called():
    with pytest.raises(ValueError, match="reconnect=True"):
        ws.connect("ws://127.0.0.1:1/", on_connect=lambda conn: None)
    with pytest.raises(ValueError, match="idle_timeout"):
        ws.connect("ws://127.0.0.1:1/", idle_timeout=0)
    with pytest.raises(ValueError, match="max_attempts"):
        ws.connect("ws://127.0.0.1:1/", max_attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        ws.connect("ws://127.0.0.1:1/", backoff_initial=5, backoff_max=1)
    with pytest.raises(ValueError, match="interval"):
        ws.Heartbeat(0, "ping", lambda m: True)
    with pytest.raises(TypeError, match="payload"):
        ws.Heartbeat(1, 42, lambda m: True)
    with pytest.raises(TypeError, match="reconnect=True"):
        ws.connect("ws://127.0.0.1:1/", reconnect=True).__aiter__()


async def test_listener_back_pressure_comes_through_callbacks_not_coroutines():
    release = asyncio.Event()

    async def lazy(reader, writer):
        await accept_handshake(reader, writer)
        await release.wait()                     # read nothing for a while
        while await reader.read(1 << 20):
            pass

    class Pusher(ws.Listener):
        def __init__(self):
            self.events = []

        def on_pause_writing(self, conn):
            self.events.append(("pause", conn.write_buffer_size > 0))

        def on_resume_writing(self, conn):
            self.events.append("resume")

    async with raw_server(lazy) as port:
        listener = Pusher()
        conn = await ws.connect(f"ws://127.0.0.1:{port}/", listener=listener, **NOPING)
        chunk = os.urandom(64 * 1024)
        results = []
        for _ in range(400):                     # 25 MiB: far past any socket buffer
            results.append(conn.send_binary(chunk))
            if listener.events:
                break
        assert listener.events == [("pause", True)]
        assert not any(asyncio.iscoroutine(r) for r in results)   # nothing left un-awaited
        release.set()
        deadline = time.monotonic() + 10
        while "resume" not in listener.events and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert listener.events[-1] == "resume"
        conn.transport_.abort()
