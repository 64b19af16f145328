"""permessage-deflate (RFC 7692): the sans-IO codec and the negotiation rules.

The codec is checked against zlib itself (frames built by hand from
``zlib.compressobj``) and differentially against websockets' own
``PerMessageDeflate`` on the same bytes; the hostile inputs check the close
code of every way a compressed message can be wrong.
"""

from __future__ import annotations

import os
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus_net import ws
from nexus_net.ws import Deflate, FrameReader, FrameWriter, PerMessageDeflate, Role
from nexus_net.ws.deflate import check_params, parse_extensions

TAIL = b"\x00\x00\xff\xff"


def frame(first: int, payload: bytes) -> bytes:
    """An unmasked (server) frame with the given first byte."""
    n = len(payload)
    if n < 126:
        return bytes([first, n]) + payload
    if n < 65536:
        return bytes([first, 126]) + n.to_bytes(2, "big") + payload
    return bytes([first, 127]) + n.to_bytes(8, "big") + payload


def compressed(data: bytes, compressor=None) -> bytes:
    c = compressor or zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def client_reader(**kw) -> FrameReader:
    return FrameReader(Role.CLIENT, extension=PerMessageDeflate(), **kw)


def fails_with(reader: FrameReader, data: bytes, exc: type, code: int, match: str) -> None:
    reader.feed(data)
    with pytest.raises(exc, match=match) as info:
        while reader.next() is not None:
            pass
    assert info.value.close_code == code
    with pytest.raises(exc):                      # the reader stays failed
        reader.next()


# ---- the codec against zlib ------------------------------------------------------

def test_inflates_zlib_output_with_context_takeover():
    reader = client_reader()
    c = zlib.compressobj(wbits=-15)
    quotes = [b'{"s":"BTCUSDT","b":"67012.10","a":"67012.20","t":%d}' % i for i in range(50)]
    sizes = []
    for q in quotes:
        payload = compressed(q, c)
        sizes.append(len(payload))
        reader.feed(frame(0xC2, payload))
        msg = reader.next()
        assert msg.kind is ws.Kind.BINARY and msg.bytes() == q
    assert sizes[-1] < sizes[0] / 2          # the shared window is what makes small messages small


def test_messages_are_views_of_the_output_arena_and_kept_ones_stay_valid():
    reader = client_reader()
    c = zlib.compressobj(wbits=-15)
    kept = []
    for i in range(2000):                    # more than one 16 KiB arena of output
        data = bytes([i % 251]) * 50
        reader.feed(frame(0xC2, compressed(data, c)))
        msg = reader.next()
        kept.append((msg.data, data))
    for view, data in kept:
        assert bytes(view) == data


def test_writer_output_inflates_with_zlib_and_strips_the_tail():
    writer = FrameWriter(Role.SERVER, extension=PerMessageDeflate())
    d = zlib.decompressobj(wbits=-15)
    for data in (b"abc" * 10, b"abc" * 20, b"", os.urandom(70000)):
        wire = writer.encode_binary(data)
        assert wire[0] == 0xC2                       # FIN, RSV1, binary
        hdr = 2 if wire[1] < 126 else (4 if wire[1] == 126 else 10)
        payload = wire[hdr:]
        assert not payload.endswith(TAIL) or len(data) == 0
        assert d.decompress(payload + TAIL) == data


def test_fragmented_send_sets_rsv1_on_the_first_frame_only():
    ext = PerMessageDeflate()
    writer = FrameWriter(Role.SERVER, extension=ext)
    frames = [writer.encode_text("abc" * 50, fin=False),
              writer.encode_continuation("def" * 50, fin=False),
              writer.encode_continuation(b"", fin=True)]
    assert [f[0] for f in frames] == [0x41, 0x00, 0x80]
    reader = client_reader()
    reader.feed(b"".join(frames))
    assert reader.next().text() == "abc" * 50 + "def" * 50


