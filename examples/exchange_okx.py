"""An OKX-style private stream: a signed login, text ``ping``/``pong``
heartbeats, and order updates.

    python examples/exchange_okx.py [--updates 5] [--gap 0.3] [--heartbeat 0.1]

OKX ignores WebSocket pings: a client sends the text ``ping`` when the feed
has been quiet, and gets ``pong`` back (``ws.Heartbeat.text``: sent after
``interval`` seconds of silence, the answer taken out of the stream, no
answer within ``timeout`` closes the connection with 1011). Logging in signs
``timestamp + "GET" + "/users/self/verify"`` with HMAC-SHA256, base64.

The exchange is a local stand-in (``nexus_net.testing.WsTestServer``): it
checks the signature, answers ``ping``, and sends an order update every
``--gap`` seconds, so the client's heartbeat fires between them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import time

import orjson

from nexus_net import ws
from nexus_net.testing import WsTestServer

API_KEY, SECRET, PASSPHRASE = "example-key", b"example-secret", "example-passphrase"


def sign(timestamp: str) -> str:
    return base64.b64encode(hmac.new(SECRET, f"{timestamp}GET/users/self/verify".encode(),
                                     hashlib.sha256).digest()).decode()


def login_message() -> str:
    ts = str(int(time.time()))
    return orjson.dumps({"op": "login", "args": [{"apiKey": API_KEY, "passphrase": PASSPHRASE,
                                                   "timestamp": ts, "sign": sign(ts)}]}).decode()


# ---- the stand-in exchange -------------------------------------------------------------------

class StandIn:
    def __init__(self, updates: int, gap: float) -> None:
        self.updates, self.gap = updates, gap
        self.pings = 0
        self.logins: list[str] = []
        self.server = WsTestServer(self.handle)

    async def handle(self, conn: ws.Connection) -> None:
        async def answer_pings_and_requests() -> None:
            async for msg in conn:
                text = msg.text()
                if text == "ping":
                    self.pings += 1
                    await conn.send_text("pong")
                    continue
                request = orjson.loads(text)
                if request["op"] == "login":
                    arg = request["args"][0]
                    good = hmac.compare_digest(arg["sign"], sign(arg["timestamp"]))
                    self.logins.append("ok" if good else "bad signature")
                    await conn.send_text(orjson.dumps(
                        {"event": "login", "code": "0" if good else "60009", "msg": ""}).decode())
                elif request["op"] == "subscribe":
                    await conn.send_text(orjson.dumps({"event": "subscribe", "arg": request["args"][0]}).decode())
                    subscribed.set()

        subscribed = asyncio.Event()
        reader = asyncio.get_running_loop().create_task(answer_pings_and_requests())
        try:
            await subscribed.wait()
            for i in range(self.updates):
                await asyncio.sleep(self.gap)         # a quiet feed: the client's heartbeat fires
                await conn.send_text(orjson.dumps({"arg": {"channel": "orders"}, "data": [
                    {"ordId": str(3000 + i), "state": "filled", "fillPx": "67012.5"}]}).decode())
            await reader
        finally:
            reader.cancel()


# ---- the bot ---------------------------------------------------------------------------------

async def bot(url: str, updates: int, heartbeat: float) -> tuple[str, list[str], int, float | None]:
    async with ws.connect(url, heartbeat=ws.Heartbeat.text("ping", "pong", interval=heartbeat, timeout=5.0),
                          ping_interval=None) as conn:
        await conn.send_text(login_message())
        login = (await conn.recv()).json()
        if login["code"] != "0":
            raise SystemExit(f"login refused: {login}")
        await conn.send_text('{"op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}')
        assert (await conn.recv()).json()["event"] == "subscribe"
        filled = []
        async for msg in conn:                       # never sees a "pong": the heartbeat takes it
            filled.append(msg.json()["data"][0]["ordId"])
            if len(filled) == updates:
                break
        return login["event"], filled, conn.heartbeat_answers, conn.heartbeat_rtt


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--updates", type=int, default=5)
    ap.add_argument("--gap", type=float, default=0.3, help="seconds between the stand-in's updates")
    ap.add_argument("--heartbeat", type=float, default=0.1, help="the client's heartbeat interval")
    args = ap.parse_args()
    stand_in = StandIn(args.updates, args.gap)
    async with stand_in.server:
        event, filled, answers, rtt = await bot(stand_in.server.url, args.updates, args.heartbeat)
    print(f"{event}: {stand_in.logins[0]}; order updates: {', '.join(filled)}")
    print(f"heartbeats: {stand_in.pings} pings sent while the feed was quiet, {answers} pongs taken out of "
          f"the stream, last round trip {rtt * 1e6:.0f} us" if rtt else "no heartbeat round trip")


if __name__ == "__main__":
    from nexus_net import run
    run(main())
