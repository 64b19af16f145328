"""ResponseReader: HTTP/1.x response parsing (sans-IO).

1. basic behaviour, framing rules, pipelining, every split of the stream;
2. differential against h11 on generated valid and invalid responses;
3. hostile corpus, each case with its exact exception type;
4. fuzz: only HttpError subclasses ever come out.
"""

from __future__ import annotations

import faulthandler
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httpgen import BOTH_REJECT, invalid_response, mutated, pipelines, responses, splits
from nexus_net.http import (BodyTooLarge, HeadTooLarge, HttpError, InvalidResponse, Response,
                            ResponseReader)


# ---------------------------------------------------------------------------------
# helpers

def snap(resp) -> dict:
    """Everything a Response reports, copied out (the body view may not outlive the next feed)."""
    assert isinstance(resp, Response)
    return dict(status=resp.status, reason=resp.reason, version=resp.version,
                headers=[tuple(h) for h in resp.headers()], body=bytes(resp.body),
                trailers=[tuple(t) for t in resp.trailers()], keep_alive=resp.keep_alive,
                chunked=resp.chunked, content_length=resp.content_length)


def drain(reader, out, heads=()):
    """Pull every complete response; ``heads[i]`` says response i answers a HEAD request
    (expect_head() is called once, before the first next() that could return it)."""
    for _ in range(100_000):
        i = len(out)
        if i < len(heads) and heads[i] and getattr(reader, "_armed", None) != i:
            reader.expect_head()
            reader._armed = i
        resp = reader.next()
        if resp is None:
            return out
        out.append(snap(resp))
    raise AssertionError("next() keeps returning responses")


class Reader:
    """ResponseReader plus the bookkeeping of drain()."""

    def __init__(self, **kw):
        self.r = ResponseReader(**kw)
        self._armed = None

    def __getattr__(self, name):
        return getattr(self.r, name)


def parse(pieces, *, eof=False, heads=(), **kw) -> list[dict]:
    if isinstance(pieces, (bytes, bytearray)):
        pieces = [pieces]
    r = Reader(**kw)
    out = []
    for p in pieces:
        r.feed(p)
        drain(r, out, heads)
    if eof:
        r.feed_eof()
        drain(r, out, heads)
    return out


def one(data, **kw) -> dict:
    got = parse(data, **kw)
    assert len(got) == 1, got
    return got[0]


def bytewise(data: bytes):
    return [data[i:i + 1] for i in range(len(data))]


def expect_error(pieces, exc_type, *, eof=False, heads=(), **kw):
    """Feed, pull, optionally feed_eof: exactly ``exc_type`` must come out, and the reader
    must stay failed.  Returns the responses delivered before the error."""
    if isinstance(pieces, (bytes, bytearray)):
        pieces = [pieces]
    r = Reader(**kw)
    out = []
    with pytest.raises(HttpError) as info:
        for p in pieces:
            r.feed(p)
            drain(r, out, heads)
        if eof:
            r.feed_eof()
            drain(r, out, heads)
    assert type(info.value) is exc_type, repr(info.value)
    # stays failed (the same exception), even if valid bytes follow
    with pytest.raises(exc_type) as again:
        r.next()
    assert again.value is info.value
    try:
        r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    except HttpError:
        pass
    with pytest.raises(exc_type) as again:
        r.next()
    assert again.value is info.value
    return out


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


# =================================================================================
# 1. basics

def test_content_length_body():
    data = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"
    r = one(data)
    assert r == dict(status=200, reason="OK", version=11,
                     headers=[("Content-Type", "text/plain"), ("Content-Length", "11")],
                     body=b"hello world", trailers=[], keep_alive=True, chunked=False,
                     content_length=11)


def test_content_length_zero_and_body_waits_until_complete():
    assert one(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")["body"] == b""
    r = Reader()
    r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
    assert r.next() is None
    r.feed(b"5678")
    assert r.next() is None
    r.feed(b"9")
    assert bytes(r.next().body) == b"0123456789"
    assert r.next() is None


def test_chunked_body_with_extensions_and_trailers():
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
            b"5;name=value\r\nhello\r\n"
            b"1;flag\r\n \r\n"
            b"0000A;a=\"q;uoted\";b\r\n0123456789\r\n"
            b"0;last=1\r\nX-Checksum: abc\r\nX-Other:\t 2 \t\r\n\r\n")
    r = one(data)
    assert r["body"] == b"hello 0123456789"
    assert r["chunked"] is True
    assert r["content_length"] is None
    assert r["trailers"] == [("X-Checksum", "abc"), ("X-Other", "2")]
    assert r["headers"] == [("Transfer-Encoding", "chunked"), ("X-A", "1")]
    assert r["keep_alive"] is True


def test_chunked_without_trailers_and_hex_case():
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n")
    r = one(data)
    assert r["body"] == b"0123456789abcdefghijk"
    assert r["trailers"] == []


def test_chunked_waits_for_final_crlf():
    r = Reader()
    r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n")
    assert r.next() is None          # trailer section / final CRLF not there yet
    r.feed(b"\r\n")
    assert bytes(r.next().body) == b"abc"


def test_transfer_encoding_last_coding_chunked():
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + OK
    got = parse(data)
    assert [g["body"] for g in got] == [b"abc", b"ok"]
    assert got[0]["chunked"] is True


def test_transfer_encoding_empty_list_elements_ignored():
    # RFC 9110 5.6.1: empty list elements are ignored, "chunked," ends in chunked
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + OK
    assert [g["body"] for g in parse(data)] == [b"abc", b"ok"]


