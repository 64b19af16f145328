import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=20000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


import asyncio  # noqa: E402

import pytest  # noqa: E402


def pytest_asyncio_loop_factories(config, item):
    """Every asyncio test runs on the default loop and on uvloop."""
    factories = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories


def pytest_sessionstart(session):
    """Guards for the runs of .ci/matrix, which test an installed wheel.

    NEXUS_NET_EXPECT_INSTALLED=1: nexus_net must come from site-packages, not
    from a source tree that could shadow it (a module missing from the wheel
    must fail the run). NEXUS_NET_EXPECT_NO_UVLOOP=1: the plain-asyncio
    fallback is what runs, so uvloop must really be absent."""
    import pytest
    if os.environ.get("NEXUS_NET_EXPECT_INSTALLED") == "1":
        import nexus_net
        if "site-packages" not in nexus_net.__file__:
            pytest.exit(f"nexus_net was imported from {nexus_net.__file__}, not an installed wheel", 3)
    if os.environ.get("NEXUS_NET_EXPECT_NO_UVLOOP") == "1":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            pass
        else:
            pytest.exit("uvloop is installed but this run is meant to test the fallback without it", 3)


@pytest.fixture
async def keepalive_server():
    """aiohttp's server keeps HTTP/1.1 connections alive (pytest-httpbin's
    server and werkzeug's close every connection); it echoes the query like
    httpbin's /get."""
    from aiohttp import web

    async def get(request):
        return web.json_response({"args": dict(request.query)})

    app = web.Application()
    app.router.add_get("/get", get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    await runner.cleanup()


@pytest.fixture(scope="module")
def localhost_pki(tmp_path_factory):
    """A throw-away CA (trustme) and a certificate for localhost/127.0.0.1,
    as files: {"ca": ca.pem, "server": key + chain in one pem}."""
    trustme = pytest.importorskip("trustme")
    d = tmp_path_factory.mktemp("localhost-pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    return {"ca": str(d / "ca.pem"), "server": str(d / "server.pem")}

