"""Client under test: the ``websockets`` asyncio client (reference).

    python tests/autobahn/client_websockets.py --url ws://127.0.0.1:9001 --agent websockets

Compression is switched off so that, like nexus-net, sections 12 and 13
(permessage-deflate) come out UNIMPLEMENTED.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from _cli import MAX_MESSAGE_SIZE, case_range, case_url, client_args, count_url, log, report_url

OPTS: dict[str, Any] = {"max_size": MAX_MESSAGE_SIZE, "compression": None, "ping_interval": None,
        "open_timeout": 30, "close_timeout": 10}


async def one_case(url: str) -> None:
    async with connect(url, **OPTS) as conn:
        async for msg in conn:
            await conn.send(msg)


async def run_case(url: str, timeout: float) -> bool:
    try:
        await asyncio.wait_for(one_case(url), timeout)
    except ConnectionClosed:
        pass  # protocol errors end here, after websockets closed the connection
    except asyncio.TimeoutError:
        log(f"{url}: case timed out after {timeout}s")
        return False
    except (OSError, InvalidHandshake) as exc:
        log(f"{url}: {exc!r}")
    except Exception:
        log(f"{url}: unexpected error\n{traceback.format_exc()}")
        return False
    return True


async def main() -> int:
    args = client_args(__doc__.splitlines()[0])
    async with connect(count_url(args.url), **OPTS) as conn:
        count = int(await conn.recv())
    log(f"{count} cases")
    ok = True
    for n in case_range(args, count):
        ok &= await run_case(case_url(args.url, n, args.agent), args.case_timeout)
    async with connect(report_url(args.url, args.agent), **OPTS) as conn:
        await conn.wait_closed()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