def test_chunk_size_bws_before_extension():
    # RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name ... )
    data = CHUNKED + b"3 ;a=b\r\nabc\r\n0\r\n\r\n"
    assert one(data)["body"] == b"abc"


def test_leading_zeros_in_sizes():
    # 1*DIGIT / 1*HEXDIG: leading zeros do not make a number overflow
    assert one(H + b"Content-Length: 0000000000000000000005\r\n\r\nhello")["body"] == b"hello"
    assert one(CHUNKED + b"00000000000000000005\r\nhello\r\n0\r\n\r\n")["body"] == b"hello"


def test_transfer_encoding_is_case_insensitive():
    data = b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + OK
    assert [g["body"] for g in parse(data)] == [b"abc", b"ok"]


def test_transfer_encoding_split_over_two_header_lines():
    # RFC 9110 5.3: the two lines mean "gzip, chunked": the message is chunked.
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n" + OK)
    assert [g["body"] for g in parse(data)] == [b"abc", b"ok"]


@pytest.mark.parametrize("header", [b"Transfer-Encoding: gzip", b"Server: x"],
                         ids=["te-not-chunked", "no-length"])
def test_body_without_length_is_read_until_close(header):
    r = Reader()
    r.feed(b"HTTP/1.1 200 OK\r\n" + header + b"\r\n\r\nsome ")
    assert r.next() is None
    r.feed(b"data")
    assert r.next() is None
    r.feed(b"")
    assert r.next() is None
    r.feed_eof()
    resp = r.next()
    assert bytes(resp.body) == b"some data"
    assert resp.chunked is False and resp.keep_alive is False and resp.content_length is None
    assert r.next() is None
    assert resp.content_length is None and resp.chunked is False
    assert r.next() is None


def test_until_close_http10_and_empty_body():
    got = parse(b"HTTP/1.0 200 OK\r\n\r\nabc", eof=True)
    assert got[0]["version"] == 10 and got[0]["body"] == b"abc" and not got[0]["keep_alive"]
    got = parse(b"HTTP/1.1 200 OK\r\n\r\n", eof=True)
    assert got[0]["body"] == b"" and not got[0]["keep_alive"]


@pytest.mark.parametrize("status", [204, 304])
@pytest.mark.parametrize("cl", [None, b"0", b"100"])
def test_no_body_statuses(status, cl):
    head = b"HTTP/1.1 %d X\r\n" % status
    if cl is not None:
        head += b"Content-Length: " + cl + b"\r\n"
    got = parse(head + b"\r\n" + OK)
    assert [g["status"] for g in got] == [status, 200]
    assert got[0]["body"] == b"" and got[0]["keep_alive"] is True
    assert got[0]["content_length"] == (None if cl is None else int(cl))
    assert got[1]["body"] == b"ok"


def test_no_body_status_alone_needs_no_eof():
    r = Reader()
    r.feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert r.next().status == 204


def test_head_response_with_content_length_has_no_body():
    r = Reader()
    r.expect_head()
    r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + OK)
    resp = r.next()
    assert resp.status == 200 and bytes(resp.body) == b"" and resp.content_length == 100
    assert resp.keep_alive is True
    resp = r.next()           # the flag applied to one response only
    assert bytes(resp.body) == b"ok"


def test_head_flag_survives_partial_input():
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + OK
    got = parse(bytewise(data), heads=[True, False])
    assert [g["body"] for g in got] == [b"", b"ok"]


def test_head_response_chunked_and_without_framing():
    # HEAD answer announcing chunked / no length: still no body, no waiting for EOF
    for hdr in (b"Transfer-Encoding: chunked\r\n", b""):
        r = Reader()
        r.expect_head()
        r.feed(b"HTTP/1.1 200 OK\r\n" + hdr + b"\r\n" + OK)
        assert bytes(r.next().body) == b""
        assert bytes(r.next().body) == b"ok"


def test_pipelined_head_between_gets():
    data = OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + OK
    got = parse(data, heads=[False, True, False])
    assert [g["body"] for g in got] == [b"ok", b"", b"ok"]


@pytest.mark.parametrize("interim", [
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 102 Processing\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
])
def test_interim_responses_are_skipped(interim):
    got = parse(interim + OK)
    assert [(g["status"], g["body"]) for g in got] == [(200, b"ok")]
    # interim alone: nothing yet
    r = Reader()
    r.feed(interim)
    assert r.next() is None
    r.feed(OK)
    assert r.next().status == 200
    assert r.next() is None


