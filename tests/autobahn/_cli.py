"""Shared bits of the client-under-test / server-under-test scripts.

Protocol of Autobahn's fuzzingserver (it tests a client):
``/getCaseCount`` sends one text message with the number of cases; then
``/runCase?case=N&agent=NAME`` for N = 1..count, echoing every text and binary
message until the server closes; finally ``/updateReports?agent=NAME`` makes it
write the reports.
"""

from __future__ import annotations

import argparse
import sys
import time
from urllib.parse import quote

#: Autobahn's 9.x cases send messages of up to 16 MiB; leave room.
MAX_MESSAGE_SIZE = 1 << 25


def client_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", required=True, help="fuzzingserver URL, e.g. ws://127.0.0.1:9001")
    p.add_argument("--agent", required=True, help="agent name in the reports")
    p.add_argument("--case-timeout", type=float, default=120.0,
                   help="give up on one case after this many seconds (default 120)")
    p.add_argument("--first", type=int, default=1, help="first case number (1-based)")
    p.add_argument("--last", type=int, default=0, help="last case number (default: all)")
    p.add_argument("--ca", help="CA file to trust for a wss:// URL")
    p.add_argument("--proxy", help="reach the fuzzingserver through this proxy URL "
                   "(http://, https://, socks5://, socks5h://, socks4a://)")
    p.add_argument("--proxy-ca", help="CA file to trust for an https:// proxy")
    p.add_argument("--no-compression", action="store_true", help="do not offer permessage-deflate")
    args = p.parse_args()
    global TLS, PROXY, PROXY_TLS, COMPRESSION
    COMPRESSION = not args.no_compression
    from nexus_net.tls import TlsConfig
    if args.ca:
        TLS = TlsConfig(ca_file=args.ca)
    if args.proxy_ca:
        PROXY_TLS = TlsConfig(ca_file=args.proxy_ca)
    PROXY = args.proxy
    return args


COMPRESSION = True  # offer / accept permessage-deflate (--no-compression: not)
TLS = None     # the TlsConfig for wss:// runs, set by client_args()
PROXY = None   # the proxy URL of a run through a proxy, set by client_args()
PROXY_TLS = None  # the TlsConfig for an https:// proxy


def conn_options(**kw: object) -> dict[str, object]:
    """Keyword arguments for ws.connect / ws.sync.connect in these scripts.
    Without --proxy the scripts never read the environment's proxy settings.
    permessage-deflate is offered (cases 12.* and 13.*; the other cases'
    fuzzingserver declines it) unless --no-compression."""
    if COMPRESSION:
        kw["compression"] = "deflate"
    if TLS is not None:
        kw["tls"] = TLS
    kw["proxy"] = PROXY
    if PROXY_TLS is not None:
        kw["proxy_tls"] = PROXY_TLS
    return kw


def server_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=9001, help="0 picks a free port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--cert", help="serve wss:// with this certificate chain (PEM)")
    p.add_argument("--key", help="... and this private key (PEM)")
    p.add_argument("--no-compression", action="store_true", help="decline permessage-deflate")
    return p.parse_args()


def count_url(base: str) -> str:
    return f"{base.rstrip('/')}/getCaseCount"


def case_url(base: str, n: int, agent: str) -> str:
    return f"{base.rstrip('/')}/runCase?case={n}&agent={quote(agent)}"


def report_url(base: str, agent: str) -> str:
    return f"{base.rstrip('/')}/updateReports?agent={quote(agent)}"


def case_range(args: argparse.Namespace, count: int) -> range:
    last = min(args.last, count) if args.last else count
    return range(max(1, args.first), last + 1)


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def ready(port: int) -> None:
    """The line harness.running_server() waits for."""
    print(f"READY {port}", flush=True)