def test_threshold_sends_short_messages_uncompressed():
    writer = FrameWriter(Role.SERVER, extension=PerMessageDeflate(threshold=64))
    assert writer.encode_text("short")[0] == 0x81               # no RSV1
    assert writer.encode_text("x" * 64)[0] == 0xC1
    reader = client_reader()
    reader.feed(writer.encode_text("short") + writer.encode_text("y" * 100))
    assert reader.next().text() == "short"
    assert reader.next().text() == "y" * 100


def test_an_8_bit_local_window_sends_uncompressed():
    # zlib cannot compress with 256-byte windows: every message goes plain
    writer = FrameWriter(Role.SERVER, extension=PerMessageDeflate(local_max_window_bits=8))
    assert writer.encode_binary(b"z" * 1000)[0] == 0x82


def test_an_8_bit_remote_window_still_inflates_zlibs_9_bit_output():
    reader = FrameReader(Role.CLIENT, extension=PerMessageDeflate(remote_max_window_bits=8))
    c = zlib.compressobj(wbits=-9)
    data = bytes(range(256)) * 8
    reader.feed(frame(0xC2, compressed(data, c)))
    assert reader.next().bytes() == data


def test_no_context_takeover_resets_the_compressor_per_message():
    writer = FrameWriter(Role.SERVER, extension=PerMessageDeflate(local_no_context_takeover=True))
    first = writer.encode_text("the same quote, again and again")
    second = writer.encode_text("the same quote, again and again")
    assert first == second                      # nothing carried over
    # each message inflates on its own
    for wire in (first, second):
        assert zlib.decompressobj(wbits=-15).decompress(wire[2:] + TAIL) == b"the same quote, again and again"


def test_a_final_block_restarts_the_stream_for_the_next_message():
    # RFC 7692 7.2.3.3: a sender may end a message with BFINAL=1 (Z_FINISH)
    reader = client_reader()
    for data in (b"first message", b"second message"):
        c = zlib.compressobj(wbits=-15)
        reader.feed(frame(0xC2, c.compress(data) + c.flush(zlib.Z_FINISH)))
        assert reader.next().bytes() == data


def test_interleaved_control_frames_inside_a_compressed_fragmented_message():
    reader = client_reader()
    payload = compressed(b"hello compressed world" * 20)
    half = len(payload) // 2
    reader.feed(frame(0x42, payload[:half]) + frame(0x89, b"ping!") + frame(0x80, payload[half:]))
    ping = reader.next()
    assert ping.kind is ws.Kind.PING and ping.bytes() == b"ping!"
    assert reader.next().bytes() == b"hello compressed world" * 20


def test_byte_by_byte_feeding():
    reader = client_reader()
    data = ("€uro quote " * 300).encode()
    wire = frame(0x41, compressed(data)[:10]) + frame(0x80, compressed(data)[10:])
    out = []
    for i in range(len(wire)):
        reader.feed(wire[i:i + 1])
        msg = reader.next()
        if msg is not None:
            out.append(msg.text())
    assert out == [data.decode()]


def test_uncompressed_messages_pass_on_a_compressed_connection():
    reader = client_reader()
    reader.feed(frame(0x81, b"plain") + frame(0xC1, compressed(b"packed")))
    assert reader.next().text() == "plain"
    assert reader.next().text() == "packed"


# ---- hostile input: the close code of each -----------------------------------------

def test_rsv1_on_a_continuation_is_1002():
    fails_with(client_reader(), frame(0x41, compressed(b"abc")) + frame(0xC0, b"\x00"),
               ws.ProtocolError, 1002, "continuation")


def test_rsv1_on_a_control_frame_is_1002():
    fails_with(client_reader(), frame(0xC9, b""), ws.ProtocolError, 1002, "control frames are never compressed")


def test_rsv1_without_the_extension_is_1002():
    fails_with(FrameReader(Role.CLIENT), frame(0xC1, compressed(b"abc")),
               ws.ProtocolError, 1002, "without a negotiated extension")


def test_rsv2_and_rsv3_stay_errors_with_the_extension():
    for first in (0xA1, 0x91, 0xE1):
        fails_with(client_reader(), frame(first, b"x"), ws.ProtocolError, 1002, "RSV")


