"""The sans-IO codecs on trio: a WebSocket server and client with no asyncio at all.

    python examples/sansio_trio.py [--messages 1000]

nexus-net's codecs never touch a socket: ``ws.handshake`` builds and checks
the HTTP upgrade, ``ws.Session`` (a ``FrameReader`` + ``FrameWriter`` with
the rules for pings and closing) turns bytes into messages and back. Here
trio owns every socket: the server and the client below are a few lines of
trio each around the same codecs ``ws.connect`` / ``ws.serve`` use on
asyncio. Needs ``trio`` (``pip install trio``).
"""

from __future__ import annotations

import argparse

import trio

from nexus_net import ws
from nexus_net.ws import handshake


async def read_head(stream: trio.SocketStream, session: ws.Session) -> bytes:
    """Read until the end of the HTTP head; bytes after it stay in the reader."""
    reader = session.reader
    while True:
        pending = reader.peek(handshake.MAX_HEAD_BYTES + 4)
        end = handshake.find_head_end(pending)
        if end >= 0:
            reader.skip(end)
            return pending[:end]
        data = await stream.receive_some(65536)
        if not data:
            raise ConnectionError("peer closed during the handshake")
        reader.feed(data)


async def messages(stream: trio.SocketStream, session: ws.Session):
    """Messages as they come; pongs and close frames answered on the way."""
    while True:
        msg = session.next()
        out = session.data_to_send()
        if out:
            await stream.send_all(out)
        if msg is not None:
            yield msg
            continue
        if session.closed_for_reading:
            return
        data = await stream.receive_some(65536)
        if not data:
            session.mark_lost()
            return
        session.reader.feed(data)


async def serve_one(stream: trio.SocketStream) -> None:
    session = ws.Session(ws.Role.SERVER)
    request = handshake.parse_request(await read_head(stream, session))
    await stream.send_all(handshake.build_response(request))
    async for msg in messages(stream, session):               # echo
        frame = (session.writer.encode_text(msg.text()) if msg.kind is ws.Kind.TEXT
                 else session.writer.encode_binary(msg.data))
        await stream.send_all(frame)
    await stream.aclose()


async def client(port: int, count: int) -> tuple[int, int | None]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    session = ws.Session(ws.Role.CLIENT)
    request, key = handshake.build_request("127.0.0.1", "/", port=port)
    await stream.send_all(request)
    handshake.check_response(await read_head(stream, session), key)
    echoed = 0
    feed = messages(stream, session)
    for i in range(count):
        await stream.send_all(session.writer.encode_text(f"quote {i}"))
        msg = await feed.__anext__()
        assert msg.text() == f"quote {i}"
        echoed += 1
    session.start_close(1000, "done")
    await stream.send_all(session.data_to_send())
    async for _ in feed:                                      # until the server's close frame
        pass
    await stream.aclose()
    return echoed, session.close_code


async def main(count: int) -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, serve_one, 0)
        port = listeners[0].socket.getsockname()[1]
        echoed, code = await client(port, count)
        nursery.cancel_scope.cancel()
    print(f"trio {trio.__version__}: {echoed} messages echoed through the sans-IO codecs, closed with {code}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000)
    trio.run(main, ap.parse_args().messages)
