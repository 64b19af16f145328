"""Client under test: nexus-net's asyncio client.

    python tests/autobahn/client_nexus_async.py --url ws://127.0.0.1:9001 --agent nexus-async

Echoes every message of every case. Protocol errors are handled inside the
library (it closes with the right code, then ``recv()`` returns None or raises
``ws.ConnectionClosedError``); the loop only moves on to the next case.
Exit status 1 when some case raised anything else (the run still completes).
"""

from __future__ import annotations

import asyncio
import sys
import traceback

import nexus_net
from nexus_net import ws

import _cli  # noqa: E402
from _cli import MAX_MESSAGE_SIZE, case_range, case_url, client_args, count_url, log, report_url


async def echo(conn: "ws.Connection") -> None:
    async for msg in conn:
        if msg.kind is ws.Kind.TEXT:
            await conn.send_text(msg.text())
        else:
            await conn.send_binary(msg.data)


async def one_case(url: str) -> None:
    conn = await ws.connect(url, **_cli.conn_options(max_message_size=MAX_MESSAGE_SIZE))
    try:
        await echo(conn)
    finally:
        await conn.close()


async def run_case(url: str, timeout: float) -> bool:
    try:
        await asyncio.wait_for(one_case(url), timeout)
    except ws.ConnectionClosed:
        pass  # the peer or the library closed the connection: case over
    except asyncio.TimeoutError:
        log(f"{url}: case timed out after {timeout}s")
        return False
    except (OSError, ws.HandshakeError) as exc:
        log(f"{url}: {exc!r}")
    except Exception:
        log(f"{url}: unexpected error\n{traceback.format_exc()}")
        return False
    return True


async def main() -> int:
    args = client_args(__doc__.splitlines()[0])
    async with await ws.connect(count_url(args.url), **_cli.conn_options()) as conn:
        msg = await conn.recv()
        assert msg is not None, "no case count received"
        count = int(msg.text())
    log(f"{count} cases")
    ok = True
    for n in case_range(args, count):
        ok &= await run_case(case_url(args.url, n, args.agent), args.case_timeout)
    async with await ws.connect(report_url(args.url, args.agent), **_cli.conn_options()) as conn:
        while await conn.recv() is not None:  # wait for the server's close
            pass
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(nexus_net.run(main()))
