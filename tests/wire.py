"""Hand-made RFC 6455 frames for tests, independent of nexus_net's writer."""

from __future__ import annotations

import os
import struct


def mask_bytes(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, masked: bool = False,
          key: bytes | None = None, rsv: int = 0, length: int | None = None,
          length_form: str | None = None) -> bytes:
    """One frame. ``length`` overrides the declared length; ``length_form``
    forces '7', '16' or '64' bit encoding of it."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    form = length_form or ("7" if n < 126 else "16" if n < 65536 else "64")
    mbit = 0x80 if masked else 0
    if form == "7":
        head = bytes([b0, mbit | n])
    elif form == "16":
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if masked:
        key = key if key is not None else os.urandom(4)
        return head + key + mask_bytes(payload, key)
    return head + payload
