"""Opening handshake helpers against websockets' sans-IO client and server."""

import base64

import pytest

from nexus_net.ws import InvalidHandshakeRequest, InvalidHandshakeResponse
from nexus_net.ws import handshake as hs

wsclient = pytest.importorskip("websockets.client")
wsserver = pytest.importorskip("websockets.server")
from websockets.protocol import State  # noqa: E402
from websockets.uri import parse_uri  # noqa: E402


def test_accept_key_matches_rfc_example():
    # RFC 6455 section 1.3
    assert hs.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_generated_keys_are_random_16_bytes():
    keys = {hs.generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(base64.b64decode(k)) == 16 for k in keys)


def test_our_request_accepted_by_websockets_server_and_its_answer_by_us():
    request, key = hs.build_request("127.0.0.1", "/ws/v1?x=1", port=9001,
                                    subprotocols=["chat", "json"], origin="http://o.example",
                                    extra_headers=[("X-Api-Key", "abc")])
    server = wsserver.ServerProtocol(subprotocols=["json"])
    server.receive_data(request)
    (req,) = server.events_received()
    assert req.path == "/ws/v1?x=1" and req.headers["Host"] == "127.0.0.1:9001"
    assert req.headers["X-Api-Key"] == "abc"
    server.send_response(server.accept(req))
    response = b"".join(server.data_to_send())
    end = hs.find_head_end(response)
    assert end == len(response)
    result = hs.check_response(response[:end], key, ["chat", "json"])
    assert result.status == 101 and result.subprotocol == "json"


def test_websockets_client_request_parsed_and_answered_by_us():
    client = wsclient.ClientProtocol(parse_uri("ws://example.com:8080/feed"), subprotocols=["v2"])
    client.send_request(client.connect())
    request = b"".join(client.data_to_send())
    parsed = hs.parse_request(request)
    assert parsed.path == "/feed" and parsed.subprotocols == ["v2"]
    assert parsed.header("host") == "example.com:8080"
    client.receive_data(hs.build_response(parsed, subprotocol="v2"))
    assert client.handshake_exc is None
    assert client.state is State.OPEN and client.subprotocol == "v2"


def test_ipv6_host_and_default_port():
    request, _ = hs.build_request("::1", "/", port=80)
    assert b"Host: [::1]\r\n" in request
    request, _ = hs.build_request("h", "/", port=443, secure=True)
    assert b"Host: h\r\n" in request


def test_header_injection_refused():
    with pytest.raises(ValueError):
        hs.build_request("h", "/", extra_headers=[("X", "a\r\nEvil: 1")])


def response_for(key, **overrides):
    headers = {"Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Accept": hs.accept_key(key)}
    headers.update(overrides)
    status = headers.pop("status", "101 Switching Protocols")
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("overrides,match", [
    ({"Sec-WebSocket-Accept": "wrong"}, "wrong Sec-WebSocket-Accept"),
    ({"Upgrade": None}, "Upgrade: websocket"),
    ({"Connection": "keep-alive"}, "Connection: Upgrade"),
    ({"status": "403 Forbidden"}, "403"),
    ({"Sec-WebSocket-Extensions": "permessage-deflate"}, "extension"),
    ({"Sec-WebSocket-Protocol": "other"}, "subprotocol"),
    ({"status": "abc"}, "malformed status line"),
])
def test_bad_responses(overrides, match):
    key = hs.generate_key()
    with pytest.raises(InvalidHandshakeResponse, match=match) as info:
        hs.check_response(response_for(key, **overrides), key, ["chat"])
    if "status" in overrides and overrides["status"][0].isdigit():
        assert info.value.status == 403
        assert ("Upgrade", "websocket") in info.value.headers


def test_case_insensitive_tokens():
    key = hs.generate_key()
    hs.check_response(response_for(key, Upgrade="WebSocket", Connection="keep-alive, UPGRADE"), key)


def request_with(**overrides):
    headers = {"Host": "h", "Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": hs.generate_key(), "Sec-WebSocket-Version": "13"}
    line = overrides.pop("line", "GET / HTTP/1.1")
    headers.update(overrides)
    lines = [line] + [f"{k}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("overrides,status,match", [
    ({"line": "POST / HTTP/1.1"}, 405, "POST"),
    ({"line": "GET / HTTP/1.0"}, 400, "HTTP/1.0"),
    ({"line": "GARBAGE"}, 400, "malformed"),
    ({"Host": None}, 400, "Host"),
    ({"Upgrade": None}, 426, "Upgrade"),
    ({"Sec-WebSocket-Version": "8"}, 426, "13"),
    ({"Sec-WebSocket-Key": "c2hvcnQ="}, 400, "16 bytes"),
    ({"Sec-WebSocket-Key": None}, 400, "exactly one"),
])
def test_bad_requests(overrides, status, match):
    with pytest.raises(InvalidHandshakeRequest, match=match) as info:
        hs.parse_request(request_with(**overrides))
    assert info.value.status == status


def test_header_flood_and_oversize_heads_refused():
    flood = request_with(**{f"X-{i}": "v" for i in range(200)})
    with pytest.raises(InvalidHandshakeRequest, match="more than"):
        hs.parse_request(flood)
    assert hs.find_head_end(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 20000) == -1


def test_rejection_is_complete_http():
    raw = hs.build_rejection(426, "use websocket")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 426 Upgrade Required")
    assert b"Content-Length: 13" in head and body == b"use websocket"
