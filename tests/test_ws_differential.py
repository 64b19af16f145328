"""Differential tests against independent implementations (websockets, wsproto).

A random script of messages (some fragmented, with pings/pongs between the
fragments) is encoded by one library and parsed by the other; both must agree
on the sequence of delivered messages.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexus_net.ws import FrameReader, FrameWriter, Kind, Role

websockets_frames = pytest.importorskip("websockets.frames")
websockets_protocol = pytest.importorskip("websockets.protocol")
wsproto_fp = pytest.importorskip("wsproto.frame_protocol")

from websockets.frames import Opcode  # noqa: E402
from websockets.protocol import Protocol, Side  # noqa: E402

CONTROL = st.tuples(st.sampled_from(["ping", "pong"]), st.binary(max_size=125))
pieces = st.lists(st.binary(max_size=80), min_size=1, max_size=4)
text_pieces = st.lists(st.text(max_size=30), min_size=1, max_size=4)
DATA = (st.tuples(st.just("binary"), pieces, st.lists(CONTROL, max_size=2))
        | st.tuples(st.just("text"), text_pieces, st.lists(CONTROL, max_size=2)))
SCRIPT = st.lists(DATA | CONTROL, max_size=8)


def expected_messages(script):
    """What a correct parser delivers, in order."""
    out = []
    for item in script:
        if item[0] in ("ping", "pong"):
            out.append((Kind.PING if item[0] == "ping" else Kind.PONG, item[1]))
            continue
        kind, parts, controls = item
        for c, payload in controls[:len(parts) - 1]:      # only between fragments
            out.append((Kind.PING if c == "ping" else Kind.PONG, payload))
        data = b"".join(p.encode() if kind == "text" else p for p in parts)
        out.append((Kind.TEXT if kind == "text" else Kind.BINARY, data))
    return out


def encode_script(script, send_data, send_cont, send_ping, send_pong):
    for item in script:
        if item[0] in ("ping", "pong"):
            (send_ping if item[0] == "ping" else send_pong)(item[1])
            continue
        kind, parts, controls = item
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            (send_data if i == 0 else send_cont)(kind, part, last)
            if not last and i < len(controls):
                c, payload = controls[i]
                (send_ping if c == "ping" else send_pong)(payload)


def ours_encode(script, role):
    w = FrameWriter(role)
    out = []
    encode_script(
        script,
        lambda kind, part, fin: out.append(
            w.encode_text(part, fin=fin) if kind == "text" else w.encode_binary(part, fin=fin)),
        lambda kind, part, fin: out.append(w.encode_continuation(part, fin=fin)),
        lambda p: out.append(w.encode_ping(p)),
        lambda p: out.append(w.encode_pong(p)))
    return b"".join(out)


def ours_decode(data, role):
    r = FrameReader(role)
    r.feed(data)
    return [(m.kind, m.bytes()) for m in r]


def reassemble(frames):
    """(opcode, payload, fin) frames -> delivered messages."""
    out, current, kind = [], [], None
    for opcode, payload, fin in frames:
        if opcode in (9, 10):
            out.append((Kind(opcode), payload))
            continue
        if opcode != 0:
            kind, current = Kind(opcode), []
        current.append(payload)
        if fin:
            out.append((kind, b"".join(current)))
    return out


# ---- websockets -------------------------------------------------------------

def websockets_encode(script, side):
    p = Protocol(side, max_size=None)
    def as_bytes(kind, part):
        return part.encode() if kind == "text" else part
    encode_script(
        script,
        lambda kind, part, fin: (p.send_text if kind == "text" else p.send_binary)(as_bytes(kind, part), fin=fin),
        lambda kind, part, fin: p.send_continuation(as_bytes(kind, part), fin=fin),
        p.send_ping, p.send_pong)
    return b"".join(p.data_to_send())


def websockets_decode(data, side):
    p = Protocol(side, max_size=None)
    p.receive_data(data)
    return reassemble([(int(f.opcode), bytes(f.data), f.fin) for f in p.events_received()])


@given(SCRIPT)
def test_we_encode_websockets_parses(script):
    expected = expected_messages(script)
    assert websockets_decode(ours_encode(script, Role.CLIENT), Side.SERVER) == expected
    assert websockets_decode(ours_encode(script, Role.SERVER), Side.CLIENT) == expected


@given(SCRIPT)
def test_websockets_encodes_we_parse(script):
    expected = expected_messages(script)
    assert ours_decode(websockets_encode(script, Side.CLIENT), Role.SERVER) == expected
    assert ours_decode(websockets_encode(script, Side.SERVER), Role.CLIENT) == expected


# ---- wsproto ----------------------------------------------------------------

def wsproto_encode(script, client):
    fp = wsproto_fp.FrameProtocol(client=client, extensions=[])
    out = []
    encode_script(
        script,
        lambda kind, part, fin: out.append(fp.send_data(part, fin)),
        lambda kind, part, fin: out.append(fp.send_data(part, fin)),
        lambda p: out.append(fp.ping(p)),
        lambda p: out.append(fp.pong(p)))
    return b"".join(out)


def wsproto_decode(data, client):
    """wsproto labels every piece of a message with the message's opcode and
    may split frames, so reassemble on ``message_finished``."""
    fp = wsproto_fp.FrameProtocol(client=client, extensions=[])
    fp.receive_bytes(data)
    out, current = [], None
    for f in fp.received_frames():
        payload = f.payload.encode() if isinstance(f.payload, str) else bytes(f.payload)
        if int(f.opcode) in (9, 10):
            out.append((Kind(int(f.opcode)), payload))
            continue
        if current is None:
            current = (Kind(int(f.opcode)), [])
        current[1].append(payload)
        if f.message_finished:
            out.append((current[0], b"".join(current[1])))
            current = None
    return out


@given(SCRIPT)
def test_we_encode_wsproto_parses(script):
    expected = expected_messages(script)
    assert wsproto_decode(ours_encode(script, Role.CLIENT), client=False) == expected
    assert wsproto_decode(ours_encode(script, Role.SERVER), client=True) == expected


@given(SCRIPT)
def test_wsproto_encodes_we_parse(script):
    expected = expected_messages(script)
    assert ours_decode(wsproto_encode(script, client=True), Role.SERVER) == expected
    assert ours_decode(wsproto_encode(script, client=False), Role.CLIENT) == expected


@pytest.mark.parametrize("code,reason", [(1000, ""), (1001, "bye"), (4000, "é" * 40), (None, None)])
def test_close_frames_both_ways(code, reason):
    w = FrameWriter(Role.CLIENT)
    frame = w.encode_close(code, reason or "") if code else w.encode_close(None)
    p = Protocol(Side.SERVER, max_size=None)
    p.receive_data(frame)
    (ev,) = [e for e in p.events_received()]
    assert ev.opcode is Opcode.CLOSE
    if code:
        assert ev.data[:2] == code.to_bytes(2, "big") and ev.data[2:].decode() == reason
    else:
        assert ev.data == b""
    p2 = Protocol(Side.SERVER, max_size=None)
    p2.send_close(code, reason) if code else p2.send_close()
    (msg,) = ours_decode(b"".join(p2.data_to_send()), Role.CLIENT)[:1]
    assert msg[0] is Kind.CLOSE


def test_large_messages_both_ways():
    payload = bytes(range(256)) * 4096    # 1 MiB
    p = Protocol(Side.CLIENT, max_size=None)
    p.send_binary(payload)
    assert ours_decode(b"".join(p.data_to_send()), Role.SERVER) == [(Kind.BINARY, payload)]
    assert websockets_decode(FrameWriter(Role.CLIENT).encode_binary(payload), Side.SERVER) == [
        (Kind.BINARY, payload)]
