"""Sans-IO without asyncio: a ``selectors`` loop driving FrameReader/FrameWriter.

The codec never touches the socket: this loop moves bytes between a
non-blocking socket and the codec, and decides what to do with each message.

    python examples/selectors_client.py [ws://host:port/path] [--messages 1000]

Without a URL it starts a nexus-net echo server in a background thread.
"""

from __future__ import annotations

import argparse
import asyncio
import selectors
import socket
import threading
import time

from nexus_net.ws import FrameReader, FrameWriter, Kind, ProtocolError, Role
from nexus_net.ws import handshake as hs
from nexus_net.ws.url import parse_url


def start_local_echo_server() -> str:
    from nexus_net import ws
    ready = threading.Event()
    box: dict[str, int] = {}

    async def echo(conn: ws.Connection) -> None:
        async for msg in conn:
            await conn.send(msg.text() if msg.kind is Kind.TEXT else msg.data)

    async def main() -> None:
        server = await ws.serve(echo, "127.0.0.1", 0, ping_interval=None)
        box["port"] = server.port
        ready.set()
        await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait(5)
    return f"ws://127.0.0.1:{box['port']}/"


def run(url: str, messages: int) -> int:
    target = parse_url(url)
    sock = socket.create_connection((target.host, target.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # Opening handshake: blocking, with the pure functions of nexus_net.ws.handshake.
    request, key = hs.build_request(target.host, target.resource, port=target.port)
    sock.sendall(request)
    reader, writer = FrameReader(Role.CLIENT), FrameWriter(Role.CLIENT)
    while (end := reader.peek(1 << 16).find(b"\r\n\r\n")) < 0:
        n = sock.recv_into(reader.buffer())
        if n == 0:
            raise ConnectionError("server closed during the handshake")
        reader.advance(n)
    head = reader.peek(end + 4)
    reader.skip(end + 4)                     # what follows the head is already frames
    hs.check_response(head, key)

    # The event loop: one selector, one outgoing buffer.
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    outgoing = bytearray()
    for i in range(messages):
        outgoing += writer.encode_text(f'{{"n":{i}}}')
    outgoing += writer.encode_ping(b"are you there")
    echoed = 0
    closing = False
    t0 = time.perf_counter()
    while True:
        sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if outgoing else 0))
        for _key, events in sel.select(timeout=5):
            if events & selectors.EVENT_WRITE:
                sent = sock.send(outgoing)
                del outgoing[:sent]
            if events & selectors.EVENT_READ:
                n = sock.recv_into(reader.buffer())
                if n == 0:
                    print("server closed the TCP connection")
                    sel.close()
                    sock.close()
                    return echoed
                reader.advance(n)
                try:
                    for msg in reader:
                        if msg.kind is Kind.TEXT:
                            assert msg.json()["n"] == echoed
                            echoed += 1
                        elif msg.kind is Kind.PING:
                            outgoing += writer.encode_pong(msg)
                        elif msg.kind is Kind.PONG:
                            print(f"pong: {msg.bytes()!r}")
                        elif msg.kind is Kind.CLOSE:
                            print(f"close handshake done: {msg.close_code} {msg.close_reason!r}")
                            sel.close()
                            sock.close()
                            return echoed
                except ProtocolError as exc:
                    print(f"protocol error: {exc}; closing with {exc.close_code}")
                    sock.setblocking(True)
                    sock.sendall(writer.encode_close(exc.close_code))
                    sock.close()
                    return echoed
        if echoed == messages and not closing:
            elapsed = time.perf_counter() - t0
            print(f"{echoed} messages echoed in {elapsed * 1e3:.1f} ms")
            outgoing += writer.encode_close(1000, "done")
            closing = True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url", nargs="?")
    ap.add_argument("--messages", type=int, default=1000)
    args = ap.parse_args()
    url = args.url or start_local_echo_server()
    echoed = run(url, args.messages)
    print(f"done: {echoed}/{args.messages} echoed")


if __name__ == "__main__":
    main()
