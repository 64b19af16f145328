"""Helpers for the transport tests: echo handlers and raw TCP peers."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from nexus_net import ws
from nexus_net.ws import handshake as hs


async def echo(conn):
    async for msg in conn:
        if msg.kind is ws.Kind.TEXT:
            await conn.send_text(msg.text())
        else:
            await conn.send_binary(msg.data)


@contextlib.asynccontextmanager
async def nexus_server(handler=echo, **kwargs):
    kwargs.setdefault("ping_interval", None)
    server = await ws.serve(handler, "127.0.0.1", 0, **kwargs)
    try:
        yield server
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)


@contextlib.asynccontextmanager
async def raw_server(handle):
    """A plain TCP server on 127.0.0.1 whose connections run handle(reader, writer)."""
    tasks = set()

    async def wrapper(reader, writer):
        task = asyncio.current_task()
        tasks.add(task)
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(wrapper, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for t in list(tasks):
            t.cancel()
        await server.wait_closed()


async def accept_handshake(reader, writer, extensions=None):
    """Answer a WebSocket upgrade on a raw stream with a valid 101
    (``extensions``: a Sec-WebSocket-Extensions value to answer with)."""
    head = await reader.readuntil(b"\r\n\r\n")
    request = hs.parse_request(head)
    writer.write(hs.build_response(request, extensions=extensions))
    await writer.drain()
    return request


@contextlib.contextmanager
def threaded_server(handler, **kwargs):
    """ws.serve(handler) on its own loop in a thread; yields the port."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = threading.Event()
    box = {}

    async def main():
        server = await ws.serve(handler, "127.0.0.1", 0, ping_interval=None, **kwargs)
        box["port"] = server.port
        started.set()
        await loop.run_in_executor(None, stop.wait)
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    try:
        assert started.wait(10)
        yield box["port"]
    finally:
        stop.set()
        thread.join(15)
        loop.close()
