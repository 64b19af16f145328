"""FrameWriter -> FrameReader round trips: every opcode, length form, role and split."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexus_net import WriteBuf
from nexus_net.ws import FrameReader, FrameWriter, Kind, Role

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]
PEER = {Role.CLIENT: Role.SERVER, Role.SERVER: Role.CLIENT}


def drain(reader):
    return [(m.kind, m.bytes()) for m in reader]


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
@pytest.mark.parametrize("size", SIZES)
def test_data_frames_every_length_form(role, size):
    writer, reader = FrameWriter(role), FrameReader(PEER[role])
    payload = os.urandom(size)
    text = "é" * (size // 2) + "a" * (size % 2)
    reader.feed(writer.encode_binary(payload))
    reader.feed(writer.encode_text(text))
    msgs = list(reader)
    assert [(m.kind, m.bytes()) for m in msgs] == [(Kind.BINARY, payload), (Kind.TEXT, text.encode())]
    assert msgs[1].text() == text
    assert reader.pending == 0


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
@pytest.mark.parametrize("size", [0, 1, 125])
def test_control_frames(role, size):
    writer, reader = FrameWriter(role), FrameReader(PEER[role])
    payload = os.urandom(size)
    reader.feed(writer.encode_ping(payload))
    reader.feed(writer.encode_pong(payload))
    assert drain(reader) == [(Kind.PING, payload), (Kind.PONG, payload)]


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
def test_close_frames(role):
    writer, reader = FrameWriter(role), FrameReader(PEER[role])
    reader.feed(writer.encode_close(1001, "going away é"))
    msg = reader.next()
    assert msg.kind is Kind.CLOSE
    assert (msg.close_code, msg.close_reason) == (1001, "going away é")
    reader2 = FrameReader(PEER[role])
    reader2.feed(writer.encode_close(None))
    msg = reader2.next()
    assert (msg.close_code, msg.close_reason, len(msg)) == (1005, "", 0)


def test_client_frames_are_masked_and_server_frames_are_not():
    text = "A" * 200
    client = FrameWriter(Role.CLIENT).encode_text(text)
    server = FrameWriter(Role.SERVER).encode_text(text)
    assert client[1] & 0x80 and not server[1] & 0x80
    assert text.encode() not in client and text.encode() in server
    # every frame gets its own key
    keys = {FrameWriter(Role.CLIENT).encode_text("x")[2:6] for _ in range(50)}
    assert len(keys) > 45


def test_writer_never_mutates_caller_payload():
    data = bytearray(b"keep me exactly as I am" * 10)
    before = bytes(data)
    FrameWriter(Role.CLIENT).encode_binary(data)
    FrameWriter(Role.CLIENT).encode_binary(memoryview(data)[3:])
    assert data == before


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
def test_fragmented_message_with_interleaved_control_frames(role):
    writer, reader = FrameWriter(role), FrameReader(PEER[role])
    stream = b"".join([
        writer.encode_text("Hello, ", fin=False),
        writer.encode_ping(b"p1"),
        writer.encode_continuation("wör", fin=False),
        writer.encode_pong(b"p2"),
        writer.encode_continuation("ld", fin=True),
        writer.encode_binary(b"\x00\x01", fin=False),
        writer.encode_continuation(b"", fin=False),
        writer.encode_continuation(b"\x02", fin=True),
    ])
    reader.feed(stream)
    assert drain(reader) == [(Kind.PING, b"p1"), (Kind.PONG, b"p2"),
                             (Kind.TEXT, "Hello, wörld".encode()), (Kind.BINARY, b"\x00\x01\x02")]


def test_empty_fragmented_message():
    writer, reader = FrameWriter(Role.SERVER), FrameReader(Role.CLIENT)
    reader.feed(writer.encode_text("", fin=False) + writer.encode_continuation("", fin=True))
    assert drain(reader) == [(Kind.TEXT, b"")]


def test_writer_enforces_fragment_order_and_control_limits():
    writer = FrameWriter(Role.SERVER)
    with pytest.raises(ValueError, match="continuation"):
        writer.encode_continuation(b"x")
    writer.encode_text("a", fin=False)
    with pytest.raises(ValueError, match="unfinished"):
        writer.encode_binary(b"b")
    writer.encode_continuation("c", fin=True)
    with pytest.raises(ValueError, match="125"):
        writer.encode_ping(b"x" * 126)
    with pytest.raises(ValueError, match="may not be sent"):
        writer.encode_close(1005)
    with pytest.raises(ValueError, match="123"):
        writer.encode_close(1000, "r" * 124)
    with pytest.raises(TypeError):
        writer.encode_binary("text")


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
def test_encode_into_writebuf_and_caller_buffer(role):
    writer, reader = FrameWriter(role), FrameReader(PEER[role])
    wb = WriteBuf(64, headroom=0)
    n1 = writer.encode_text("one", wb)
    n2 = writer.encode_binary(b"two" * 100, wb)
    assert len(wb) == n1 + n2
    dst = bytearray(writer.frame_size(5))
    n3 = writer.encode_binary(b"three", dst)
    assert n3 == len(dst)
    with pytest.raises(ValueError, match="needs"):
        writer.encode_binary(b"toolong", bytearray(4))
    reader.feed(wb.getvalue() + bytes(dst))
    assert drain(reader) == [(Kind.TEXT, b"one"), (Kind.BINARY, b"two" * 100), (Kind.BINARY, b"three")]


def make_stream(role):
    writer = FrameWriter(role)
    parts = [writer.encode_text("first"), writer.encode_binary(os.urandom(300)),
             writer.encode_text("frag-", fin=False), writer.encode_ping(b"mid"),
             writer.encode_continuation("ment", fin=True), writer.encode_binary(os.urandom(70000)),
             writer.encode_close(1000, "bye")]
    return b"".join(parts)


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
def test_feeding_one_byte_at_a_time(role):
    stream = make_stream(role)
    whole = FrameReader(PEER[role])
    whole.feed(stream)
    expected = drain(whole)
    reader = FrameReader(PEER[role])
    got = []
    for i in range(len(stream)):
        reader.feed(stream[i:i + 1])
        got.extend(drain(reader))
    assert got == expected
    assert [k for k, _ in got] == [Kind.TEXT, Kind.BINARY, Kind.PING, Kind.TEXT, Kind.BINARY, Kind.CLOSE]


@given(st.data())
def test_random_chunkings_give_the_same_messages(data):
    role = data.draw(st.sampled_from([Role.CLIENT, Role.SERVER]))
    stream = make_stream(role)
    whole = FrameReader(PEER[role])
    whole.feed(stream)
    expected = drain(whole)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    reader = FrameReader(PEER[role])
    got, last = [], 0
    for cut in cuts + [len(stream)]:
        reader.feed(stream[last:cut])
        last = cut
        got.extend(drain(reader))
    assert got == expected


def test_zero_copy_buffer_and_advance():
    writer, reader = FrameWriter(Role.SERVER), FrameReader(Role.CLIENT)
    frame = writer.encode_binary(b"direct")
    view = reader.buffer(len(frame))
    view[:len(frame)] = frame
    del view
    reader.advance(len(frame))
    msg = reader.next()
    assert msg.bytes() == b"direct"
    assert reader.next() is None
