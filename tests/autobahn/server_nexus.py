"""Server under test: nexus-net's asyncio server, echoing every message.

    python tests/autobahn/server_nexus.py --port 9001     # prints "READY 9001"
    python tests/autobahn/server_nexus.py --port 0        # picks a free port
    python tests/autobahn/server_nexus.py --port 0 --cert c.pem --key k.pem   # wss://
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import traceback

import nexus_net
from nexus_net import ws
from nexus_net.tls import TlsConfig

from _cli import MAX_MESSAGE_SIZE, log, ready, server_args


async def handler(conn: "ws.Connection") -> None:
    try:
        async for msg in conn:
            if msg.kind is ws.Kind.TEXT:
                await conn.send_text(msg.text())
            else:
                await conn.send_binary(msg.data)
    except ws.ConnectionClosed:
        pass
    except Exception:
        log(f"handler: unexpected error\n{traceback.format_exc()}")
        raise


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def main() -> None:
    args = server_args(__doc__.splitlines()[0])
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.cancel)

    # With --port 0 pick the port here rather than asking the server object
    # for it; retry if another process grabs it in between.
    for attempt in range(5):
        port = args.port or _free_port(args.host)
        try:
            tls = TlsConfig.server(args.cert, args.key) if args.cert else None
            server = await ws.serve(handler, args.host, port, max_message_size=MAX_MESSAGE_SIZE, tls=tls,
                                    compression=None if args.no_compression else "deflate")
            break
        except OSError as exc:
            if args.port or exc.errno != errno.EADDRINUSE or attempt == 4:
                raise
    async with server:
        log(f"nexus-net echo server on {args.host}:{port}")
        ready(port)
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == "__main__":
    nexus_net.run(main())
