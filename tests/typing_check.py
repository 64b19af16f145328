"""Uses the public API the way a user would; checked by ``mypy --strict``
(see test_typing.py). Not collected as a test by itself."""

from __future__ import annotations

from typing import Any

import nexus_net
from nexus_net import ReadBuf, WriteBuf
from nexus_net.ws import FrameReader, FrameWriter, Kind, Message, ProtocolError, Role, handshake, pair


def parse(stream: bytes) -> list[tuple[Kind, bytes]]:
    reader, _ = pair(Role.CLIENT)
    reader.feed(stream)
    out: list[tuple[Kind, bytes]] = []
    msg: Message | None = reader.next()
    while msg is not None:
        out.append((msg.kind, msg.bytes()))
        msg = reader.next()
    for m in reader:
        view: memoryview = m.data
        out.append((m.kind, bytes(view)))
    return out


def encode(writer: FrameWriter, buf: WriteBuf) -> int:
    frame: bytes = writer.encode_text("hi")
    n: int = writer.encode_binary(frame, buf)
    n += writer.encode_close(1000, "bye", bytearray(64))
    return n


def quote(msg: Message) -> Any:
    if msg.kind is Kind.TEXT:
        return msg.json()
    code: int | None = msg.close_code
    return code


def zero_copy(reader: FrameReader, data: bytes) -> None:
    view = reader.buffer(len(data))
    view[: len(data)] = data
    reader.advance(len(data))


def errors(reader: FrameReader) -> int:
    try:
        reader.next()
    except ProtocolError as exc:
        return exc.close_code
    return 1000


def handshakes() -> str:
    request, key = handshake.build_request("127.0.0.1", "/", port=9001)
    assert isinstance(request, bytes)
    rb = ReadBuf(1024)
    rb.feed(request)
    return key + nexus_net.__version__ + str(len(rb))
