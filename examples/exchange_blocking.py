"""The blocking clients in a plain script: no asyncio in the bot's code.

    python examples/exchange_blocking.py [--quotes 500]

``rest.sync.connect`` (keep-alive HTTP/1.1 over a blocking socket) asks the
server time and places a signed order; ``ws.sync.connect`` subscribes to a
quote stream and reads it with a timeout. The stand-in exchange
(``nexus_net.testing``) runs in a background thread with its own event
loop, as a real exchange runs elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import threading
import time
from urllib.parse import urlencode

import orjson

from nexus_net import rest, ws
from nexus_net.testing import RestTestServer, WsTestServer

SECRET = b"example-secret"


def stand_in(quotes: int, ready: threading.Event, stop: threading.Event, urls: dict[str, str]) -> None:
    async def quotes_handler(conn: ws.Connection) -> None:
        assert (await conn.recv()).json() == {"op": "subscribe", "channel": "quotes"}
        for i in range(quotes):
            await conn.send_text(orjson.dumps({"seq": i, "bid": 67000 + i % 50 / 10, "ask": 67000.5}).decode())
        await conn.close(1000, "end of stream")

    def order(req):
        form = req.form()
        sig = form.pop("signature", "")
        ok = hmac.compare_digest(sig, hmac.new(SECRET, urlencode(form).encode(), hashlib.sha256).hexdigest())
        return (200, {"status": "FILLED", "side": form["side"]}) if ok else (401, {"msg": "bad signature"})

    async def main() -> None:
        async with WsTestServer(quotes_handler) as wss, RestTestServer({
                "GET /api/v3/time": lambda req: (200, {"serverTime": time.time_ns() // 1_000_000}),
                "POST /api/v3/order": order}) as api:
            urls.update(ws=wss.url, rest=api.url)
            ready.set()
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(main())


def bot(urls: dict[str, str], quotes: int) -> None:
    with rest.sync.connect(urls["rest"]) as api:
        server_time = api.get("/api/v3/time").json()["serverTime"]
        params = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.001", "timestamp": str(server_time)}
        params["signature"] = hmac.new(SECRET, urlencode(params).encode(), hashlib.sha256).hexdigest()
        filled = api.post("/api/v3/order", form=params)
        filled.raise_for_status()
        print(f"server time {server_time}, clock offset {time.time_ns() // 1_000_000 - server_time} ms; "
              f"order {filled.json()['status']}")

    seqs = []
    with ws.sync.connect(urls["ws"], ping_interval=None) as conn:
        conn.send_text('{"op":"subscribe","channel":"quotes"}')
        while (msg := conn.recv(timeout=10)) is not None:
            seqs.append(msg.json()["seq"])
        print(f"{len(seqs)} quotes, in order: {seqs == list(range(quotes))}; "
              f"closed by the server: {conn.close_code} {conn.close_reason!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quotes", type=int, default=500)
    args = ap.parse_args()
    ready, stop, urls = threading.Event(), threading.Event(), {}
    thread = threading.Thread(target=stand_in, args=(args.quotes, ready, stop, urls), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise SystemExit("the stand-in exchange did not start")
    try:
        bot(urls, args.quotes)
    finally:
        stop.set()
        thread.join(10)


if __name__ == "__main__":
    main()
