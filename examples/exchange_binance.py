"""A Binance-style client: a combined market stream that reconnects and
resubscribes, and a user-data stream kept alive by a periodic REST call.

    python examples/exchange_binance.py [--trades 400] [--keepalive 0.2]

There is no network here, so the exchange is a local stand-in built from
nexus-net's own test servers (``nexus_net.testing``), speaking Binance's
shapes: ``{"method":"SUBSCRIBE","params":[...],"id":1}`` answered by
``{"result":null,"id":1}``; combined-stream frames
``{"stream":"btcusdt@trade","data":{...}}``; ``POST /api/v3/userDataStream``
giving a ``listenKey`` that ``PUT /api/v3/userDataStream?listenKey=...``
keeps alive (every 30 minutes on the real exchange, every ``--keepalive``
seconds here); the user-data stream at ``/ws/<listenKey>``. Half-way
through, the stand-in restarts the market connection with close code 1012,
as exchanges do for maintenance: the client reconnects, resubscribes in
``on_connect`` and carries on from the next trade.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson

from nexus_net import rest, ws
from nexus_net.testing import RestTestServer, WsTestServer

STREAMS = ["btcusdt@trade", "ethusdt@trade"]


# ---- the stand-in exchange -------------------------------------------------------------------

class StandIn:
    """A market stream that restarts once, a user-data stream, the REST API."""

    def __init__(self, trades: int) -> None:
        self.trades = trades
        self.sent = 0                 # trades pushed so far, across connections
        self.restarted = False
        self.subscriptions: list[list[str]] = []
        self.ws = WsTestServer(self.handle)
        self.rest = RestTestServer({
            "POST /api/v3/userDataStream": (200, {"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}),
            "PUT /api/v3/userDataStream": (200, {}),
        })

    async def handle(self, conn: ws.Connection) -> None:
        if conn.request_path.startswith("/ws/"):
            # the user-data stream: one execution report, then quiet
            await conn.send_text(orjson.dumps({"e": "executionReport", "s": "BTCUSDT", "X": "FILLED",
                                               "i": 4293153}).decode())
            async for _ in conn:
                pass
            return
        request = (await conn.recv()).json()
        assert request["method"] == "SUBSCRIBE"
        self.subscriptions.append(request["params"])
        await conn.send_text(orjson.dumps({"result": None, "id": request["id"]}).decode())
        while self.sent < self.trades:
            if self.sent == self.trades // 2 and not self.restarted:
                self.restarted = True
                await conn.close(1012, "service restart")      # maintenance: come back
                return
            self.sent += 1
            stream = STREAMS[self.sent % len(STREAMS)]
            await conn.send_text(orjson.dumps({"stream": stream, "data": {
                "e": "trade", "s": stream.split("@")[0].upper(), "t": self.sent,
                "p": f"{67000 + self.sent % 100:.2f}", "q": "0.00150000"}}).decode())
        async for _ in conn:                                     # the client closes
            pass

    async def __aenter__(self) -> StandIn:
        await self.ws.start()
        await self.rest.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.aclose()
        await self.rest.aclose()


# ---- the bot ---------------------------------------------------------------------------------

async def market_stream(url: str, trades: int) -> tuple[int, list[int], int]:
    ids = 0

    async def subscribe(conn: ws.Connection) -> None:
        nonlocal ids
        ids += 1
        await conn.send_text(orjson.dumps({"method": "SUBSCRIBE", "params": STREAMS, "id": ids}).decode())

    seen: list[int] = []
    feed = await ws.connect(f"{url}/stream", reconnect=True, on_connect=subscribe,
                            backoff_initial=0.05, ping_interval=None)
    async with feed:
        async for msg in feed:
            event = msg.json()
            if "result" in event:                  # the subscription's answer
                continue
            seen.append(event["data"]["t"])
            if len(seen) == trades:
                break
    return len(seen), seen, feed.reconnects


async def user_data(rest_url: str, ws_url: str, keepalive: float, rounds: int) -> tuple[str, int]:
    client = await rest.connect(rest_url)
    listen_key = (await client.post("/api/v3/userDataStream")).json()["listenKey"]

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(keepalive)
            (await client.put("/api/v3/userDataStream", params={"listenKey": listen_key})).raise_for_status()

    task = asyncio.get_running_loop().create_task(keep_alive())
    try:
        async with ws.connect(f"{ws_url}/ws/{listen_key}", ping_interval=None) as conn:
            report = (await conn.recv()).json()
            await asyncio.sleep(keepalive * rounds + keepalive / 2)   # a few keep-alive periods
    finally:
        task.cancel()
        await client.close()
    return report["X"], rounds


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trades", type=int, default=400)
    ap.add_argument("--keepalive", type=float, default=0.2, help="seconds between listenKey keep-alives")
    args = ap.parse_args()
    async with StandIn(args.trades) as exchange:
        (count, ids, reconnects), (status, _) = await asyncio.gather(
            market_stream(exchange.ws.url, args.trades),
            user_data(exchange.rest.url, exchange.ws.url, args.keepalive, 3))
        puts = sum(1 for r in exchange.rest.requests if r.method == "PUT")
        gaps = sum(1 for a, b in zip(ids, ids[1:]) if b != a + 1)
        print(f"market stream: {count} trades, ids {ids[0]}..{ids[-1]}, {gaps} gaps, "
              f"{reconnects} reconnect(s) after close code 1012")
        print(f"subscribed {len(exchange.subscriptions)} times: {exchange.subscriptions[0]}")
        print(f"user data: execution report {status}; listenKey kept alive with {puts} PUTs")


if __name__ == "__main__":
    from nexus_net import run
    run(main())
