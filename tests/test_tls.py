"""TLS (wss://) over real TLS on 127.0.0.1 with trustme certificates."""

import asyncio
import logging
import os
import ssl
import threading

import pytest

from nexus_net import ws
from nexus_net.tls import (TlsCertificateError, TlsCodec, TlsConfig, TlsConfigError,
                           TlsHandshakeError)
from wsutil import echo

trustme = pytest.importorskip("trustme")
NOPING = dict(ping_interval=None)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("client.example")
    other_ca = trustme.CA()
    files = {}
    for name, blob in [("ca", ca.cert_pem), ("server", server.private_key_and_cert_chain_pem),
                       ("client", client.private_key_and_cert_chain_pem),
                       ("other_ca", other_ca.cert_pem),
                       ("server_key", server.private_key_pem),
                       ("client_key", client.private_key_pem)]:
        path = d / f"{name}.pem"
        blob.write_to_path(str(path))
        files[name] = str(path)
    # a certificate whose key belongs to another certificate
    (d / "server_cert_only.pem").write_bytes(b"".join(b.bytes() for b in server.cert_chain_pems))
    files["server_cert_only"] = str(d / "server_cert_only.pem")
    files["ca_obj"] = ca
    return files


def server_config(pki, **kw):
    return TlsConfig.server(pki["server"], pki["server"], **kw)


def client_config(pki, **kw):
    return TlsConfig(ca_file=pki["ca"], **kw)


async def start(pki, handler=echo, **kw):
    return await ws.serve(handler, "127.0.0.1", 0, tls=kw.pop("tls", None) or server_config(pki),
                          **NOPING, **kw)


async def test_round_trips_over_tls_with_our_server(pki):
    server = await start(pki, max_message_size=1 << 25)
    try:
        async with ws.connect(f"wss://localhost:{server.port}/", tls=client_config(pki),
                              max_message_size=1 << 25, **NOPING) as conn:
            assert conn.tls_version == "TLSv1.3"
            await conn.send_text("secret ✓")
            assert (await conn.recv()).text() == "secret ✓"
            await conn.send_fragments([b"fr", b"ag", b"ments"])
            assert (await conn.recv()).bytes() == b"fragments"
            big = os.urandom(16 * 1024 * 1024)
            await conn.send_binary(big)
            assert (await asyncio.wait_for(conn.recv(), 30)).bytes() == big
        assert conn.close_code == 1000
    finally:
        server.close()
        await server.wait_closed()


