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


async def rest_usage() -> None:
    from nexus_net import rest
    from nexus_net.http import Response, ResponseReader

    writer = rest.RequestWriter("127.0.0.1", port=8080, secure=False, base_path="/api")
    reader = ResponseReader(max_body_size=1 << 20)
    req: rest.Request = writer.post("/order").header("X-KEY", "k").body_json({"q": 1}).finish()
    conn = await rest.connect("http://127.0.0.1:8080")
    resp: Response = await conn.send(req, reader)
    status: int = resp.status
    ctype: str | None = resp.header("content-type")
    await conn.close()
    pool = await rest.ClientPool.connect("http://127.0.0.1:8080", connections=2)
    async with pool.acquire(timeout=1.0) as client:
        r2: Response = await client.get("/x", params={"a": 1})
        assert r2.status == status or ctype is None
    await pool.close()
    with rest.sync.connect("http://127.0.0.1:8080") as sconn:
        r3: Response = sconn.post("/y", json={"b": 2})
        assert r3.status


def http_codecs() -> None:
    from nexus_net.http import (BufferTooSmall, ChunkedDecoder, IncomingRequest, RequestReader, write_chunk,
                                write_request, write_response)

    buf = bytearray(1024)
    n: int = write_request(buf, "POST", "/order", [("Host", "h"), (b"X-KEY", b"k")], b"{}")
    rr = RequestReader(max_body_size=1 << 16)
    rr.feed(memoryview(buf)[:n])
    req: IncomingRequest | None = rr.next()
    if req is not None:
        method: str = req.method
        target: str = req.target
        length: int | None = req.content_length
        assert method and target and length is not None and req.expects_continue is False
    try:
        n = write_response(buf, 200, [("Transfer-Encoding", "chunked")], reason="OK")
        n += write_chunk(memoryview(buf)[n:], b"data")
    except BufferTooSmall as exc:
        needed: int = exc.needed
        assert needed
    dec = ChunkedDecoder(max_body_size=1 << 20)
    used: int = dec.feed(b"4\r\ndata\r\n0\r\n\r\n")
    body: memoryview = dec.body
    assert used and dec.finished and body.nbytes == 4 and dec.trailers() == []
