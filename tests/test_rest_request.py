"""RequestWriter: what we write, h11 (an independent parser) reads back exactly."""

import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexus_net.rest import RequestWriter

h11 = pytest.importorskip("h11")


def h11_parse(raw: bytes):
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    request = conn.next_event()
    assert isinstance(request, h11.Request), request
    body = b""
    while True:
        ev = conn.next_event()
        if isinstance(ev, h11.Data):
            body += bytes(ev.data)
        elif isinstance(ev, h11.EndOfMessage):
            break
        else:
            raise AssertionError(f"unexpected {ev!r}")
    return request, body


def test_order_entry_request_round_trips_through_h11():
    writer = RequestWriter("api.exchange.example", base_path="/api/v3",
                           headers={"Accept": "application/json"})
    req = (writer.post("/order").query("symbol", "BTC-USD").header("X-KEY", "k1")
           .header("Content-Type", "application/json").body_json({"side": "buy", "qty": "0.5"}).finish())
    parsed, body = h11_parse(bytes(req))
    assert parsed.method == b"POST"
    assert parsed.target == b"/api/v3/order?symbol=BTC-USD"
    assert list(parsed.headers)[:2] == [(b"host", b"api.exchange.example"), (b"accept", b"application/json")]
    assert (b"x-key", b"k1") in parsed.headers
    assert (b"content-length", str(len(body)).encode()) in parsed.headers
    assert body == b'{"side":"buy","qty":"0.5"}'
    assert (req.method, req.target) == ("POST", "/api/v3/order?symbol=BTC-USD")


token = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"), min_size=1, max_size=20)
value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.strip)


@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
       path=st.lists(token, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
       query=st.lists(st.tuples(st.text(max_size=10), st.text(max_size=20)), max_size=4),
       headers=st.lists(st.tuples(token.filter(lambda t: t.lower() not in ("host", "content-length",
                                                                             "transfer-encoding")),
                                  value), max_size=6),
       body=st.binary(max_size=3000))
def test_random_requests_parse_identically_in_h11(method, path, query, headers, body):
    writer = RequestWriter("h.example", port=8443, headroom=64)      # small headroom: the move path too
    b = writer.request(method, path)
    for k, v in query:
        b.query(k, v)
    for k, v in headers:
        b.header(k, v)
    if method in ("POST", "PUT", "PATCH") or body:
        b.body(body)
    req = b.finish()
    wire = bytes(req)
    # the bulk path writes exactly the same bytes
    b = writer.request(method, path)
    for k, v in query:
        b.query(k, v)
    b.headers(headers)
    if method in ("POST", "PUT", "PATCH") or body:
        b.body(body)
    assert bytes(b.finish()) == wire
    parsed, got = h11_parse(wire)
    assert parsed.method.decode() == method
    target = parsed.target.decode()
    assert urlsplit(target).path == path
    assert parse_qsl(urlsplit(target).query, keep_blank_values=True) == query
    assert parsed.headers[0] == (b"host", b"h.example:8443")
    sent = [(k.lower().encode(), v.encode()) for k, v in headers]
    assert [h for h in parsed.headers if h[0] not in (b"host", b"content-length")] == sent
    assert got == body


def test_body_variants():
    writer = RequestWriter("h")
    chunks = [b"part1-", b"part2-", bytearray(b"part3")]
    req = writer.put("/x").body_writer(lambda sink: [sink.write(c) for c in chunks]).finish()
    assert h11_parse(bytes(req))[1] == b"part1-part2-part3"

    def fill(view):
        view[:] = b"Z" * len(view)
    req = writer.patch("/x").body_fixed(7, fill).finish()
    assert h11_parse(bytes(req))[1] == b"ZZZZZZZ"
    req = writer.post("/empty").finish()
    assert b"Content-Length: 0\r\n" in bytes(req)
    req = writer.get("/plain").finish()
    assert b"Content-Length" not in bytes(req)


@pytest.mark.parametrize("name,value", [("X-Evil", "a\r\nInjected: 1"), ("X", "nul\x00"), ("X", "lf\n"),
                                        ("Bad Name", "v"), ("Bad:Name", "v"), ("", "v")])
def test_header_injection_and_bad_names_are_refused(name, value):
    writer = RequestWriter("h")
    with pytest.raises(ValueError):
        writer.get("/").header(name, value)
    with pytest.raises(ValueError):
        writer.get("/").headers([("X-Fine", "ok"), (name, value)])
    with pytest.raises(ValueError):
        writer.default_header(name, value)


@pytest.mark.parametrize("name", ["Host", "HOST", "content-length", "Transfer-Encoding"])
def test_headers_the_writer_owns_cannot_be_set_twice(name):
    writer = RequestWriter("h")
    with pytest.raises(ValueError, match="written by the RequestWriter"):
        writer.post("/").header(name, "x")
    with pytest.raises(ValueError, match="written by the RequestWriter"):
        writer.post("/").headers({name: "x"}.items())
    with pytest.raises(ValueError, match="written by the RequestWriter"):
        writer.default_header(name, "x")


def test_bad_paths_and_ordering_errors():
    writer = RequestWriter("h")
    with pytest.raises(ValueError, match="start with"):
        writer.get("no-slash")
    with pytest.raises(ValueError, match="percent-encode"):
        writer.get("/a b")
    b = writer.post("/x").header("A", "1")
    with pytest.raises(RuntimeError, match="before header"):
        b.query("k", "v")
    b.body(b"1")
    with pytest.raises(RuntimeError, match="already given"):
        b.body(b"2")
    b.finish()
    with pytest.raises(RuntimeError, match="already finished"):
        b.finish()
    first = writer.get("/a")
    writer.get("/b")
    with pytest.raises(RuntimeError, match="another request"):
        first.finish()


def test_a_request_is_never_read_after_being_overwritten():
    writer = RequestWriter("h")
    old = writer.get("/old").finish()
    kept = bytes(old)
    writer.get("/new").finish()
    with pytest.raises(RuntimeError, match="overwritten"):
        old.data
    with pytest.raises(RuntimeError, match="overwritten"):
        bytes(old)
    assert kept.startswith(b"GET /old ")


def test_signer_sees_what_is_sent_and_its_headers_are_added():
    seen = []

    def sign(method, path, query, body):
        seen.append((method, path, query, bytes(body)))
        mac = hmac.new(b"secret", f"{method}{path}?{query}".encode() + bytes(body), hashlib.sha256)
        return [("X-Signature", mac.hexdigest())]

    writer = RequestWriter("h", base_path="/api", signer=sign)
    req = writer.post("/order").query("a", "1").body(b'{"q":1}').finish()
    assert seen == [("POST", "/api/order", "a=1", b'{"q":1}')]
    parsed, _ = h11_parse(bytes(req))
    expected = hmac.new(b"secret", b'POST/api/order?a=1{"q":1}', hashlib.sha256).hexdigest().encode()
    assert (b"x-signature", expected) in parsed.headers


def test_large_heads_beyond_the_headroom():
    writer = RequestWriter("h", headroom=32)
    b = writer.post("/" + "p" * 500)
    for i in range(50):
        b.header(f"X-{i}", "v" * 50)
    req = b.body(b"payload").finish()
    parsed, body = h11_parse(bytes(req))
    assert parsed.target == b"/" + b"p" * 500 and len(parsed.headers) == 52 and body == b"payload"
