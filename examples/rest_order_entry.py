"""Signed REST order entry over keep-alive, both sides built from nexus-net's codecs.

    python examples/rest_order_entry.py [--orders 2000] [--connections 2]

The "exchange" is a tiny asyncio server made of ``http.RequestReader`` (parse)
and ``http.write_response`` (build into one reused buffer). It checks each
order's HMAC-SHA256 signature and answers with JSON. The client is a
``rest.ClientPool`` whose ``RequestWriter`` signs every request through its
signer hook. Prints what happened and the round-trip percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import time

import orjson

from nexus_net import rest
from nexus_net.http import InvalidRequest, RequestReader, ResponseReader, write_response

SECRET = b"not-a-real-secret"


def signature(ts: str, method: str, target: str, body: bytes) -> str:
    return hmac.new(SECRET, ts.encode() + method.encode() + target.encode() + body, hashlib.sha256).hexdigest()


# ---- the exchange --------------------------------------------------------------------------

class Exchange(asyncio.Protocol):
    def __init__(self, book: dict[str, int]) -> None:
        self.reader = RequestReader(max_body_size=64 * 1024)
        self.out = bytearray(64 * 1024)          # every response is built here: no allocation
        self.book = book

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport               # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (req := self.reader.next()) is not None:
                self.answer(req)
        except InvalidRequest as exc:
            n = write_response(self.out, 400, [("Connection", "close")], str(exc).encode())
            self.transport.write(self.out[:n])
            self.transport.close()

    def answer(self, req) -> None:
        ts, sig = req.header("x-ts") or "", req.header("x-signature") or ""
        if not hmac.compare_digest(sig, signature(ts, req.method, req.target, req.bytes())):
            status, body = 401, b'{"error":"bad signature"}'
        else:
            order = req.json()
            self.book[order["side"]] = self.book.get(order["side"], 0) + 1
            status, body = 201, orjson.dumps({"id": sum(self.book.values()), "status": "accepted"})
        n = write_response(self.out, status, [("Content-Type", "application/json")], body)
        self.transport.write(self.out[:n])       # asyncio copies what it cannot send at once


# ---- the bot ---------------------------------------------------------------------------------

def sign(method: str, path: str, query: str, body: memoryview) -> list[tuple[str, str]]:
    ts = str(time.time_ns() // 1_000_000)
    target = path + ("?" + query if query else "")
    return [("X-TS", ts), ("X-SIGNATURE", signature(ts, method, target, bytes(body)))]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=2)
    args = ap.parse_args()

    book: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Exchange(book), "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    print(f"exchange listening on {url}")

    pool = await rest.ClientPool.connect(url, connections=args.connections)
    writers = [rest.RequestWriter("127.0.0.1", base_path="/api/v3", signer=sign,
                                  headers={"Content-Type": "application/json"}) for _ in range(args.connections)]
    readers = [ResponseReader(max_body_size=1 << 20) for _ in range(args.connections)]
    rtts: list[int] = []
    accepted = 0

    async def trader(i: int, orders: int) -> None:
        nonlocal accepted
        writer, reader = writers[i], readers[i]
        for k in range(orders):
            t0 = time.perf_counter_ns()
            async with pool.acquire(timeout=5) as conn:
                req = writer.post("/order").body_json(
                    {"symbol": "BTC-USD", "side": "buy" if k % 2 else "sell", "qty": "0.01", "px": "67012.5"}).finish()
                resp = await conn.send(req, reader)
                rtts.append(time.perf_counter_ns() - t0)
                if resp.status == 201:
                    accepted += 1
                else:
                    print(f"order refused: {resp.status} {resp.text()}")

    per = args.orders // args.connections
    t0 = time.perf_counter()
    await asyncio.gather(*(trader(i, per) for i in range(args.connections)))
    elapsed = time.perf_counter() - t0
    total = per * args.connections

    # a forged signature is refused
    async with pool.acquire() as conn:
        forged = rest.RequestWriter("127.0.0.1", base_path="/api/v3").post("/order") \
            .headers([("X-TS", "1"), ("X-SIGNATURE", "0" * 64)]).body(b'{"side":"buy"}').finish()
        refused = await conn.send(forged, readers[0])
    await pool.close()
    server.close()
    await server.wait_closed()

    rtts.sort()
    pct = lambda q: rtts[min(len(rtts) - 1, int(q * len(rtts)))] / 1000  # noqa: E731
    print(f"{accepted:,} of {total:,} signed orders accepted over {args.connections} keep-alive connections "
          f"in {elapsed:.2f}s ({total / elapsed:,.0f} orders/s); book: {book}")
    print(f"forged signature: {refused.status} {refused.json()['error']}")
    print(f"round trip p50 {pct(0.5):.1f} us, p99 {pct(0.99):.1f} us, p99.9 {pct(0.999):.1f} us")


if __name__ == "__main__":
    from nexus_net import run
    run(main())
