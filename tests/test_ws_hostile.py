"""Hostile input: each case gets its exact exception type and close code."""

import struct

import pytest

from nexus_net.ws import (FrameReader, InvalidDataError, Kind, MessageTooBigError, ProtocolError,
                          Role)
from wire import frame

C, S = Role.CLIENT, Role.SERVER   # the role of the *reader*


def read_all(role, data, **limits):
    reader = FrameReader(role, **limits)
    reader.feed(data)
    return list(reader)


def expect(role, data, exc_type, code, match, **limits):
    reader = FrameReader(role, **limits)
    reader.feed(data)
    with pytest.raises(exc_type, match=match) as info:
        list(reader)
    assert type(info.value) is exc_type
    assert info.value.close_code == code
    # the reader stays failed with the same error
    with pytest.raises(exc_type):
        reader.next()
    return info.value


def test_truncated_frames_at_every_byte_wait_without_error():
    full = frame(0x2, b"x" * 300, masked=True) + frame(0x1, "é".encode() * 40, masked=True)
    for cut in range(len(full)):
        reader = FrameReader(S)
        reader.feed(full[:cut])
        got = list(reader)
        assert len(got) == (0 if cut < 308 else 1)       # 4 + 4 + 300: first frame done


def test_64bit_length_with_top_bit_set():
    data = bytes([0x82, 127]) + struct.pack("!Q", 1 << 63)
    expect(C, data, ProtocolError, 1002, "top bit")


def test_length_over_max_frame_size_refused_from_header_alone():
    header_only = bytes([0x82, 127]) + struct.pack("!Q", 10 * 1024 * 1024)   # no payload follows
    expect(C, header_only, MessageTooBigError, 1009, "max_frame_size=1024", max_frame_size=1024)
    header16 = bytes([0x82, 126]) + struct.pack("!H", 2000)
    expect(C, header16, MessageTooBigError, 1009, "2000 bytes", max_message_size=1999)


def test_fragmented_message_over_max_message_size():
    data = frame(0x2, b"a" * 600, fin=False) + frame(0x0, b"b" * 600, fin=True)
    expect(C, data, MessageTooBigError, 1009, "max_message_size=1000",
           max_message_size=1000, max_frame_size=1000)


@pytest.mark.parametrize("rsv,name", [(4, "RSV1"), (2, "RSV2"), (1, "RSV3"), (7, "RSV1/RSV2/RSV3")])
def test_reserved_bits(rsv, name):
    expect(C, frame(0x1, b"hi", rsv=rsv), ProtocolError, 1002, name)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes(opcode):
    expect(C, frame(opcode, b""), ProtocolError, 1002, f"reserved .*opcode 0x{opcode:X}")


@pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
def test_fragmented_control_frame(opcode):
    expect(C, frame(opcode, b"", fin=False), ProtocolError, 1002, "fragmented")


@pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
def test_control_frame_of_126_bytes(opcode):
    expect(C, frame(opcode, b"\x03\xe8" + b"x" * 124), ProtocolError, 1002, "over 125")


def test_continuation_without_start():
    expect(C, frame(0x0, b"orphan"), ProtocolError, 1002, "continuation frame without")


@pytest.mark.parametrize("second", [0x1, 0x2])
def test_new_data_frame_inside_fragmented_message(second):
    data = frame(0x1, b"part", fin=False) + frame(second, b"new")
    expect(C, data, ProtocolError, 1002, "unfinished")


def test_unmasked_frame_to_server_and_masked_frame_to_client():
    expect(S, frame(0x1, b"hi"), ProtocolError, 1002, "clients must mask")
    expect(C, frame(0x1, b"hi", masked=True), ProtocolError, 1002, "servers must not mask")


@pytest.mark.parametrize("bad", [
    b"\x80",                      # stray continuation byte, first position
    b"ok\xc3",                    # message ends mid-sequence
    b"\xc0\xaf",                  # overlong '/'
    b"\xe0\x80\xaf",              # overlong 3-byte form
    b"\xf0\x80\x80\xaf",          # overlong 4-byte form
    b"\xed\xa0\x80",              # UTF-16 surrogate U+D800
    b"\xed\xbf\xbf",              # surrogate U+DFFF
    b"\xf4\x90\x80\x80",          # U+110000, above the Unicode range
    b"\xf5\x80\x80\x80",
    b"\xff",
    b"abc\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
])
@pytest.mark.parametrize("role", [C, S])
def test_invalid_utf8_in_text(bad, role):
    expect(role, frame(0x1, bad, masked=role is S), InvalidDataError, 1007, "UTF-8")


def test_invalid_utf8_split_across_fragments():
    # 0xF4 starts a sequence, the next fragment continues it with an invalid byte
    data = frame(0x1, b"ab\xf4", fin=False) + frame(0x0, b"\x90\x80\x80", fin=True)
    expect(C, data, InvalidDataError, 1007, "offset 3")
    # a valid sequence split across fragments is fine
    ok = frame(0x1, b"ab\xf0\x9f", fin=False) + frame(0x0, b"\x98\x80!", fin=True)
    assert [m.text() for m in read_all(C, ok)] == ["ab\U0001F600!"]


def test_invalid_utf8_fails_fast_before_the_frame_is_complete():
    # only the first 10 bytes of a 1000-byte frame have arrived; byte 5 is invalid
    head = bytes([0x81, 126]) + struct.pack("!H", 1000)
    reader = FrameReader(C)
    reader.feed(head + b"abcd\xff")
    with pytest.raises(InvalidDataError, match="offset 4"):
        reader.next()


def test_invalid_utf8_fails_fast_mid_fragmented_message():
    reader = FrameReader(C)
    reader.feed(frame(0x1, b"good", fin=False) + frame(0x0, b"\xc0", fin=False))
    with pytest.raises(InvalidDataError):
        reader.next()          # the message is not finished, but can never be valid


def test_close_with_one_byte():
    expect(C, frame(0x8, b"\x03"), ProtocolError, 1002, "1-byte")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_bad_close_codes(code):
    expect(C, frame(0x8, struct.pack("!H", code)), ProtocolError, 1002, f"close code {code}")


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999])
def test_good_close_codes(code):
    (msg,) = read_all(C, frame(0x8, struct.pack("!H", code) + b"ok"))
    assert (msg.kind, msg.close_code, msg.close_reason) == (Kind.CLOSE, code, "ok")


def test_bad_utf8_in_close_reason():
    expect(C, frame(0x8, b"\x03\xe8\xed\xa0\x80"), InvalidDataError, 1007, "close reason")


def test_frames_after_close_are_refused():
    data = frame(0x8, b"\x03\xe8") + frame(0x1, b"late")
    reader = FrameReader(C)
    reader.feed(data)
    assert reader.next().kind is Kind.CLOSE
    with pytest.raises(ProtocolError, match="after the close frame"):
        reader.next()


def test_unbounded_feed_without_reading_is_refused():
    from nexus_net import BufferFullError
    reader = FrameReader(C, max_message_size=1024)
    chunk = frame(0x2, b"x" * 1000) * 64
    with pytest.raises(BufferFullError):
        for _ in range(100):
            reader.feed(chunk)       # never calling next(): memory must stay bounded
    assert reader.pending < 1024 + 14 + 512 * 1024
