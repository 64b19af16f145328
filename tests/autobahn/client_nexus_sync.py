"""Client under test: nexus-net's blocking client (``ws.sync``).

    python tests/autobahn/client_nexus_sync.py --url ws://127.0.0.1:9001 --agent nexus-sync

Echoes every message of every case. Protocol errors are handled inside the
library (it closes with the right code, then ``recv()`` returns None or raises
``ws.ConnectionClosedError``); the loop only moves on to the next case.
``--case-timeout`` bounds each single ``recv()``.
Exit status 1 when some case raised anything else (the run still completes).
"""

from __future__ import annotations

import sys
import traceback

from nexus_net import ws

import _cli  # noqa: E402
from _cli import MAX_MESSAGE_SIZE, case_range, case_url, client_args, count_url, log, report_url


def run_case(url: str, timeout: float) -> bool:
    try:
        conn = ws.sync.connect(url, **_cli.conn_options(max_message_size=MAX_MESSAGE_SIZE))
    except (OSError, ws.HandshakeError) as exc:
        log(f"{url}: {exc!r}")
        return True
    try:
        while (msg := conn.recv(timeout=timeout)) is not None:
            if msg.kind is ws.Kind.TEXT:
                conn.send_text(msg.text())
            else:
                conn.send_binary(msg.data)
    except ws.ConnectionClosed:
        pass  # the peer or the library closed the connection: case over
    except TimeoutError:
        log(f"{url}: no message for {timeout}s, giving up on this case")
        return False
    except Exception:
        log(f"{url}: unexpected error\n{traceback.format_exc()}")
        return False
    finally:
        try:
            conn.close()
        except ws.ConnectionClosed:
            pass
    return True


def main() -> int:
    args = client_args(__doc__.splitlines()[0])
    conn = ws.sync.connect(count_url(args.url), **_cli.conn_options())
    try:
        msg = conn.recv(timeout=30)
        assert msg is not None, "no case count received"
        count = int(msg.text())
    finally:
        conn.close()
    log(f"{count} cases")
    ok = True
    for n in case_range(args, count):
        ok &= run_case(case_url(args.url, n, args.agent), args.case_timeout)
    conn = ws.sync.connect(report_url(args.url, args.agent), **_cli.conn_options())
    try:
        while conn.recv(timeout=120) is not None:  # wait for the server's close
            pass
    except ws.ConnectionClosed:
        pass
    finally:
        conn.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
