"""HMAC-signed order entry over a ``rest.ClientPool``, with the one failure a
trading bot must never get wrong: a response that never came.

    python examples/exchange_orders_pool.py [--orders 60] [--connections 3] [--lose 17]

Binance-style signing: the parameters, ``timestamp`` included, are
form-encoded and signed with HMAC-SHA256 (``signature=`` appended), the key
in ``X-MBX-APIKEY``. Each order carries its own ``newClientOrderId``.

The stand-in exchange (``nexus_net.testing.RestTestServer``) accepts every
order, but for order ``--lose`` it closes the connection after acting on
it: the bot gets ``rest.OutcomeUnknown`` (bytes were sent, no response), so
it must not simply resend (that could buy twice). It asks the exchange for
the order by its client id instead, and finds it. ``rest.RequestNotSent``
(nothing reached the wire) would be safe to resend as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import time
from urllib.parse import urlencode

from nexus_net import rest
from nexus_net.testing import Drop, RestTestServer

API_KEY, SECRET = "example-key", b"example-secret"


def signed(params: dict[str, str]) -> dict[str, str]:
    params = {**params, "timestamp": str(time.time_ns() // 1_000_000)}
    params["signature"] = hmac.new(SECRET, urlencode(params).encode(), hashlib.sha256).hexdigest()
    return params


# ---- the stand-in exchange -------------------------------------------------------------------

class StandIn:
    def __init__(self, lose: int) -> None:
        self.lose = lose
        self.orders: dict[str, dict[str, str]] = {}
        self.server = RestTestServer({"POST /api/v3/order": self.place, "GET /api/v3/order": self.query})

    def place(self, req):
        form = req.form()
        signature = form.pop("signature", "")
        good = hmac.compare_digest(signature, hmac.new(SECRET, urlencode(form).encode(), hashlib.sha256).hexdigest())
        if not good or req.header("X-MBX-APIKEY") != API_KEY:
            return 401, {"code": -1022, "msg": "Signature for this request is not valid."}
        cid = form["newClientOrderId"]
        if cid in self.orders:
            return 400, {"code": -2010, "msg": "Duplicate order sent."}
        self.orders[cid] = {"clientOrderId": cid, "status": "FILLED", "side": form["side"]}
        if len(self.orders) == self.lose:
            return Drop()                       # acted on, then the connection is gone
        return 200, {"orderId": len(self.orders), **self.orders[cid]}

    def query(self, req):
        order = self.orders.get(req.query.get("origClientOrderId", ""))
        return (200, order) if order else (400, {"code": -2013, "msg": "Order does not exist."})


# ---- the bot ---------------------------------------------------------------------------------

async def place(pool: rest.ClientPool, cid: str, side: str, stats: dict[str, int]) -> None:
    params = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.001", "newClientOrderId": cid}
    headers = {"X-MBX-APIKEY": API_KEY}
    for _ in range(3):
        try:
            async with pool.acquire(timeout=5) as conn:
                resp = await conn.post("/api/v3/order", form=signed(params), headers=headers)
            resp.raise_for_status()
            stats["placed"] += 1
            return
        except rest.RequestNotSent:
            stats["resent"] += 1               # nothing reached the exchange: resend as it is
        except rest.OutcomeUnknown:
            stats["unknown"] += 1              # it may have been placed: ask, never resend blindly
            async with pool.acquire(timeout=5) as conn:
                found = await conn.get("/api/v3/order", params=signed({"symbol": "BTCUSDT", "origClientOrderId": cid}),
                                       headers=headers)
            if found.ok:
                stats["reconciled"] += 1
                return
            # not there: placing it again is safe now
    raise RuntimeError(f"order {cid} could not be placed")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=60)
    ap.add_argument("--connections", type=int, default=3)
    ap.add_argument("--lose", type=int, default=17, help="the order whose response the exchange loses")
    args = ap.parse_args()
    stand_in = StandIn(args.lose)
    async with stand_in.server:
        pool = await rest.ClientPool.connect(stand_in.server.url, connections=args.connections)
        stats = dict(placed=0, unknown=0, reconciled=0, resent=0)
        t0 = time.perf_counter()
        for batch in range(0, args.orders, args.connections):
            await asyncio.gather(*(place(pool, f"bot-{i}", "BUY" if i % 2 else "SELL", stats)
                                   for i in range(batch, min(batch + args.connections, args.orders))))
        elapsed = time.perf_counter() - t0
        await pool.close()
    print(f"{len(stand_in.orders)} orders on the exchange for {args.orders} sent, no duplicate; "
          f"{stats['placed']} confirmed at once, {stats['unknown']} outcome unknown, "
          f"{stats['reconciled']} reconciled by client order id ({elapsed * 1000:.0f} ms)")


if __name__ == "__main__":
    from nexus_net import run
    run(main())
