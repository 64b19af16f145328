"""An HTX-style market feed: every frame is gzip-compressed binary JSON,
and the server pings at the application level.

    python examples/exchange_htx.py [--ticks 300] [--ping-every 50]

HTX (Huobi) sends BINARY frames whose payload is gzip; the application
decompresses them (this is not permessage-deflate: the WebSocket layer sees
opaque bytes). Its heartbeat is ``{"ping": <ms>}``, which the client must
answer with ``{"pong": <same ms>}`` or be disconnected. The client here
decompresses straight from the message's zero-copy view
(``zlib.decompress(msg.data, wbits=31)``), answers pings inline and counts
ticks. The exchange is a local stand-in built on ``nexus_net.testing``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import time
import zlib

import orjson

from nexus_net import ws
from nexus_net.testing import WsTestServer


def gz(obj: object) -> bytes:
    return gzip.compress(orjson.dumps(obj), mtime=0)


class StandIn:
    def __init__(self, ticks: int, ping_every: int) -> None:
        self.ticks, self.ping_every = ticks, ping_every
        self.pongs: list[int] = []
        self.pings: list[int] = []
        self.server = WsTestServer(self.handle)

    async def handle(self, conn: ws.Connection) -> None:
        sub = (await conn.recv()).json()          # subscriptions are plain text JSON
        assert sub["sub"] == "market.btcusdt.ticker"
        await conn.send_binary(gz({"id": sub["id"], "status": "ok", "subbed": sub["sub"]}))

        async def read_pongs() -> None:
            async for msg in conn:
                self.pongs.append(msg.json()["pong"])

        reader = asyncio.get_running_loop().create_task(read_pongs())
        try:
            for i in range(1, self.ticks + 1):
                if i % self.ping_every == 0:
                    ts = time.time_ns() // 1_000_000 + i
                    self.pings.append(ts)
                    await conn.send_binary(gz({"ping": ts}))
                await conn.send_binary(gz({"ch": "market.btcusdt.ticker", "ts": i, "tick": {
                    "bid": 67000 + i % 100 / 10, "bidSize": 0.5, "ask": 67000.5 + i % 100 / 10, "askSize": 0.7}}))
            await reader
        finally:
            reader.cancel()


async def bot(url: str, ticks: int) -> tuple[int, int, int]:
    seen = answered = 0
    wire = 0
    async with ws.connect(url, ping_interval=None) as conn:
        await conn.send_text('{"sub":"market.btcusdt.ticker","id":"id1"}')
        async for msg in conn:
            wire += len(msg)
            event = orjson.loads(zlib.decompress(msg.data, wbits=31))   # gzip, from the zero-copy view
            if "ping" in event:
                await conn.send_text(orjson.dumps({"pong": event["ping"]}).decode())
                answered += 1
            elif "tick" in event:
                seen += 1
                if seen == ticks:
                    break
    return seen, answered, wire


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=300)
    ap.add_argument("--ping-every", type=int, default=50)
    args = ap.parse_args()
    stand_in = StandIn(args.ticks, args.ping_every)
    async with stand_in.server:
        seen, answered, wire = await bot(stand_in.server.url, args.ticks)
    ok = stand_in.pongs == stand_in.pings[:len(stand_in.pongs)] and len(stand_in.pongs) == answered
    print(f"{seen} gzip ticks decoded ({wire:,} bytes on the wire); {answered} application pings answered, "
          f"{'every pong echoing its ping' if ok else 'PONG MISMATCH'}")


if __name__ == "__main__":
    from nexus_net import run
    run(main())
