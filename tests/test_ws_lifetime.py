"""Zero-copy safety: a message's bytes never change or dangle while it is alive."""

import gc

import pytest

from nexus_net.ws import FrameReader, FrameWriter, Kind, Role


def stream_of(n, size=100):
    w = FrameWriter(Role.SERVER)
    return [w.encode_binary(bytes([i % 256]) * size) for i in range(n)]


def test_kept_messages_stay_unchanged_while_the_reader_moves_on():
    reader = FrameReader(Role.CLIENT, buffer_size=1024)
    kept = []
    for frame in stream_of(2000):            # ~200 KB through a 1 KiB starting buffer
        reader.feed(frame)
        kept.extend(reader)
    assert len(kept) == 2000
    for i, msg in enumerate(kept):
        assert msg.bytes() == bytes([i % 256]) * 100


def test_views_outlive_their_message():
    reader = FrameReader(Role.CLIENT, buffer_size=1024)
    views = []
    for frame in stream_of(500):
        reader.feed(frame)
        for msg in reader:
            views.append(msg.data)
        del msg
    gc.collect()
    for i, view in enumerate(views):
        assert view.readonly
        assert bytes(view) == bytes([i % 256]) * 100


def test_message_views_are_read_only():
    reader = FrameReader(Role.CLIENT)
    reader.feed(FrameWriter(Role.SERVER).encode_binary(b"abc"))
    view = reader.next().data
    with pytest.raises(TypeError):
        view[0] = 0


def test_memory_is_reused_when_messages_are_dropped():
    reader = FrameReader(Role.CLIENT, buffer_size=4096)
    frames = stream_of(5000)
    for frame in frames:
        reader.feed(frame)
        for msg in reader:
            pass
    del msg
    buf_capacity = reader.buffer_capacity
    assert buf_capacity <= 8192      # dropped messages do not make the buffer grow


def test_a_buffer_grown_by_a_large_frame_is_given_back_once_drained():
    reader = FrameReader(Role.CLIENT, buffer_size=4096)
    big = bytes(range(256)) * 400                        # 100 KiB: the buffer must grow
    frame = FrameWriter(Role.SERVER).encode_binary(big)
    for i in range(0, len(frame), 7000):
        reader.feed(frame[i:i + 7000])
    assert reader.buffer_capacity >= len(big)
    msg = reader.next()
    assert reader.next() is None                         # drained: the big slab goes
    assert reader.buffer_capacity == 0
    reader.feed(FrameWriter(Role.SERVER).encode_binary(b"small"))
    assert reader.buffer_capacity == 4096                # back at the initial size
    assert reader.next().bytes() == b"small"
    assert msg.bytes() == big                            # the kept message still owns its bytes
    assert bytes(msg.data) == big


def test_a_partial_frame_keeps_the_grown_buffer():
    reader = FrameReader(Role.CLIENT, buffer_size=4096)
    w = FrameWriter(Role.SERVER)
    frames = w.encode_binary(b"x" * 50_000) + w.encode_binary(b"y" * 50_000)
    reader.feed(frames[:50_000 + 4 + 10])                # the first frame and a piece of the second
    assert reader.next().bytes() == b"x" * 50_000
    assert reader.next() is None
    assert reader.buffer_capacity >= 50_000              # (the piece is still in it)
    reader.feed(frames[50_000 + 4 + 10:])
    assert reader.next().bytes() == b"y" * 50_000


def test_a_control_frame_alone_gives_the_slab_back_and_one_among_data_does_not():
    reader = FrameReader(Role.CLIENT, buffer_size=4096)
    w = FrameWriter(Role.SERVER)
    reader.feed(w.encode_ping(b"are you there"))
    ping = reader.next()
    assert ping.bytes() == b"are you there" and reader.buffer_capacity == 0
    reader.feed(w.encode_ping(b"p") + w.encode_binary(b"data"))
    assert reader.next().bytes() == b"p"
    assert reader.buffer_capacity == 4096                # data still buffered: kept
    assert reader.next().bytes() == b"data"
    assert ping.bytes() == b"are you there"


def test_blocking_io_returns_bytes_read_before_it_first():
    import socket
    from nexus_net._blocking_io import BlockingIo
    frame = FrameWriter(Role.SERVER).encode_binary(b"through the tunnel")
    a, b = socket.socketpair()
    with a, b:
        b.sendall(frame[7:])                             # the rest, from the socket
        io = BlockingIo(a, None, frame[:7])              # what the proxy's reply came with
        assert not io.peer_closed_idle()
        reader = FrameReader(Role.CLIENT)
        got = None
        while got is None:
            assert io.fill(reader) > 0
            got = reader.next()
        assert got.bytes() == b"through the tunnel"


def test_messages_cost_the_garbage_collector_nothing():
    # A Message refers only to its slab, which refers to nothing: no cycle can
    # go through it, so it is not tracked (keeping many costs no GC passes).
    reader = FrameReader(Role.CLIENT)
    reader.feed(FrameWriter(Role.SERVER).encode_binary(b"abc"))
    msg = reader.next()
    assert not gc.is_tracked(msg)
    view = msg.data
    del msg
    gc.collect()
    assert bytes(view) == b"abc"


def test_json_and_text_from_the_slab():
    w = FrameWriter(Role.SERVER)
    reader = FrameReader(Role.CLIENT)
    reader.feed(w.encode_text('{"px": "100.5", "q": [1, 2]}'))
    msg = reader.next()
    assert msg.kind is Kind.TEXT
    assert msg.json() == {"px": "100.5", "q": [1, 2]}
    assert msg.text() == '{"px": "100.5", "q": [1, 2]}'
    assert bytes(msg) == msg.bytes() == b'{"px": "100.5", "q": [1, 2]}'


def test_messages_cannot_be_built_by_hand():
    from nexus_net.ws import Message
    with pytest.raises(TypeError):
        Message()


def test_json_errors_keep_their_document_and_later_calls_still_work():
    import orjson
    w = FrameWriter(Role.SERVER)
    reader = FrameReader(Role.CLIENT)
    reader.feed(w.encode_text('{"broken": ') + w.encode_text('{"ok": 1}') + w.encode_text("[2]"))
    bad, good, other = list(reader)
    with pytest.raises(orjson.JSONDecodeError) as info:
        bad.json()
    doc = info.value.doc
    assert good.json() == {"ok": 1}
    assert other.json() == [2]
    assert info.value.doc == doc          # the error's copy of the input did not change
    big = '{"k": "' + "v" * 2000 + '"}'   # above the small-payload path
    reader.feed(w.encode_text(big))
    assert reader.next().json() == {"k": "v" * 2000}