def test_interim_then_head_response():
    got = parse(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n" + OK, heads=[True, False])
    assert [(g["status"], g["body"]) for g in got] == [(200, b""), (200, b"ok")]


def test_101_is_returned():
    r = Reader()
    r.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    resp = r.next()
    assert resp is not None and resp.status == 101
    assert resp.reason == "Switching Protocols"
    assert resp.header("upgrade") == "websocket"
    assert bytes(resp.body) == b""


@pytest.mark.parametrize("version,conn,framing,expected", [
    (b"1.1", None, b"Content-Length: 0", True),
    (b"1.1", b"close", b"Content-Length: 0", False),
    (b"1.1", b"keep-alive", b"Content-Length: 0", True),
    (b"1.1", None, b"Transfer-Encoding: chunked", True),
    (b"1.0", None, b"Content-Length: 0", False),
    (b"1.0", b"keep-alive", b"Content-Length: 0", True),
    (b"1.0", b"close", b"Content-Length: 0", False),
])
def test_keep_alive_rules(version, conn, framing, expected):
    data = b"HTTP/" + version + b" 200 OK\r\n" + framing + b"\r\n"
    if conn is not None:
        data += b"Connection: " + conn + b"\r\n"
    data += b"\r\n" + (b"0\r\n\r\n" if b"chunked" in framing else b"")
    r = one(data)
    assert r["keep_alive"] is expected
    assert r["version"] == (10 if version == b"1.0" else 11)


@pytest.mark.parametrize("version,conn,expected", [
    (b"1.1", b"Close", False),
    (b"1.1", b"CLOSE", False),
    (b"1.1", b"Upgrade, close", False),
    (b"1.1", b"close , x-foo", False),
    (b"1.0", b"Keep-Alive", True),
    (b"1.0", b"x-foo, keep-alive", True),
])
def test_connection_tokens_case_insensitive_list(version, conn, expected):
    data = b"HTTP/" + version + b" 200 OK\r\nContent-Length: 0\r\nConnection: " + conn + b"\r\n\r\n"
    assert one(data)["keep_alive"] is expected


def test_until_close_is_never_keep_alive():
    got = parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nabc", eof=True)
    assert got[0]["keep_alive"] is False and got[0]["body"] == b"abc"


STREAM = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Req: 1\r\n\r\nhello"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: t\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\nX-Req: 3\r\n\r\n"
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 77\r\n\r\n"           # answers a HEAD
    b"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nnot"
    b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"
    b"HTTP/1.1 500 Oops\r\n\r\nuntil close"
)
STREAM_HEADS = [False, False, False, False, True, False, False, False]


def _stream_expected():
    return [
        (200, b"hello", []), (200, b"abcde", [("X-T", "t")]), (204, b"", []), (304, b"", []),
        (200, b"", []), (404, b"not", []), (200, b"", []), (500, b"until close", []),
    ]


def _summary(got):
    return [(g["status"], g["body"], g["trailers"]) for g in got]


def test_multiple_responses_in_one_feed():
    got = parse(STREAM, eof=True, heads=STREAM_HEADS)
    assert _summary(got) == _stream_expected()
    assert [g["keep_alive"] for g in got] == [True] * 7 + [False]
    assert got[6]["reason"] == ""
    assert got[5]["version"] == 10


def test_one_byte_at_a_time_same_result():
    whole = parse(STREAM, eof=True, heads=STREAM_HEADS)
    assert parse(bytewise(STREAM), eof=True, heads=STREAM_HEADS) == whole


def test_every_two_piece_split_same_result():
    whole = parse(STREAM, eof=True, heads=STREAM_HEADS)
    for i in range(len(STREAM) + 1):
        assert parse([STREAM[:i], STREAM[i:]], eof=True, heads=STREAM_HEADS) == whole, i


def test_responses_come_out_one_per_next_while_bytes_keep_arriving():
    # new bytes fed between two next() calls do not disturb what is queued
    r = Reader()
    r.feed(OK + OK[:10])
    assert bytes(r.next().body) == b"ok"
    r.feed(OK[10:] + OK)
    assert bytes(r.next().body) == b"ok"
    assert bytes(r.next().body) == b"ok"
    assert r.next() is None


def test_buffer_advance_api():
    data = STREAM
    r = Reader()
    out = []
    pos = 0
    step = 7
    while pos < len(data):
        view = r.buffer()
        assert isinstance(view, memoryview) and len(view) > 0
        n = min(len(view), step, len(data) - pos)
        view[:n] = data[pos:pos + n]
        r.advance(n)
        pos += n
        drain(r, out, STREAM_HEADS)
    r.feed_eof()
    drain(r, out, STREAM_HEADS)
    assert _summary(out) == _stream_expected()


def test_buffer_advance_and_feed_mixed():
    r = Reader()
    out = []
    for i, piece in enumerate([OK[:5], OK[5:20], OK[20:], OK]):
        if i % 2:
            r.feed(piece)
        else:
            view = r.buffer()
            view[:len(piece)] = piece
            r.advance(len(piece))
        drain(r, out)
    assert [g["body"] for g in out] == [b"ok", b"ok"]


def test_feed_accepts_bytes_like():
    r = Reader()
    r.feed(bytearray(OK[:10]))
    r.feed(memoryview(OK)[10:])
    assert bytes(r.next().body) == b"ok"


def test_header_lookup():
    data = (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Multi: first \r\nx-multi: second\r\n"
            b"Set-Cookie:a=1\r\nEmpty:\r\nSpaces: \t a  b \t\r\n\r\n")
    r = Reader()
    r.feed(data)
    resp = r.next()
    for name in ("x-multi", "X-MULTI", "X-Multi", "x-MuLtI"):
        assert resp.header(name) == "first"
    assert resp.header("set-cookie") == "a=1"
    assert resp.header("empty") == ""
    assert resp.header("spaces") == "a  b"
    assert resp.header("content-length") == "0"
    assert resp.header("missing") is None
    assert resp.header("x-mult") is None
    assert resp.header("x-multi2") is None


def test_headers_in_order_names_as_sent():
    data = (b"HTTP/1.1 200 OK\r\nZeta: 1\r\nalpha: 2\r\nContent-Length: 0\r\nMiXeD-CaSe: 3\r\n"
            b"Zeta: 4\r\nX-Empty:\r\n\r\n")
    assert one(data)["headers"] == [("Zeta", "1"), ("alpha", "2"), ("Content-Length", "0"),
                                    ("MiXeD-CaSe", "3"), ("Zeta", "4"), ("X-Empty", "")]


