"""Hand-built RFC 6455 wire streams for the in-memory codec benchmark.

Pure Python (stdlib + orjson only). Nothing here depends on nexus-net or on
any peer WebSocket library, so the bytes fed to every parser under test are
identical and independently constructed.

Public API
----------
make_stream(payload, opcode, count, masked) -> bytes
chunks(stream, size=65536) -> list[bytes]
decode_one(frame) -> (opcode, payload)
decode_all(stream) -> list[(opcode, payload)]
binary_payload(size, seed=...) -> bytes
text_payload(size) -> bytes
BIN_40, BIN_128, BIN_512, TEXT_128, QUOTE_77 (bytes) and QUOTE_77_OBJ (dict)
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG
"""

from __future__ import annotations

import os
import random
import struct

import orjson

__all__ = [
    "OP_CONT",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "DEFAULT_COUNT",
    "CHUNK_SIZE",
    "QUOTE_77",
    "QUOTE_77_OBJ",
    "BIN_40",
    "BIN_128",
    "BIN_512",
    "TEXT_128",
    "binary_payload",
    "text_payload",
    "mask_payload",
    "frame_header",
    "make_frame",
    "make_stream",
    "chunks",
    "decode_one",
    "decode_one_ex",
    "decode_all",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

DEFAULT_COUNT = 10_000
CHUNK_SIZE = 65536

# --------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------

#: A realistic top-of-book market quote, exactly 77 bytes of JSON.
QUOTE_77: bytes = (
    b'{"s":"BTC-USD","b":"67012.50","a":"67013.00","bq":"1.25","aq":"0.480","t":17}'
)
assert len(QUOTE_77) == 77, len(QUOTE_77)
#: What ``orjson.loads(QUOTE_77)`` must return.
QUOTE_77_OBJ: dict = orjson.loads(QUOTE_77)


def binary_payload(size: int, seed: int = 0x6E657875) -> bytes:
    """Deterministic pseudo-random binary payload of ``size`` bytes.

    Covers all 256 byte values (including bytes that are invalid UTF-8), so a
    parser that accidentally decodes binary frames as text would fail.
    """
    return random.Random(seed + size).randbytes(size)


_TEXT_ALPHABET = (
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_"
)


def text_payload(size: int) -> bytes:
    """Deterministic printable-ASCII payload of exactly ``size`` bytes."""
    rnd = random.Random(0x74657874 + size)
    return bytes(rnd.choice(_TEXT_ALPHABET) for _ in range(size))


BIN_40: bytes = binary_payload(40)
BIN_128: bytes = binary_payload(128)
BIN_512: bytes = binary_payload(512)
TEXT_128: bytes = text_payload(128)

assert len(BIN_40) == 40 and len(BIN_128) == 128 and len(BIN_512) == 512
assert len(TEXT_128) == 128 and TEXT_128.isascii()


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------

_BIG = "big"


def mask_payload(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` (RFC 6455 §5.3).

    The operation is an involution: applying it twice returns the input.
    """
    n = len(payload)
    if n == 0:
        return b""
    if len(key) != 4:
        raise ValueError("masking key must be 4 bytes")
    # Big-int XOR is much faster than a per-byte Python loop.
    full_key = (key * ((n + 3) // 4))[:n]
    return (int.from_bytes(payload, _BIG) ^ int.from_bytes(full_key, _BIG)).to_bytes(
        n, _BIG
    )


def frame_header(opcode: int, length: int, masked: bool, fin: bool = True) -> bytes:
    """Frame header without the masking key."""
    b0 = (0x80 if fin else 0) | (opcode & 0x0F)
    mbit = 0x80 if masked else 0
    if length < 126:
        return struct.pack("!BB", b0, mbit | length)
    if length < 65536:
        return struct.pack("!BBH", b0, mbit | 126, length)
    return struct.pack("!BBQ", b0, mbit | 127, length)


def make_frame(
    payload: bytes, opcode: int, masked: bool, key: bytes | None = None
) -> bytes:
    """One FIN frame. When ``masked`` and ``key`` is None, a random key is used."""
    header = frame_header(opcode, len(payload), masked)
    if not masked:
        return header + payload
    if key is None:
        key = os.urandom(4)
    return header + key + mask_payload(payload, key)


def make_stream(payload: bytes, opcode: int, count: int, masked: bool) -> bytes:
    """``count`` back-to-back single-frame FIN messages carrying ``payload``.

    When ``masked`` (a client->server stream), every frame gets its own
    random 4-byte key from ``os.urandom`` and a correctly masked payload.
    """
    payload = bytes(payload)
    header = frame_header(opcode, len(payload), masked)
    if not masked:
        return (header + payload) * count
    keys = os.urandom(4 * count)
    parts = []
    append = parts.append
    for i in range(0, 4 * count, 4):
        key = keys[i : i + 4]
        append(header)
        append(key)
        append(mask_payload(payload, key))
    return b"".join(parts)


def chunks(stream: bytes, size: int = CHUNK_SIZE) -> list[bytes]:
    """Split ``stream`` into ``size``-byte chunks (what a socket read returns).

    Chunk boundaries deliberately ignore frame boundaries, so frames straddle
    chunks exactly like they do on a real connection. ``bytes`` objects are
    returned (not memoryviews) because that is what ``data_received`` gets
    from asyncio and what every peer accepts without an extra conversion.
    """
    if size <= 0:
        raise ValueError("size must be positive")
    return [stream[i : i + size] for i in range(0, len(stream), size)]


# --------------------------------------------------------------------------
# Decoding (reference, for verifying encoders)
# --------------------------------------------------------------------------


def _decode_at(buf: bytes, pos: int) -> tuple[int, bytes, int, bool, bool]:
    """Decode the frame at ``pos``; return (opcode, payload, next_pos, fin, masked)."""
    if len(buf) - pos < 2:
        raise ValueError("truncated frame header")
    b0 = buf[pos]
    b1 = buf[pos + 1]
    pos += 2
    fin = bool(b0 & 0x80)
    if b0 & 0x70:
        raise ValueError("reserved bits set")
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack_from("!H", buf, pos)
        pos += 2
    elif length == 127:
        (length,) = struct.unpack_from("!Q", buf, pos)
        pos += 8
    key = None
    if masked:
        key = bytes(buf[pos : pos + 4])
        if len(key) != 4:
            raise ValueError("truncated masking key")
        pos += 4
    end = pos + length
    if end > len(buf):
        raise ValueError(f"truncated payload: need {length}, have {len(buf) - pos}")
    payload = bytes(buf[pos:end])
    if masked:
        payload = mask_payload(payload, key)  # type: ignore[arg-type]
    return opcode, payload, end, fin, masked


def decode_one(frame: bytes) -> tuple[int, bytes]:
    """Decode exactly one complete FIN frame, masked or not.

    Accepts anything bytes-like (bytes, bytearray, memoryview) or a list of
    such pieces (e.g. websockets' ``data_to_send()`` result), which is joined
    first. Raises ``ValueError`` if the input is not exactly one FIN frame.
    """
    if isinstance(frame, (list, tuple)):
        frame = b"".join(frame)
    buf = bytes(frame)
    opcode, payload, end, fin, _masked = _decode_at(buf, 0)
    if not fin:
        raise ValueError("frame is not FIN")
    if end != len(buf):
        raise ValueError(f"{len(buf) - end} trailing bytes after the frame")
    return opcode, payload


def decode_one_ex(frame: bytes) -> tuple[int, bytes, bool]:
    """Like :func:`decode_one` but also returns whether the frame was masked."""
    if isinstance(frame, (list, tuple)):
        frame = b"".join(frame)
    buf = bytes(frame)
    opcode, payload, end, fin, masked = _decode_at(buf, 0)
    if not fin or end != len(buf):
        raise ValueError("not exactly one FIN frame")
    return opcode, payload, masked


def decode_all(stream: bytes) -> list[tuple[int, bytes]]:
    """Decode a whole stream of complete frames into (opcode, payload) pairs."""
    buf = bytes(stream)
    out = []
    pos = 0
    while pos < len(buf):
        opcode, payload, pos, _fin, _masked = _decode_at(buf, pos)
        out.append((opcode, payload))
    return out


if __name__ == "__main__":
    for masked in (False, True):
        for p, op in ((BIN_40, OP_BINARY), (BIN_512, OP_BINARY), (TEXT_128, OP_TEXT),
                      (QUOTE_77, OP_TEXT), (b"", OP_BINARY), (b"x" * 70000, OP_BINARY)):
            s = make_stream(p, op, 50, masked)
            frames = decode_all(s)
            assert len(frames) == 50 and all(f == (op, p) for f in frames)
            assert decode_one(make_frame(p, op, masked)) == (op, p)
            assert b"".join(chunks(s, 1000)) == s
    s = make_stream(BIN_40, OP_BINARY, 3, True)
    assert len(set(s[2 + i * 46 : 6 + i * 46] for i in range(3))) == 3  # distinct keys
    print("_frames self-test OK; QUOTE_77 =", QUOTE_77.decode())