def test_garbage_deflate_data_is_1007():
    # BTYPE 11 is reserved: "invalid block type"
    fails_with(client_reader(), frame(0xC2, b"\xff\xff\xff\xff"), ws.CompressionError, 1007, "invalid deflate data")


def test_a_truncated_deflate_stream_is_1007():
    data = compressed(os.urandom(3000))
    fails_with(client_reader(), frame(0xC2, data[: len(data) // 2]),
               ws.CompressionError, 1007, "truncated")


def test_data_after_a_final_block_is_1007():
    c = zlib.compressobj(wbits=-15)
    payload = c.compress(b"done") + c.flush(zlib.Z_FINISH) + b"\x01\x02\x03"
    fails_with(client_reader(), frame(0xC2, payload), ws.CompressionError, 1007, "after the final block")


def test_invalid_utf8_in_inflated_text_is_1007_before_the_message_ends():
    reader = client_reader()
    payload = compressed(b"valid start \xff then garbage" + b"." * 5000)
    reader.feed(frame(0x41, payload))                 # first fragment; FIN never comes
    with pytest.raises(ws.InvalidDataError, match="inflated message") as info:
        reader.next()
    assert info.value.close_code == 1007


def test_text_ending_inside_a_utf8_sequence_is_1007():
    fails_with(client_reader(), frame(0xC1, compressed("€".encode()[:2])),
               ws.InvalidDataError, 1007, "middle of a UTF-8 sequence")


def test_a_bomb_stops_at_max_message_size_with_bounded_memory():
    # about 1 KiB of wire that would inflate to 1 GiB: deflate's best ratio
    # is ~1032:1, so the 1 GiB stream is ~1 MiB; send its first KiBs only,
    # enough to pass the 1 MiB limit many times over
    c = zlib.compressobj(level=9, wbits=-15)
    chunk = b"\0" * (1 << 20)
    wire = b"".join(c.compress(chunk) for _ in range(64)) + c.flush(zlib.Z_SYNC_FLUSH)
    reader = FrameReader(Role.CLIENT, max_message_size=1 << 20, extension=PerMessageDeflate())
    tracemalloc.start()
    try:
        reader.feed(frame(0xC2, wire))
        with pytest.raises(ws.MessageTooBigError, match="max_message_size") as info:
            reader.next()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.close_code == 1009
    assert len(wire) < 128 * 1024
    # the limit (1 MiB) + the wire (fed once) + zlib's state, not 64 MiB
    assert peak < 4 * (1 << 20), peak


def test_the_inflated_size_is_what_max_message_size_limits():
    data = b"a" * 5000
    reader = FrameReader(Role.CLIENT, max_message_size=4999, extension=PerMessageDeflate())
    fails_with(reader, frame(0xC2, compressed(data)), ws.MessageTooBigError, 1009, "inflates to more")
    ok = FrameReader(Role.CLIENT, max_message_size=5000, extension=PerMessageDeflate())
    ok.feed(frame(0xC2, compressed(data)))
    assert ok.next().bytes() == data


# ---- memory ------------------------------------------------------------------------

def test_zlib_memory_is_counted_allocated_on_use_and_freed():
    ext = PerMessageDeflate(local_max_window_bits=12, remote_max_window_bits=12)
    assert ext.zlib_memory == 0 and ext.buffer_memory == 0      # nothing until the first message
    writer = FrameWriter(Role.SERVER, extension=ext)
    reader = FrameReader(Role.CLIENT, extension=ext)
    reader.feed(writer.encode_text("hello " * 100))
    assert reader.next().text() == "hello " * 100
    used = ext.zlib_memory
    # deflate: 2**(12+2) + 2**(5+9) + state; inflate: 2**12 window + state
    assert 32 * 1024 < used < 64 * 1024, used
    ext.close()
    assert ext.zlib_memory == 0


def test_a_lone_keepalive_frame_gives_back_the_arena_and_no_context_streams():
    ext = PerMessageDeflate(local_no_context_takeover=True, remote_no_context_takeover=True)
    writer = FrameWriter(Role.SERVER, extension=ext)
    reader = FrameReader(Role.CLIENT, extension=ext)
    reader.feed(writer.encode_text("hello " * 100))
    assert reader.next() is not None
    assert ext.zlib_memory > 0 and ext.buffer_memory > 0
    reader.feed(writer.encode_ping(b"keepalive"))
    assert reader.next().kind is ws.Kind.PING
    assert ext.zlib_memory == 0 and ext.buffer_memory == 0
    reader.feed(writer.encode_text("again"))                # made again on use
    assert reader.next().text() == "again"


# ---- round trips through every parameter set (hypothesis) --------------------------

PARAM_SETS = [dict(local_no_context_takeover=lnct, remote_no_context_takeover=rnct,
                   local_max_window_bits=bits, remote_max_window_bits=bits)
              for lnct in (False, True) for rnct in (False, True) for bits in (9, 12, 15)]

messages = st.lists(st.tuples(st.one_of(st.binary(max_size=3000), st.text(max_size=800)),
                              st.integers(1, 4)), max_size=12)


@pytest.mark.parametrize("params", PARAM_SETS, ids=lambda p: "-".join(str(int(v)) for v in p.values()))
@settings(max_examples=40)
@given(seq=messages)
def test_round_trip_random_messages(params, seq):
    sender = PerMessageDeflate(**params)
    receiver = PerMessageDeflate(
        local_no_context_takeover=params["remote_no_context_takeover"],
        remote_no_context_takeover=params["local_no_context_takeover"],
        local_max_window_bits=params["remote_max_window_bits"],
        remote_max_window_bits=params["local_max_window_bits"])
    writer = FrameWriter(Role.CLIENT, extension=sender)
    reader = FrameReader(Role.SERVER, extension=receiver)
    for payload, pieces in seq:
        step = max(1, len(payload) // pieces)
        parts = [payload[i:i + step] for i in range(0, len(payload), step)] or [payload]
        first = writer.encode_text if isinstance(payload, str) else writer.encode_binary
        wire = [first(parts[0], fin=len(parts) == 1)]
        wire += [writer.encode_continuation(part, fin=i == len(parts) - 1)
                 for i, part in enumerate(parts) if i > 0]
        reader.feed(b"".join(wire))
        msg = reader.next()
        assert msg is not None
        assert (msg.text() if isinstance(payload, str) else msg.bytes()) == payload
        assert reader.next() is None


# ---- differential: websockets' PerMessageDeflate on the same bytes ----------------

wsx = pytest.importorskip("websockets.extensions.permessage_deflate")
wsframes = pytest.importorskip("websockets.frames")


@pytest.mark.parametrize("nct", [False, True])
@pytest.mark.parametrize("bits", [9, 12, 15])
@settings(max_examples=60)
@given(payloads=st.lists(st.binary(max_size=4000), min_size=1, max_size=8))
def test_differential_against_websockets(nct, bits, payloads):
    # websockets encodes, we decode ...
    theirs = wsx.PerMessageDeflate(nct, nct, bits, bits)
    reader = FrameReader(Role.CLIENT, extension=PerMessageDeflate(nct, nct, bits, bits))
    # ... and we encode, websockets decodes
    writer = FrameWriter(Role.SERVER, extension=PerMessageDeflate(nct, nct, bits, bits))
    decoder = wsx.PerMessageDeflate(nct, nct, bits, bits)
    for data in payloads:
        encoded = theirs.encode(wsframes.Frame(wsframes.Opcode.BINARY, data))
        assert encoded.rsv1
        reader.feed(frame(0xC2, encoded.data))
        assert reader.next().bytes() == data
        wire = writer.encode_binary(data)
        hdr = 2 if wire[1] < 126 else (4 if wire[1] == 126 else 10)
        ours = wsframes.Frame(wsframes.Opcode.BINARY, wire[hdr:], rsv1=True)
        assert decoder.decode(ours).data == data


# ---- negotiation (RFC 7692 section 7) -------------------------------------------

def test_offer_strings():
    assert Deflate().offer() == "permessage-deflate; client_max_window_bits"
    assert Deflate(server_no_context_takeover=True, client_no_context_takeover=True,
                   server_max_window_bits=10, client_max_window_bits=12).offer() == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=12")
    assert Deflate(client_max_window_bits=None).offer() == "permessage-deflate"


@pytest.mark.parametrize("bad", [dict(server_max_window_bits=7), dict(client_max_window_bits=16),
                                 dict(level=10), dict(mem_level=0), dict(threshold=-1),
                                 dict(server_max_window_bits=True)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        Deflate(**bad)


def test_parse_extensions_grammar():
    assert parse_extensions(['permessage-deflate; client_max_window_bits="10" ; server_no_context_takeover',
                             "x-other, permessage-deflate"]) == [
        ("permessage-deflate", [("client_max_window_bits", "10"), ("server_no_context_takeover", None)]),
        ("x-other", []), ("permessage-deflate", [])]
    for bad in ["permessage-deflate; =1", "permessage-deflate; a=\"unterminated", "permessage-deflate x",
                "permessage-deflate; a=\"sp ace\""]:
        with pytest.raises(ValueError):
            parse_extensions([bad])


@pytest.mark.parametrize("params,match", [
    ([("foo", None)], "unknown parameter"),
    ([("server_no_context_takeover", None), ("server_no_context_takeover", None)], "duplicate"),
    ([("server_no_context_takeover", "1")], "takes no value"),
    ([("server_max_window_bits", None)], "needs a value"),
    ([("server_max_window_bits", "7")], "between 8 and 15"),
    ([("server_max_window_bits", "16")], "between 8 and 15"),
    ([("server_max_window_bits", "010")], "between 8 and 15"),
    ([("client_max_window_bits", "x")], "between 8 and 15"),
])
def test_invalid_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        check_params(params, client_side_values=True)


@pytest.mark.parametrize("config,response,match", [
    (Deflate(), "permessage-deflate; foo", "unknown parameter"),
    (Deflate(), "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9", "duplicate"),
    (Deflate(), "permessage-deflate; server_max_window_bits=20", "between 8 and 15"),
    (Deflate(), "permessage-deflate; client_max_window_bits", "needs a value"),
    (Deflate(client_max_window_bits=None), "permessage-deflate; client_max_window_bits=10", "did not offer"),
    (Deflate(client_max_window_bits=10), "permessage-deflate; client_max_window_bits=12", "above the 10"),
    (Deflate(server_max_window_bits=10), "permessage-deflate; server_max_window_bits=11", "above the 10"),
    (Deflate(server_no_context_takeover=True), "permessage-deflate", "server_no_context_takeover"),
    (Deflate(), "permessage-deflate, permessage-deflate", "more than once"),
    (Deflate(), "x-webkit-deflate-frame", "did not offer"),
    (Deflate(), "permessage-deflate; ;", "malformed"),
])
def test_client_fails_on_a_bad_response(config, response, match):
    with pytest.raises(ws.NegotiationError, match=match):
        config.accept_response([response])


def test_client_codec_from_a_response():
    codec = Deflate().accept_response(
        ["permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
         "server_max_window_bits=10; client_max_window_bits=11"])
    assert codec.params() == {"local_no_context_takeover": True, "remote_no_context_takeover": True,
                              "local_max_window_bits": 11, "remote_max_window_bits": 10}
    assert Deflate().accept_response([]) is None            # declined: no compression
    promised = Deflate(client_no_context_takeover=True, client_max_window_bits=12).accept_response(
        ["permessage-deflate"])
    assert promised.local_no_context_takeover and promised.local_max_window_bits == 12


def test_server_declines_invalid_offers_and_takes_the_next():
    server = Deflate()
    assert server.accept_offer(["permessage-deflate; foo"]) is None
    assert server.accept_offer(["permessage-deflate; server_max_window_bits=7"]) is None
    assert server.accept_offer(['permessage-deflate; client_max_window_bits="1"']) is None
    assert server.accept_offer(["x-other"]) is None
    assert server.accept_offer(["permessage-deflate; ;"]) is None
    header, codec = server.accept_offer(
        ["permessage-deflate; server_max_window_bits=99, permessage-deflate; server_no_context_takeover"])
    assert header == "permessage-deflate; server_no_context_takeover"
    assert codec.local_no_context_takeover and not codec.remote_no_context_takeover


@pytest.mark.parametrize("config,offer,answer,local_bits,remote_bits", [
    (Deflate(), "permessage-deflate", "permessage-deflate", 15, 15),
    (Deflate(), "permessage-deflate; client_max_window_bits", "permessage-deflate", 15, 15),
    (Deflate(), "permessage-deflate; server_max_window_bits=9",
     "permessage-deflate; server_max_window_bits=9", 9, 15),
    (Deflate(server_max_window_bits=12), "permessage-deflate",
     "permessage-deflate; server_max_window_bits=12", 12, 15),
    (Deflate(server_max_window_bits=12), "permessage-deflate; server_max_window_bits=15",
     "permessage-deflate; server_max_window_bits=12", 12, 15),
    (Deflate(client_max_window_bits=10), "permessage-deflate; client_max_window_bits",
     "permessage-deflate; client_max_window_bits=10", 15, 10),
    (Deflate(client_max_window_bits=10), "permessage-deflate; client_max_window_bits=9",
     "permessage-deflate; client_max_window_bits=9", 15, 9),
    (Deflate(client_max_window_bits=10), "permessage-deflate", "permessage-deflate", 15, 15),
    (Deflate(), "permessage-deflate; client_max_window_bits=12",
     "permessage-deflate; client_max_window_bits=12", 15, 12),
    (Deflate(client_no_context_takeover=True), "permessage-deflate",
     "permessage-deflate; client_no_context_takeover", 15, 15),
    (Deflate(), "permessage-deflate; server_max_window_bits=8",
     "permessage-deflate; server_max_window_bits=8", 8, 15),
])
def test_server_answers(config, offer, answer, local_bits, remote_bits):
    header, codec = config.accept_offer([offer])
    assert header == answer
    assert (codec.local_max_window_bits, codec.remote_max_window_bits) == (local_bits, remote_bits)
    # and the answer is one a client with that offer accepts
    assert parse_extensions([header])[0][0] == "permessage-deflate"


def test_resolve_compression_argument():
    from nexus_net.ws.deflate import resolve
    assert resolve(None, server=False) is None
    assert resolve("deflate", server=False) == Deflate()
    assert resolve("deflate", server=True).server_max_window_bits == 12
    mine = Deflate(level=1)
    assert resolve(mine, server=True) is mine
    with pytest.raises(ValueError, match="compression must be"):
        resolve("gzip", server=False)


def test_an_incompressible_message_at_the_limit_still_arrives():
    # deflate makes random data a little larger: the frame may exceed
    # max_frame_size by deflate's worst-case growth, the message may not
    data = os.urandom(1 << 20)
    writer = FrameWriter(Role.SERVER, extension=PerMessageDeflate())
    wire = writer.encode_binary(data)
    assert len(wire) > len(data) + 10
    reader = FrameReader(Role.CLIENT, max_message_size=1 << 20, extension=PerMessageDeflate())
    reader.feed(wire)
    assert reader.next().bytes() == data
    # an uncompressed frame gets no such slack
    plain = FrameReader(Role.CLIENT, max_message_size=(1 << 20) - 1, extension=PerMessageDeflate())
    plain.feed(FrameWriter(Role.SERVER).encode_binary(data))
    with pytest.raises(ws.MessageTooBigError):
        plain.next()


def test_an_empty_compressed_payload_is_an_empty_message():
    # zlib sends 0x00 for an empty message; an empty payload with RSV1 means the same
    reader = client_reader()
    reader.feed(frame(0xC1, b"") + frame(0xC1, compressed(b"")) + frame(0xC1, compressed(b"next")))
    assert [reader.next().text() for _ in range(3)] == ["", "", "next"]