def test_reason_phrase():
    assert one(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")["reason"] == "Not Found"
    assert one(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")["reason"] == ""
    assert one(b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")["reason"] == ""
    assert one(b"HTTP/1.1 599 x\r\nContent-Length: 0\r\n\r\n")["status"] == 599
    assert one(b"HTTP/1.1 200 A reason: with (chars)!\r\nContent-Length: 0\r\n\r\n")["reason"] \
        == "A reason: with (chars)!"


def test_body_is_readonly_zero_copy_memoryview():
    r = Reader()
    r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    resp = r.next()
    body = resp.body
    assert isinstance(body, memoryview)
    assert body.readonly
    with pytest.raises(TypeError):
        body[0] = 0
    assert bytes(body) == b"hello" == resp.bytes()
    assert isinstance(resp.bytes(), bytes)


def test_chunked_body_is_readonly_memoryview():
    r = Reader()
    r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n")
    resp = r.next()
    assert isinstance(resp.body, memoryview) and resp.body.readonly
    assert bytes(resp.body) == b"abc"


def test_body_view_survives_later_feeds():
    # the zero-copy views stay valid (and unchanged) while the reader reuses its buffer
    r = Reader(buffer_size=256)
    r.feed(b"HTTP/1.1 200 OK\r\nX-A: first\r\nContent-Length: 5\r\n\r\nhello")
    a = r.next()
    r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n")
    b = r.next()
    views = (a.body, b.body)
    for _ in range(50):
        r.feed((b"HTTP/1.1 200 OK\r\nX-A: other\r\nContent-Length: 5\r\n\r\nWORLD"
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n") * 20)
        while r.next() is not None:
            pass
    del r
    assert (bytes(views[0]), bytes(views[1])) == (b"hello", b"abc")
    assert a.header("x-a") == "first" and a.headers()[0] == ("X-A", "first")
    assert b.trailers() == [("T", "1")]


def test_header_lookup_with_any_str_name():
    resp = Reader()
    resp.feed(OK)
    resp = resp.next()
    assert resp.header("X-\u20ac") is None
    assert resp.header("") is None
    assert resp.header("content-length:") is None


def test_text_and_json():
    doc = {"a": [1, 2, {"b": None}], "é": "ü"}
    raw = json.dumps(doc, ensure_ascii=False).encode()
    r = Reader()
    r.feed(b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
           b"Content-Length: %d\r\n\r\n" % len(raw) + raw)
    resp = r.next()
    assert resp.json() == doc
    assert resp.text() == raw.decode("utf-8")
    r = Reader()
    r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n")
    assert r.next().json() == [1, 2]


def test_identical_duplicate_content_length_accepted():
    r = one(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
    assert r["body"] == b"abc" and r["content_length"] == 3


def test_body_size_limit_boundary():
    assert one(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
               max_body_size=10)["body"] == b"0123456789"
    assert one(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", max_body_size=10)["body"] == b"0123456789"
    assert parse(b"HTTP/1.1 200 OK\r\n\r\n0123456789", eof=True,
                 max_body_size=10)[0]["body"] == b"0123456789"


def test_large_body_after_small_head_is_not_head_too_large():
    body = b"x" * 100_000
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + body
    assert one(data, max_head_bytes=1024)["body"] == body
    # and pipelined behind another response, in one feed
    got = parse(OK + data + OK, max_head_bytes=1024)
    assert [len(g["body"]) for g in got] == [2, 100_000, 2]


def test_max_headers_boundary():
    hdrs = b"".join(b"H%d: v\r\n" % i for i in range(4))
    assert len(one(b"HTTP/1.1 200 OK\r\n" + hdrs + b"\r\n", eof=True, max_headers=4)["headers"]) == 4


def test_head_under_max_head_bytes_accepted():
    data = b"HTTP/1.1 200 OK\r\nX-Big: " + b"v" * 900 + b"\r\nContent-Length: 0\r\n\r\n"
    assert one(data, max_head_bytes=1024)["headers"][0] == ("X-Big", "v" * 900)


def test_strict_false_accepts_bare_lf():
    data = b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok"
    r = one(data, strict=False)
    assert r["body"] == b"ok" and r["headers"] == [("Content-Length", "2"), ("X-A", "b")]


def test_eof_with_nothing_pending_is_clean():
    r = Reader()
    r.feed_eof()
    assert r.next() is None
    r = Reader()
    r.feed(OK)
    assert r.next() is not None
    r.feed_eof()
    assert r.next() is None


def test_eof_after_complete_responses_still_delivers_them():
    r = Reader()
    r.feed(OK + OK)
    r.feed_eof()
    assert bytes(r.next().body) == b"ok"
    assert bytes(r.next().body) == b"ok"
    assert r.next() is None


@pytest.mark.parametrize("partial", [
    b"H",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n",
    OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
], ids=range(9))
def test_eof_mid_response(partial):
    got = expect_error(partial, InvalidResponse, eof=True)
    assert got == ([] if not partial.startswith(OK) else [one(OK)])


def test_eof_after_interim_response_only():
    # a 100 Continue was consumed, the final response never came: the response is incomplete
    r = Reader()
    r.feed(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert r.next() is None
    with pytest.raises(InvalidResponse):
        r.feed_eof()
        r.next()


def test_eof_mid_response_message():
    r = Reader()
    r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel")
    with pytest.raises(InvalidResponse, match="closed mid-response"):
        r.feed_eof()
        r.next()


# =================================================================================
# 2. generated valid responses: model, splits, h11

def _heads(specs):
    return [s.head_request for s in specs]


@given(st.data())
def test_generated_pipelines_match_model(data):
    specs = data.draw(pipelines())
    wire = b"".join(s.encode() for s in specs)
    pieces = data.draw(splits(wire))
    eof = specs[-1].framing == "close"
    got = parse(pieces, eof=eof, heads=_heads(specs))
    assert got == [s.expected() for s in specs]


def h11_parse(wire: bytes, head_request: bool, pieces):
    """One response through h11 -> (status, reason, headers, body, trailers)."""
    h11 = pytest.importorskip("h11")
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="HEAD" if head_request else "GET", target="/",
                          headers=[("Host", "example.com")]))
    conn.send(h11.EndOfMessage())
    result = None
    body = bytearray()
    for p in [p for p in pieces if p] + [b""]:      # b"" means EOF to h11
        conn.receive_data(p)
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA or ev is h11.PAUSED:
                break
            if isinstance(ev, h11.Response):
                result = dict(status=ev.status_code, reason=ev.reason.decode(),
                              headers=[(n.decode(), v.decode()) for n, v in ev.headers.raw_items()])
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                result["body"] = bytes(body)
                result["trailers"] = [(n.decode(), v.decode()) for n, v in ev.headers.raw_items()]
                return result
            elif isinstance(ev, h11.ConnectionClosed):
                break
    raise AssertionError("h11 did not finish the response")


def _lower(hs):
    return [(n.lower(), v) for n, v in hs]


@given(st.data())
def test_differential_h11_valid(data):
    pytest.importorskip("h11")
    specs = data.draw(pipelines())
    wires = [s.encode() for s in specs]
    wire = b"".join(wires)
    ours = parse(data.draw(splits(wire)), eof=specs[-1].framing == "close", heads=_heads(specs))
    assert len(ours) == len(specs)
    for spec, w, mine in zip(specs, wires, ours):
        theirs = h11_parse(w, spec.head_request, data.draw(splits(w)))
        assert mine["status"] == theirs["status"]
        assert mine["reason"] == theirs["reason"]
        assert _lower(mine["headers"]) == _lower(theirs["headers"])
        assert mine["headers"] == theirs["headers"]        # h11's raw_items keep the case
        assert mine["body"] == theirs["body"]
        assert _lower(mine["trailers"]) == _lower(theirs["trailers"])


# Mutation kinds rejected by BOTH parsers (h11 0.16 checked on each): see httpgen.BOTH_REJECT:
#   no_colon, space_before_colon, bad_chunk_size (non-hex / empty / sign / 0x / NUL),
#   chunk_no_crlf, two_cl (different values), bad_status_line, nul_in_value, cr_in_value,
#   bad_name_char, empty_name, bad_content_length, trailer_no_colon.
# Kinds where h11 0.16 DISAGREES (not in the differential; covered by the hostile corpus):
#   obs-fold            h11 unfolds it ("b\r\n c" -> "b c"); we reject
#   CL + TE             h11 lets chunked win and ignores Content-Length; we reject
#   bare LF             h11 accepts LF-only line endings; we reject when strict=True
#   chunk size overflow h11 accepts up to 20 hex digits (FFFFFFFFFFFFFFFFFFFF) and waits for
#                       the data; we reject (21+ digits: h11 rejects too)
#   HTTP/2.0 in a status line, status >= 600: h11 accepts; we reject
#   "Transfer-Encoding: gzip, chunked" (or gzip + chunked on two lines): h11 rejects (only
#                       bare chunked supported); we accept (last coding chunked)
@pytest.mark.parametrize("kind", BOTH_REJECT)
@settings(max_examples=40)
@given(data=st.data())
def test_differential_h11_invalid(kind, data):
    h11 = pytest.importorskip("h11")
    bad = data.draw(invalid_response(kind))
    prefix = data.draw(st.lists(responses(final=False, allow_head=False), max_size=2))
    # h11 rejects the invalid response
    with pytest.raises(h11.RemoteProtocolError):
        h11_parse(bad, False, data.draw(splits(bad)))
    # and so do we, after delivering the valid responses in front of it
    wire = b"".join(p.encode() for p in prefix) + bad
    got = expect_error(data.draw(splits(wire)), InvalidResponse)
    assert got == [p.expected() for p in prefix]


# =================================================================================
# 3. hostile corpus

H = b"HTTP/1.1 200 OK\r\n"
CHUNKED = H + b"Transfer-Encoding: chunked\r\n\r\n"

INVALID = {
    # status line
    "proto_name": b"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "proto_lowercase": b"http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "http2": b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    "http_version_missing": b"HTTP/ 200 OK\r\nContent-Length: 0\r\n\r\n",
    "status_2_digits": b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
    "status_4_digits": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "status_alpha": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    "status_negative": b"HTTP/1.1 -20 OK\r\nContent-Length: 0\r\n\r\n",
    "status_missing": b"HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "no_sp_after_version": b"HTTP/1.1200 OK\r\nContent-Length: 0\r\n\r\n",
    "status_099": b"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
    "status_000": b"HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n",
    "status_600": b"HTTP/1.1 600 High\r\nContent-Length: 0\r\n\r\n",
    "status_999": b"HTTP/1.1 999 High\r\nContent-Length: 0\r\n\r\n",
    "not_http": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "garbage_line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    # obs-fold
    "obs_fold_space": H + b"X-A: b\r\n c\r\nContent-Length: 0\r\n\r\n",
    "obs_fold_tab": H + b"X-A: b\r\n\tc\r\nContent-Length: 0\r\n\r\n",
    "obs_fold_first_line": H + b" X-A: b\r\nContent-Length: 0\r\n\r\n",
    "obs_fold_in_trailers": CHUNKED + b"0\r\nX-T: a\r\n b\r\n\r\n",
    # bare LF
    "bare_lf_everywhere": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "bare_lf_status_line": b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
    "bare_lf_header_line": H + b"X-A: b\nContent-Length: 0\r\n\r\n",
    "bare_lf_end_of_head": H + b"Content-Length: 0\r\n\n",
    "lf_inside_value": H + b"X-A: b\nc\r\nContent-Length: 0\r\n\r\n",
    # header names
    "no_colon": H + b"X-A b\r\nContent-Length: 0\r\n\r\n",
    "space_before_colon": H + b"X-A : b\r\nContent-Length: 0\r\n\r\n",
    "tab_before_colon": H + b"X-A\t: b\r\nContent-Length: 0\r\n\r\n",
    "space_in_name": H + b"X A: b\r\nContent-Length: 0\r\n\r\n",
    "empty_name": H + b": b\r\nContent-Length: 0\r\n\r\n",
    "paren_in_name": H + b"X(A): b\r\nContent-Length: 0\r\n\r\n",
    "at_in_name": H + b"X@A: b\r\nContent-Length: 0\r\n\r\n",
    "slash_in_name": H + b"X/A: b\r\nContent-Length: 0\r\n\r\n",
    "nul_in_name": H + b"X\x00A: b\r\nContent-Length: 0\r\n\r\n",
    "non_ascii_name": H + b"X\xe9: b\r\nContent-Length: 0\r\n\r\n",
    "del_in_name": H + b"X\x7f: b\r\nContent-Length: 0\r\n\r\n",
    "space_before_cl_colon": H + b"Content-Length : 5\r\n\r\nhello",
    # header values
    "nul_in_value": H + b"X-A: b\x00c\r\nContent-Length: 0\r\n\r\n",
    "cr_in_value": H + b"X-A: b\rc\r\nContent-Length: 0\r\n\r\n",
    "cr_at_end_of_value": H + b"X-A: bc\r\r\nContent-Length: 0\r\n\r\n",
    "nul_in_trailer_value": CHUNKED + b"0\r\nX-T: a\x00b\r\n\r\n",
    "no_colon_in_trailer": CHUNKED + b"0\r\nX-T b\r\n\r\n",
    "cr_in_trailer_value": CHUNKED + b"0\r\nX-T: a\rb\r\n\r\n",
    "space_before_colon_in_trailer": CHUNKED + b"0\r\nX-T : a\r\n\r\n",
    "bare_lf_in_trailers": CHUNKED + b"0\r\nX-T: a\n\r\n",
    # framing conflicts
    "cl_and_te": H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "te_and_cl": H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "cl_and_te_identity": H + b"Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello",
    "two_different_cl": H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "two_different_cl_far_apart": H + b"Content-Length: 5\r\nX: y\r\ncontent-length: 50\r\n\r\nhello",
    # content-length values
    "cl_negative": H + b"Content-Length: -5\r\n\r\nhello",
    "cl_plus": H + b"Content-Length: +5\r\n\r\nhello",
    "cl_alpha": H + b"Content-Length: abc\r\n\r\nhello",
    "cl_trailing_alpha": H + b"Content-Length: 5a\r\n\r\nhello",
    "cl_hex": H + b"Content-Length: 0x5\r\n\r\nhello",
    "cl_decimal_point": H + b"Content-Length: 5.0\r\n\r\nhello",
    "cl_empty": H + b"Content-Length:\r\n\r\nhello",
    "cl_inner_space": H + b"Content-Length: 5 5\r\n\r\nhello",
    "cl_list_different": H + b"Content-Length: 5, 6\r\n\r\nhello",
    "cl_overflow_u64": H + b"Content-Length: 99999999999999999999\r\n\r\nhello",
    "cl_overflow_huge": H + b"Content-Length: " + b"9" * 200 + b"\r\n\r\nhello",
    # chunk size lines
    "chunk_size_non_hex": CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n",
    "chunk_size_g": CHUNKED + b"g\r\nhello\r\n0\r\n\r\n",
    "chunk_size_0x": CHUNKED + b"0x5\r\nhello\r\n0\r\n\r\n",
    "chunk_size_negative": CHUNKED + b"-5\r\nhello\r\n0\r\n\r\n",
    "chunk_size_plus": CHUNKED + b"+5\r\nhello\r\n0\r\n\r\n",
    "chunk_size_empty": CHUNKED + b"\r\nhello\r\n0\r\n\r\n",
    "chunk_size_leading_space": CHUNKED + b" 5\r\nhello\r\n0\r\n\r\n",
    "chunk_size_nul": CHUNKED + b"5\x00\r\nhello\r\n0\r\n\r\n",
    "chunk_size_bare_lf": CHUNKED + b"5\nhello\r\n0\r\n\r\n",
    "chunk_size_bare_cr": CHUNKED + b"5\rhello\r\n0\r\n\r\n",
    "chunk_size_overflow_20_F": CHUNKED + b"FFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n",
    "chunk_size_overflow_long": CHUNKED + b"1" + b"0" * 40 + b"\r\nhello\r\n0\r\n\r\n",
    "chunk_size_overflow_wraps_to_5": CHUNKED + b"10000000000000005\r\nhello\r\n0\r\n\r\n",
    "last_chunk_size_bad": CHUNKED + b"5\r\nhello\r\nq\r\n\r\n",
    "chunk_size_then_garbage": CHUNKED + b"5 zz\r\nhello\r\n0\r\n\r\n",
    "chunk_size_then_hex_after_space": CHUNKED + b"5 5\r\nhello\r\n0\r\n\r\n",
    # a lone CR in a chunk line: some parsers end the line there (request smuggling)
    "chunk_ext_lone_cr": CHUNKED + b"5;a\rb\r\nhello\r\n0\r\n\r\n",
    # chunk data not followed by CRLF
    "chunk_data_no_crlf": CHUNKED + b"5\r\nhelloXY0\r\n\r\n",
    "chunk_data_bare_lf": CHUNKED + b"5\r\nhello\n0\r\n\r\n",
    "chunk_data_too_long": CHUNKED + b"3\r\nhello\r\n0\r\n\r\n",
    "chunk_data_cr_only": CHUNKED + b"5\r\nhello\r0\r\n\r\n",
}


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
@pytest.mark.parametrize("name", sorted(INVALID))
def test_hostile_invalid(name, mode):
    data = INVALID[name]
    pieces = bytewise(data) if mode == "bytewise" else [data]
    assert expect_error(pieces, InvalidResponse) == []


@pytest.mark.parametrize("name", ["no_colon", "cl_and_te", "chunk_data_no_crlf", "status_600",
                                  "obs_fold_space", "bare_lf_header_line"])
def test_hostile_after_valid_responses(name):
    # valid responses in front are delivered, then the error
    got = expect_error([OK + OK + INVALID[name]], InvalidResponse)
    assert [g["body"] for g in got] == [b"ok", b"ok"]


def test_hostile_during_head_response():
    # HEAD answers skip the body but the head is still validated
    r = Reader()
    r.expect_head()
    r.feed(H + b"X-A : b\r\nContent-Length: 5\r\n\r\n")
    with pytest.raises(InvalidResponse):
        r.next()


def test_hostile_interim_response_is_validated():
    expect_error(b"HTTP/1.1 100 Continue\r\nX A: b\r\n\r\n" + OK, InvalidResponse)
    expect_error(b"HTTP/1.1 103 Early\r\nLink: a\r\n b\r\n\r\n" + OK, InvalidResponse)


def test_too_many_headers():
    hdrs = b"".join(b"H%d: v\r\n" % i for i in range(5))
    expect_error(H + hdrs + b"Content-Length: 0\r\n\r\n", HeadTooLarge, max_headers=4)
    hdrs = b"".join(b"H%d: v\r\n" % i for i in range(101))
    expect_error(H + hdrs + b"\r\n", HeadTooLarge)          # default max_headers=100
    expect_error(bytewise(H + hdrs + b"\r\n"), HeadTooLarge)


def test_too_many_trailers():
    # trailers are a second header section: they must be bounded too.  The spec does not say
    # which limit applies, so either size error is accepted (an unbounded list is not).
    trailers = b"".join(b"T%d: v\r\n" % i for i in range(5000))
    r = Reader()
    r.feed(CHUNKED + b"0\r\n" + trailers + b"\r\n")
    with pytest.raises((HeadTooLarge, BodyTooLarge)):
        r.next()


@pytest.mark.parametrize("max_headers", [100, 10**6])
def test_header_flood_bounded(max_headers):
    """10,000 tiny headers, fed 1 KiB at a time: HeadTooLarge long before the end, after at
    most max_head_bytes (+ one piece) were buffered."""
    flood = H + b"a:b\r\n" * 10_000 + b"\r\n"
    limit = 16 * 1024
    r = Reader(max_headers=max_headers, max_head_bytes=limit)
    fed = 0
    with pytest.raises(HeadTooLarge, match="max_head_bytes"):      # the byte limit, whatever max_headers
        for i in range(0, len(flood), 1024):
            r.feed(flood[i:i + 1024])
            fed += 1024
            r.next()
    assert fed <= limit + 1024
    with pytest.raises(HeadTooLarge):
        r.next()


def test_header_flood_in_one_feed():
    flood = H + b"a:b\r\n" * 10_000 + b"\r\n"
    expect_error(flood, HeadTooLarge)
    expect_error(flood, HeadTooLarge, max_headers=10**6)


def test_header_count_limit_within_the_byte_limit():
    """A complete head within max_head_bytes but with more than max_headers
    fields: the count limit is what fires."""
    head = H + b"a:b\r\n" * 10_000 + b"\r\n"
    r = Reader(max_headers=100, max_head_bytes=1 << 20)
    r.feed(head)
    with pytest.raises(HeadTooLarge, match="max_headers=100"):
        r.next()


def test_unterminated_head_raises_once_limit_is_buffered():
    # no end of head ever: raised as soon as max_head_bytes are buffered, not at some later point
    r = Reader(max_head_bytes=1024)
    r.feed(H + b"X-Long: ")
    assert r.next() is None
    with pytest.raises(HeadTooLarge):
        for _ in range(1024 + 1):
            r.feed(b"v")
            r.next()
    with pytest.raises(HeadTooLarge):
        r.next()


def test_endless_header_stream_bounded():
    # a peer that streams header bytes forever: 64 MiB offered, error within the first ~16 KiB
    r = Reader()
    piece = b"X-Flood: " + b"y" * 4000 + b"\r\n"
    r.feed(H)
    sent = 0
    with pytest.raises(HeadTooLarge):
        while sent < 64 << 20:
            r.feed(piece)
            sent += len(piece)
            r.next()
    assert sent <= 16 * 1024 + len(piece)


def test_long_status_line_without_crlf():
    expect_error(b"HTTP/1.1 200 " + b"A" * 20_000, HeadTooLarge)
    expect_error([b"HTTP/1.1 200 "] + [b"A" * 100] * 200, HeadTooLarge)


def test_huge_declared_content_length_fails_from_head_alone():
    r = Reader(max_body_size=1 << 20)
    r.feed(H + b"Content-Length: 104857600\r\n\r\n")      # 100 MB, no body byte sent
    with pytest.raises(BodyTooLarge):
        r.next()
    with pytest.raises(BodyTooLarge):
        r.next()


def test_content_length_one_over_limit():
    expect_error(H + b"Content-Length: 11\r\n\r\n", BodyTooLarge, max_body_size=10)
    # fits in 64 bits but far over the limit: still BodyTooLarge, not InvalidResponse
    expect_error(H + b"Content-Length: 9223372036854775807\r\n\r\n", BodyTooLarge)


def test_content_length_over_limit_on_head_and_304_is_harmless():
    # no body is coming, so the declared size does not matter
    r = Reader(max_body_size=10)
    r.expect_head()
    r.feed(H + b"Content-Length: 104857600\r\n\r\n" + OK)
    assert bytes(r.next().body) == b""
    assert bytes(r.next().body) == b"ok"
    got = parse(b"HTTP/1.1 304 NM\r\nContent-Length: 104857600\r\n\r\n" + OK, max_body_size=10)
    assert [g["status"] for g in got] == [304, 200]


def test_one_big_feed_gives_http_errors():
    # a single large feed() must still end in the HTTP error the input deserves, not in a
    # lower-level buffer error (everything the reader raises is an HttpError)
    expect_error(H + b"\r\n" + b"z" * 300_000, BodyTooLarge, max_body_size=1000)
    expect_error(H + b"Content-Length: 2000000\r\n\r\n" + b"z" * 2_000_000, BodyTooLarge,
                 max_body_size=1 << 20)


def test_one_big_feed_of_valid_pipelined_responses():
    # "several responses can be fed at once": 300 kB of small valid responses in one feed()
    got = parse(OK * 10_000, max_body_size=1000)
    assert len(got) == 10_000


def test_chunk_size_over_limit_fails_before_data():
    r = Reader(max_body_size=1 << 20)
    r.feed(CHUNKED + b"100001\r\n")                       # 1 MiB + 1 announced
    with pytest.raises(BodyTooLarge):
        r.next()
    # 4 GiB chunk: fits in 64 bits, so this is a size problem, not a syntax one
    expect_error(CHUNKED + b"FFFFFFFF\r\n", BodyTooLarge)


def test_chunked_total_over_limit_fails_at_size_line():
    r = Reader(max_body_size=10)
    r.feed(CHUNKED + b"6\r\nabcdef\r\n6\r\n")             # 12 > 10, 2nd chunk's data not sent
    with pytest.raises(BodyTooLarge):
        r.next()


def test_until_close_body_over_limit_fails_without_eof():
    # memory bounded: no waiting for the end of the connection
    r = Reader(max_body_size=1000)
    r.feed(H + b"\r\n")
    with pytest.raises(BodyTooLarge):
        for _ in range(100):
            r.feed(b"z" * 100)
            r.next()


def test_chunk_size_FFFFFFFFFFFFFFFFFFFF():
    # 20 hex digits do not fit in 64 bits: a bad chunk size line (InvalidResponse by the spec);
    # h11 accepts it and waits for 2**80 bytes.
    r = Reader()
    r.feed(CHUNKED + b"FFFFFFFFFFFFFFFFFFFF\r\n")
    with pytest.raises(InvalidResponse):
        r.next()
    expect_error(CHUNKED + b"FFFFFFFFFFFFFFFFFFFF\r\nxx", InvalidResponse)


def test_error_is_an_http_error():
    assert issubclass(InvalidResponse, HttpError)
    assert issubclass(HeadTooLarge, HttpError)
    assert issubclass(BodyTooLarge, HttpError)


# =================================================================================
# 4. fuzz: only HttpError subclasses, never anything else, never a hang

def run_fuzz(pieces, head, eof):
    # a hang inside the codec would never return to Python: kill the run instead
    faulthandler.dump_traceback_later(120, exit=True)
    try:
        _run_fuzz(pieces, head, eof)
    finally:
        faulthandler.cancel_dump_traceback_later()


def _run_fuzz(pieces, head, eof):
    r = Reader(max_body_size=1 << 16, max_head_bytes=4096, max_headers=50)
    if head:
        r.expect_head()
    n = 0
    total = sum(len(p) for p in pieces)
    try:
        for p in pieces:
            r.feed(p)
            while r.next() is not None:
                n += 1
                # a response takes at least "HTTP/1.1 200\r\n\r\n" = 18 bytes
                assert n <= total // 18 + 1
        if eof:
            r.feed_eof()
            while r.next() is not None:
                n += 1
                assert n <= total // 18 + 1
    except HttpError:
        with pytest.raises(HttpError):
            r.next()


@given(st.data())
def test_fuzz_random_bytes(data):
    blob = data.draw(st.binary(max_size=400) | st.builds(
        lambda a, b: a + b, st.sampled_from([b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 ", H, CHUNKED]),
        st.binary(max_size=400)))
    run_fuzz(data.draw(splits(blob)), data.draw(st.booleans()), data.draw(st.booleans()))


@given(st.data())
def test_fuzz_mutated_valid_responses(data):
    specs = data.draw(pipelines())
    wire = b"".join(s.encode() for s in specs)
    bad = data.draw(mutated(wire))
    run_fuzz(data.draw(splits(bad)), data.draw(st.booleans()), data.draw(st.booleans()))


@settings(max_examples=50)
@given(st.data())
def test_fuzz_mutated_bytewise(data):
    specs = data.draw(pipelines(max_size=2))
    bad = data.draw(mutated(b"".join(s.encode() for s in specs)))
    run_fuzz(bytewise(bad), False, True)


def test_reset_makes_a_reader_reusable_after_a_read_until_close_body():
    from nexus_net.http import ResponseReader
    r = ResponseReader()
    r.feed(b"HTTP/1.1 200 OK\r\n\r\nuntil close")
    r.feed_eof()
    first = r.next()
    assert first.bytes() == b"until close"
    r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert r.next() is None                  # nothing may follow a read-until-close body
    r.reset()
    r.feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert r.next().status == 204
    assert first.bytes() == b"until close"   # earlier responses keep their bytes
