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


async def client_and_server() -> None:
    from nexus_net import ws

    async def handler(conn: ws.Connection) -> None:
        async for msg in conn:
            await conn.send_binary(msg.data)

    server = await ws.serve(handler, "127.0.0.1", 0)
    async with ws.connect(f"ws://127.0.0.1:{server.port}/") as conn:
        await conn.send_text("hi")
        reply: Message | None = await conn.recv()
        await conn.ping()
        code: int | None = conn.close_code
        assert reply is None or code is None
    with ws.sync.connect(f"ws://127.0.0.1:{server.port}/") as sconn:
        sconn.send_binary(b"x")
        sreply: Message | None = sconn.recv(timeout=1.0)
        assert sreply is not None
    server.close()
    await server.wait_closed()
    nexus_net.run(asyncio_sleep())


async def asyncio_sleep() -> None:
    import asyncio
    await asyncio.sleep(0)
