"""The pytest plugin (entry point ``pytest11``: ``nexus_net``): fixtures
``nexus_ws_server``, ``nexus_rest_server`` and ``nexus_tls``. Each test gets
its own servers, closed (and checked for handler failures) at its end; they
run on whatever loop pytest-asyncio gives the test (asyncio or uvloop)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from nexus_net.testing.rest_server import RestTestServer
from nexus_net.testing.tls import TestTls
from nexus_net.testing.ws_server import WsTestServer

try:
    import pytest_asyncio
    _async_fixture: Any = pytest_asyncio.fixture
except ImportError:                       # pragma: no cover - the async fixtures need it
    _async_fixture = pytest.fixture


@pytest.fixture
def nexus_tls() -> Iterator[TestTls]:
    """A trustme CA with ``server_config`` / ``client_config`` (TlsConfigs)."""
    tls = TestTls()
    yield tls
    tls.cleanup()


def _tls_of(request: pytest.FixtureRequest, tls: Any) -> TestTls | None:
    if tls is True:
        return request.getfixturevalue("nexus_tls")   # type: ignore[no-any-return]
    return tls or None


@_async_fixture
async def nexus_ws_server(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """``server = await nexus_ws_server(handler=None, *, tls=False, **serve_kwargs)``:
    a ``WsTestServer`` (echo by default; ``tls=True`` serves wss:// with
    ``nexus_tls``'s certificate, trust it with ``nexus_tls.client_config``)."""
    servers: list[WsTestServer] = []

    async def factory(handler: Any = None, *, tls: Any = False, **serve_kwargs: Any) -> WsTestServer:
        server = await WsTestServer(handler, tls=_tls_of(request, tls), **serve_kwargs).start()
        servers.append(server)
        return server
    yield factory
    for server in servers:
        await server.aclose()


@_async_fixture
async def nexus_rest_server(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """``server = await nexus_rest_server({"POST /api/v3/order": (200, {"orderId": 1})}, tls=False)``:
    a ``RestTestServer``."""
    servers: list[RestTestServer] = []

    async def factory(routes: Any = None, *, tls: Any = False, **kwargs: Any) -> RestTestServer:
        server = await RestTestServer(routes, tls=_tls_of(request, tls), **kwargs).start()
        servers.append(server)
        return server
    yield factory
    for server in servers:
        await server.aclose()
