"""Server under test: a ``websockets`` asyncio echo server (reference).

    python tests/autobahn/server_websockets.py --port 9001     # prints "READY 9001"
    python tests/autobahn/server_websockets.py --port 0        # picks a free port

Compression is off, as in nexus-net, so sections 12 and 13 come out UNIMPLEMENTED.
"""

from __future__ import annotations

import asyncio
import signal

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from _cli import MAX_MESSAGE_SIZE, log, ready, server_args


async def echo(conn: ServerConnection) -> None:
    try:
        async for msg in conn:
            await conn.send(msg)
    except ConnectionClosed:
        pass


async def main() -> None:
    args = server_args(__doc__.splitlines()[0])
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
    async with serve(echo, args.host, args.port, max_size=MAX_MESSAGE_SIZE, compression=None,
                     ping_interval=None, close_timeout=10) as server:
        port = server.sockets[0].getsockname()[1]
        log(f"websockets echo server on {args.host}:{port}")
        ready(port)
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == "__main__":
    asyncio.run(main())
