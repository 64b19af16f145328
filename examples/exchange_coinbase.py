"""A Coinbase-style client (Advanced Trade): a short-lived ES256 JWT on every
REST request and on every WebSocket subscription.

    python examples/exchange_coinbase.py [--requests 5] [--updates 20]

Coinbase's API keys are EC P-256 keys: each REST request carries
``Authorization: Bearer <jwt>`` where the JWT (ES256, two minutes of
validity, a fresh nonce) names the request's ``"METHOD host/path"`` in its
``uri`` claim; a WebSocket ``subscribe`` carries a JWT without ``uri``.
Signing needs the ``cryptography`` package (``pip install
'nexus-net[examples]'``). The stand-in exchange (``nexus_net.testing``)
verifies every token with the public key, its expiry and its ``uri``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import time

import orjson

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
except ImportError:                                     # pragma: no cover - the optional extra
    raise SystemExit("this example needs the cryptography package: pip install 'nexus-net[examples]'")

from nexus_net import rest, ws
from nexus_net.testing import RestTestServer, WsTestServer

KEY_NAME = "organizations/example-org/apiKeys/example-key"
HOST = "api.coinbase.example"      # the host the JWT names (the stand-in answers on 127.0.0.1)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt(key: ec.EllipticCurvePrivateKey, uri: str | None = None) -> str:
    """An ES256 JWT as Coinbase's Advanced Trade API wants it (valid 120 s)."""
    now = int(time.time())
    header = {"alg": "ES256", "kid": KEY_NAME, "nonce": os.urandom(16).hex(), "typ": "JWT"}
    claims = {"sub": KEY_NAME, "iss": "cdp", "nbf": now, "exp": now + 120}
    if uri is not None:
        claims["uri"] = uri
    signing_input = f"{b64url(orjson.dumps(header))}.{b64url(orjson.dumps(claims))}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify(public: ec.EllipticCurvePublicKey, token: str, uri: str | None) -> str | None:
    """The stand-in's check: None if the token is good, else why not."""
    try:
        head, body, sig = token.split(".")
        raw = unb64url(sig)
        public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                      f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = orjson.loads(unb64url(body))
    except (ValueError, InvalidSignature):
        return "bad signature"
    if not claims["nbf"] - 5 <= time.time() <= claims["exp"]:
        return "expired"
    if claims.get("uri") != uri:
        return f"uri {claims.get('uri')!r} is not {uri!r}"
    return None


# ---- the stand-in exchange -------------------------------------------------------------------

class StandIn:
    def __init__(self, public: ec.EllipticCurvePublicKey, updates: int) -> None:
        self.public, self.updates = public, updates
        self.nonces: set[str] = set()
        self.rest = RestTestServer({"GET /api/v3/brokerage/accounts": self.accounts})
        self.ws = WsTestServer(self.stream)

    def authorised(self, token: str, uri: str | None) -> str | None:
        why = verify(self.public, token, uri)
        if why is None:
            nonce = orjson.loads(unb64url(token.split(".")[0]))["nonce"]
            if nonce in self.nonces:
                return "nonce reused"
            self.nonces.add(nonce)
        return why

    def accounts(self, req):
        token = (req.header("Authorization") or "").removeprefix("Bearer ")
        why = self.authorised(token, f"GET {HOST}{req.path}")
        if why:
            return 401, {"error": "unauthorized", "message": why}
        return 200, {"accounts": [{"currency": "BTC", "available_balance": {"value": "0.5"}}]}

    async def stream(self, conn: ws.Connection) -> None:
        sub = (await conn.recv()).json()
        why = self.authorised(sub.get("jwt", ""), None)
        if why:
            await conn.send_text(orjson.dumps({"type": "error", "message": why}).decode())
            await conn.close(1008, "unauthorized")
            return
        await conn.send_text(orjson.dumps({"channel": "subscriptions", "events": [
            {"subscriptions": {sub["channel"]: sub["product_ids"]}}]}).decode())
        for i in range(self.updates):
            await conn.send_text(orjson.dumps({"channel": "l2_data", "sequence_num": i, "events": [
                {"type": "update", "product_id": "BTC-USD",
                 "updates": [{"side": "bid", "price_level": f"{67000 + i}", "new_quantity": "0.1"}]}]}).decode())
        async for _ in conn:
            pass


# ---- the bot ---------------------------------------------------------------------------------

async def bot(key: ec.EllipticCurvePrivateKey, rest_url: str, ws_url: str, requests: int,
              updates: int) -> tuple[int, int, str]:
    client = await rest.connect(rest_url)
    ok = 0
    for _ in range(requests):
        path = "/api/v3/brokerage/accounts"
        resp = await client.get(path, headers={"Authorization": f"Bearer {jwt(key, f'GET {HOST}{path}')}"})
        resp.raise_for_status()
        ok += 1
    forged = await client.get("/api/v3/brokerage/accounts",
                              headers={"Authorization": f"Bearer {jwt(key, f'POST {HOST}/api/v3/brokerage/orders')}"})
    await client.close()
    got = 0
    async with ws.connect(ws_url, ping_interval=None) as conn:
        await conn.send_text(orjson.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "level2",
                                           "jwt": jwt(key)}).decode())
        assert (await conn.recv()).json()["channel"] == "subscriptions"
        async for msg in conn:
            got += 1
            if msg.json()["sequence_num"] == updates - 1:
                break
    return ok, got, f"{forged.status} {forged.json()['message']}"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--updates", type=int, default=20)
    args = ap.parse_args()
    key = ec.generate_private_key(ec.SECP256R1())
    stand_in = StandIn(key.public_key(), args.updates)
    async with stand_in.rest, stand_in.ws:
        ok, got, forged = await bot(key, stand_in.rest.url, stand_in.ws.url, args.requests, args.updates)
    print(f"{ok} REST requests, each with its own ES256 JWT: accepted; "
          f"a token for another uri: {forged}")
    print(f"level2 subscription with a JWT: {got} updates; {len(stand_in.nonces)} distinct nonces seen")


if __name__ == "__main__":
    from nexus_net import run
    run(main())
