"""Test servers for bots and services written with nexus-net, and the pytest
plugin that hands them out (``nexus_ws_server``, ``nexus_rest_server``,
``nexus_tls``; registered through the ``pytest11`` entry point).

    async def test_my_bot_resubscribes(nexus_ws_server):
        server = await nexus_ws_server()
        ...

Everything here also works without pytest: ``await WsTestServer().start()``.
See docs/testing.md.
"""

from __future__ import annotations

from nexus_net.testing.rest_server import Delay, Drop, RecordedRequest, RestTestServer, Stall
from nexus_net.testing.tls import TestTls
from nexus_net.testing.ws_server import WsTestServer, close, drop, expect, recv, send, sleep

__all__ = ["Delay", "Drop", "RecordedRequest", "RestTestServer", "Stall", "TestTls", "WsTestServer",
           "close", "drop", "expect", "recv", "send", "sleep"]