async def test_client_against_websockets_tls_server(pki):
    from websockets.asyncio.server import serve

    async def handler(conn):
        async for message in conn:
            if message == "fragments":
                await conn.send(["a", "b", "c"])
            else:
                await conn.send(message)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki["server"])
    async with serve(handler, "127.0.0.1", 0, ssl=ctx, max_size=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        conn = await ws.connect(f"wss://127.0.0.1:{port}/", tls=client_config(pki),
                                max_message_size=1 << 25, **NOPING)
        await conn.send_text("fragments")
        assert (await conn.recv()).text() == "abc"
        payload = os.urandom(16 * 1024 * 1024)
        await conn.send_binary(payload)
        assert (await asyncio.wait_for(conn.recv(), 30)).bytes() == payload
        # close_notify is exchanged, so the server ends TCP at once (no close_timeout wait)
        await asyncio.wait_for(conn.close(), 2)
        assert conn.closed and conn.close_code == 1000


async def test_websockets_client_against_our_tls_server(pki):
    from websockets.asyncio.client import connect
    server = await start(pki)
    try:
        ctx = ssl.create_default_context(cafile=pki["ca"])
        async with connect(f"wss://localhost:{server.port}/", ssl=ctx) as conn:
            await conn.send("hi over tls")
            assert await conn.recv() == "hi over tls"
    finally:
        server.close()
        await server.wait_closed()


async def test_hostname_mismatch_is_a_clear_certificate_error(pki):
    server = await start(pki)
    try:
        with pytest.raises(TlsCertificateError, match="[Hh]ostname mismatch|doesn't match|IP address mismatch"):
            await ws.connect(f"wss://localhost:{server.port}/",
                             tls=client_config(pki, sni="wrong.example"), **NOPING)
    finally:
        server.close()
        await server.wait_closed()


async def test_untrusted_ca_fails(pki):
    server = await start(pki)
    try:
        with pytest.raises(TlsCertificateError, match="unable to get local issuer|self.signed|unknown ca"):
            await ws.connect(f"wss://localhost:{server.port}/",
                             tls=TlsConfig(ca_file=pki["other_ca"]), **NOPING)
    finally:
        server.close()
        await server.wait_closed()


async def test_danger_no_verify_connects_and_warns(pki, caplog):
    import nexus_net.tls as tls_module
    tls_module._warned_no_verify = False
    server = await start(pki)
    try:
        with caplog.at_level(logging.WARNING, logger="nexus_net.tls"):
            config = TlsConfig.danger_no_verify()
        assert "DISABLED" in caplog.text
        async with ws.connect(f"wss://127.0.0.1:{server.port}/", tls=config, **NOPING) as conn:
            await conn.send_text("unverified")
            assert (await conn.recv()).text() == "unverified"
    finally:
        server.close()
        await server.wait_closed()


async def test_tls13_only_client_against_tls12_only_server(pki):
    server = await start(pki, tls=server_config(pki, max_version="1.2"))
    try:
        with pytest.raises(TlsHandshakeError, match="handshake failed"):
            await ws.connect(f"wss://localhost:{server.port}/",
                             tls=client_config(pki, tls13_only=True), **NOPING)
        async with ws.connect(f"wss://localhost:{server.port}/", tls=client_config(pki), **NOPING) as conn:
            assert conn.tls_version == "TLSv1.2"
            await conn.send_text("tls 1.2 still works")
            assert (await conn.recv()).text() == "tls 1.2 still works"
    finally:
        server.close()
        await server.wait_closed()


async def test_mutual_tls_accepted_and_refused(pki):
    server = await start(pki, tls=server_config(pki, client_ca_file=pki["ca"]))
    try:
        with_cert = client_config(pki, cert_file=pki["client"], key_file=pki["client"])
        async with ws.connect(f"wss://localhost:{server.port}/", tls=with_cert, **NOPING) as conn:
            await conn.send_text("mutual")
            assert (await conn.recv()).text() == "mutual"
        # without a client certificate the server refuses: with TLS 1.3 the
        # client learns it on its first read, never with a hang
        with pytest.raises((TlsHandshakeError, ws.ConnectionClosedError, ConnectionError, ws.HandshakeError)):
            conn2 = await asyncio.wait_for(
                ws.connect(f"wss://localhost:{server.port}/", tls=client_config(pki), **NOPING), 10)
            await asyncio.wait_for(conn2.recv(), 5)
    finally:
        server.close()
        await server.wait_closed()


async def test_tcp_close_without_close_notify_mid_message_is_1006(pki):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki["server"])
    from nexus_net.ws import handshake as hs
    from wire import frame

    async def peer(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(hs.build_response(hs.parse_request(head)))
        writer.write(frame(0x2, b"whole") + frame(0x2, b"x" * 1000)[:300])   # then a cut frame
        await writer.drain()
        writer.transport.abort()          # TCP ends, no close_notify

    server = await asyncio.start_server(peer, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        conn = await ws.connect(f"wss://localhost:{port}/", tls=client_config(pki), **NOPING)
        assert (await asyncio.wait_for(conn.recv(), 5)).bytes() == b"whole"
        with pytest.raises(ws.ConnectionClosedError) as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.code == 1006
    finally:
        server.close()
        await server.wait_closed()


def test_records_split_at_every_byte_give_the_same_messages(pki):
    client = TlsCodec(client_config(pki), False, "localhost")
    srv = TlsCodec(server_config(pki), True)
    for _ in range(10):
        a = client.do_handshake()
        out = client.pending_output()
        if out:
            srv.feed_ciphertext(out)
        b = srv.do_handshake()
        out = srv.pending_output()
        if out:
            client.feed_ciphertext(out)
        if a and b:
            break
    assert client.handshake_done and srv.handshake_done
    writer = ws.FrameWriter(ws.Role.SERVER)
    frames = [writer.encode_text("first"), writer.encode_binary(os.urandom(40000)),
              writer.encode_text("frag", fin=False), writer.encode_ping(b"p"),
              writer.encode_continuation("ment", fin=True)]
    ciphertext = b"".join(srv.encrypt(f) for f in frames)
    reference = ws.FrameReader(ws.Role.CLIENT)
    reference.feed(b"".join(frames))
    expected = [(m.kind, m.bytes()) for m in reference]
    reader = ws.FrameReader(ws.Role.CLIENT)
    got = []
    for i in range(len(ciphertext)):
        client.feed_ciphertext(ciphertext[i:i + 1])
        client.read_into(reader.read_buffer)
        got.extend((m.kind, m.bytes()) for m in reader)
    assert got == expected


def test_blocking_client_over_tls(pki):
    box = {}
    ready = threading.Event()

    def run():
        async def main():
            server = await start(pki)
            box["port"] = server.port
            ready.set()
            while not box.get("stop"):
                await asyncio.sleep(0.02)
            server.close()
            await server.wait_closed()
        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        with ws.sync.connect(f"wss://localhost:{box['port']}/", tls=client_config(pki)) as conn:
            for size in (0, 1000, 70000, 1 << 20):
                data = os.urandom(size)
                conn.send_binary(data)
                assert conn.recv(timeout=10).bytes() == data
        assert conn.close_code == 1000
        with pytest.raises(TlsCertificateError):
            ws.sync.connect(f"wss://localhost:{box['port']}/", tls=TlsConfig(ca_file=pki["other_ca"]))
    finally:
        box["stop"] = True
        thread.join(10)


def test_config_errors_are_clear(pki, tmp_path):
    with pytest.raises(TlsConfigError, match="does not exist"):
        TlsConfig(ca_file=tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    with pytest.raises(TlsConfigError, match="PEM"):
        TlsConfig(ca_file=bad)
    with pytest.raises(TlsConfigError, match="does not match"):
        TlsConfig.server(pki["server_cert_only"], pki["client_key"])
    with pytest.raises(TlsConfigError, match="version"):
        TlsConfig(min_version="1.0")
    with pytest.raises(ValueError, match="wss://"):
        ws.connect("ws://127.0.0.1:1/", tls=TlsConfig(ca_file=pki["ca"]))
    with pytest.raises(ValueError, match="server config"):
        ws.Server(echo, tls=client_config(pki), conn_kwargs={})
    built = (TlsConfig.builder().ca_file(pki["ca"]).client_cert(pki["client"], pki["client"])
             .tls13_only().alpn(["http/1.1"]).build())
    assert built.context.minimum_version == ssl.TLSVersion.TLSv1_3


async def test_long_session_survives_failed_handshakes_in_the_same_thread(pki):
    """OpenSSL's error queue is per thread: failed handshakes on other
    connections must never turn this session's reads into errors
    (CPython issue 148594)."""
    server = await start(pki)
    try:
        conn = await ws.connect(f"wss://localhost:{server.port}/", tls=client_config(pki), **NOPING)
        untrusted = TlsConfig(ca_file=pki["other_ca"])
        failures = 0
        for round_ in range(40):
            with pytest.raises(TlsCertificateError):
                await ws.connect(f"wss://localhost:{server.port}/", tls=untrusted, **NOPING)
            failures += 1
            for i in range(250):                       # 10,000 round trips in all
                payload = f"{round_}:{i}".encode() * (1 + i % 50)
                await conn.send_binary(payload)
                assert (await conn.recv()).bytes() == payload
        assert failures == 40
        await conn.close()
        assert conn.close_code == 1000
    finally:
        server.close()
        await server.wait_closed()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_key_update_mid_stream_keeps_working(pki):
    """OpenSSL's s_server as the peer: its stdin is what it sends, and the
    line "k" (or "K": update and request one back) makes it send a TLS 1.3
    KeyUpdate between our frames."""
    import re
    import shutil
    from nexus_net.ws import handshake as hs
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command-line tool is not installed")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        "openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", pki["server"],
        "-key", pki["server"], "-tls1_3", "-naccept", "1", "-msg",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    seen = b""

    async def read_until(pattern):
        nonlocal seen
        while not re.search(pattern, seen):
            chunk = await asyncio.wait_for(proc.stdout.read(4096), 10)
            if not chunk:
                raise AssertionError(f"s_server ended; output: {seen[-2000:]!r}")
            seen += chunk
        return re.search(pattern, seen)

    async def say(data):
        proc.stdin.write(data)
        await proc.stdin.drain()
        await asyncio.sleep(0.2)        # one stdin read per chunk on s_server's side

    try:
        await read_until(rb"ACCEPT")
        connecting = asyncio.ensure_future(
            ws.connect(f"wss://localhost:{port}/", tls=client_config(pki), **NOPING))
        key = (await read_until(rb"Sec-WebSocket-Key: (\S+)\r\n")).group(1).decode()
        await read_until(rb"Sec-WebSocket-Version: 13\r\n\r\n")
        await say(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Accept: {hs.accept_key(key)}\r\n\r\n".encode())
        conn = await asyncio.wait_for(connecting, 10)
        await say(b"\x81\x06before")
        assert (await asyncio.wait_for(conn.recv(), 5)).text() == "before"
        for command, text in ((b"k\n", b"after-k"), (b"K\n", b"after-K")):
            await say(command)                              # KeyUpdate from the server
            await say(bytes([0x81, len(text)]) + text)      # sent under the new keys
            assert (await asyncio.wait_for(conn.recv(), 5)).text() == text.decode()
            await conn.send_text("client still sends")      # our side updated too after "K"
        await say(b"\x81\x03end")
        assert (await asyncio.wait_for(conn.recv(), 5)).text() == "end"
        await asyncio.sleep(0.2)
        try:
            seen += await asyncio.wait_for(proc.stdout.read(65536), 1)
        except asyncio.TimeoutError:
            pass
        assert b"ERROR" not in seen
        # -msg logs each TLS message: two KeyUpdates sent by s_server, and ours
        # in answer to the one that requested an update ("K")
        assert len(re.findall(rb">>> TLS 1.3, Handshake \[length 0005\], KeyUpdate", seen)) == 2, seen[-3000:]
        assert re.search(rb"<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate", seen), seen[-3000:]
        conn.transport_.abort()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
