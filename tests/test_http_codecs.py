"""The HTTP codecs outside the readers: ``ChunkedDecoder`` on its own, and the writers
``write_request`` / ``write_response`` / ``write_chunk``.

1. ChunkedDecoder: byte by byte, random splits against a reference encoding, the
   ``data[n:]`` accounting of what follows the body, trailers, errors, limits, views;
2. writers: exact output, framing rules, round trips through h11 and our own readers on
   generated input, ``BufferTooSmall`` (exact ``needed``, destination untouched), header
   injection refused, chunked responses;
3. writers allocate nothing (tracemalloc).
"""

from __future__ import annotations

import itertools
import tracemalloc

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from httpgen import TOKEN_CHARS, VCHAR, Resp, chunk_split, header_fields, header_value, names, splits
from nexus_net.http import (BodyTooLarge, BufferTooSmall, ChunkedDecoder, HeadTooLarge, HttpError,
                            InvalidMessage, RequestReader, ResponseReader, write_chunk, write_request,
                            write_response)

# =================================================================================
# 1. ChunkedDecoder


def encode_chunked(body: bytes, chunks, last_ext: str = "", trailers=()) -> bytes:
    """Reference chunked encoding (httpgen's response model knows the wire form)."""
    return Resp(version="1.1", status=200, reason="", reason_sep=" ", headers=[], framing="chunked",
                body=body, chunks=list(chunks), last_ext=last_ext, trailers=list(trailers)).body_bytes()


def bytewise(data: bytes):
    return [data[i:i + 1] for i in range(len(data))]


def decode(pieces, **kw):
    """Feed ``pieces`` one by one: (decoder, bytes the body used, bytes that followed it).
    Checks the return value of every feed on the way."""
    d = ChunkedDecoder(**kw)
    used = 0
    rest = bytearray()
    for p in pieces:
        if d.finished:
            assert d.feed(p) == 0                     # nothing more belongs to the body
            rest += p
            continue
        n = d.feed(p)
        assert 0 <= n <= len(p)
        used += n
        if d.finished:
            rest += p[n:]                             # data[n:] is what follows the body
        else:
            assert n == len(p)                        # an unfinished body took everything
    return d, used, bytes(rest)


SIMPLE = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 1\r\nX-Other:  two \r\n\r\n"


def test_decode_whole_with_rest():
    d, used, rest = decode([SIMPLE + b"NEXT"])
    assert d.finished and used == len(SIMPLE) and rest == b"NEXT"
    assert bytes(d.body) == b"hello world"
    assert d.trailers() == [("X-Sum", "1"), ("X-Other", "two")]


def test_decode_byte_by_byte():
    d = ChunkedDecoder()
    for i, b in enumerate(SIMPLE):
        assert not d.finished
        assert d.feed(bytes([b])) == 1, i
    assert d.finished
    assert d.feed(b"x") == 0 and d.feed(b"") == 0
    assert bytes(d.body) == b"hello world"


def test_rest_in_the_piece_that_ends_the_final_crlf():
    d = ChunkedDecoder()
    assert d.feed(b"0\r\n\r") == 4                    # the incomplete line is kept inside
    assert not d.finished
    data = b"\nREST"
    n = d.feed(data)
    assert d.finished and n == 1 and data[n:] == b"REST"
    assert bytes(d.body) == b"" and d.trailers() == []


def test_empty_feed_and_bytes_like_inputs():
    d = ChunkedDecoder()
    assert d.feed(b"") == 0 and not d.finished
    assert d.feed(bytearray(b"3\r\nab")) == 5
    assert d.feed(memoryview(b"c\r\n0\r\n\r\nXY")[:-2]) == 8
    assert d.finished and bytes(d.body) == b"abc"


@st.composite
def chunked_bodies(draw):
    body = draw(st.binary(max_size=400))
    chunks = draw(chunk_split(body))
    last_ext = draw(st.sampled_from(["", "", ";end", ";a=\"b\""]))
    trailers = draw(header_fields(max_size=3)) if draw(st.booleans()) else []
    return body, chunks, last_ext, trailers


@given(st.data())
def test_generated_against_reference_encoding(data):
    body, chunks, last_ext, trailers = data.draw(chunked_bodies())
    enc = encode_chunked(body, chunks, last_ext, trailers)
    rest = data.draw(st.binary(max_size=20))
    wire = enc + rest
    pieces = bytewise(wire) if data.draw(st.integers(0, 4)) == 0 else data.draw(splits(wire))
    d, used, got_rest = decode(pieces)
    assert d.finished
    assert used == len(enc)
    assert got_rest == rest
    assert bytes(d.body) == body
    assert d.trailers() == [(n, core) for n, core, _ in trailers]


@given(st.data())
def test_generated_views_taken_mid_stream_never_change(data):
    body, chunks, _, _ = data.draw(chunked_bodies())
    # bodies big enough that the decoded buffer must grow (it starts at 4 KiB)
    body = body * data.draw(st.sampled_from([1, 1, 30]))
    chunks = data.draw(chunk_split(body))
    enc = encode_chunked(body, chunks)
    d = ChunkedDecoder()
    views = []
    for p in data.draw(splits(enc)):
        d.feed(p)
        v = d.body
        views.append((v, bytes(v)))
    assert d.finished and bytes(d.body) == body
    for v, snapshot in views:
        assert bytes(v) == snapshot
        assert body.startswith(snapshot)


def test_view_mid_stream_survives_growth_and_reset():
    d = ChunkedDecoder()
    d.feed(b"10\r\n0123456789abcdef\r\n")
    early = d.body
    assert bytes(early) == b"0123456789abcdef"
    d.feed(b"4\r\nWXYZ\r\n")                            # fits in the current buffer
    assert bytes(early) == b"0123456789abcdef"
    big = bytes(range(256)) * 64                        # 16 KiB: the buffer must grow
    d.feed(b"%x\r\n" % len(big) + big + b"\r\n")
    middle = d.body
    d.feed(b"%x\r\n" % len(big) + big + b"\r\n0\r\n\r\n")
    assert d.finished
    assert bytes(early) == b"0123456789abcdef"
    assert bytes(middle) == b"0123456789abcdefWXYZ" + big
    final = d.body
    assert bytes(final) == b"0123456789abcdefWXYZ" + big + big
    d.reset()
    assert not d.finished and bytes(d.body) == b""
    d.feed(b"3\r\nnew\r\n0\r\n\r\n")
    assert bytes(d.body) == b"new"
    assert bytes(early) == b"0123456789abcdef"
    assert bytes(final) == b"0123456789abcdefWXYZ" + big + big
    assert early.readonly and final.readonly


def test_reset_after_finish_and_after_error():
    d = ChunkedDecoder()
    d.feed(b"1\r\na\r\n0\r\nT: 1\r\n\r\n")
    d.reset()
    assert d.trailers() == [] and not d.finished
    d.feed(b"1\r\nb\r\n0\r\n\r\n")
    assert bytes(d.body) == b"b" and d.trailers() == []
    d.reset()
    with pytest.raises(InvalidMessage):
        d.feed(b"zz\r\n")
    d.reset()
    assert d.feed(b"1\r\nc\r\n0\r\n\r\n") == 11 and bytes(d.body) == b"c"


def test_strict_false_accepts_bare_lf():
    d = ChunkedDecoder(strict=False)
    assert d.feed(b"3\nabc\n0\nT: v\n\nrest") == 14
    assert d.finished and bytes(d.body) == b"abc" and d.trailers() == [("T", "v")]


def test_limits_must_not_be_negative():
    for kw in (dict(max_body_size=-1), dict(max_trailer_bytes=-1), dict(max_trailers=-1)):
        with pytest.raises(ValueError):
            ChunkedDecoder(**kw)


BAD_CHUNKED = {
    "size_non_hex": (b"zz\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_0x": (b"0x5\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_negative": (b"-5\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_plus": (b"+5\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_empty": (b"\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_leading_space": (b" 5\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_nul": (b"5\x00\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_then_garbage": (b"5 zz\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_bare_lf": (b"5\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_bare_cr": (b"5\rhello\r\n0\r\n\r\n", InvalidMessage),
    "size_overflow": (b"1" + b"0" * 40 + b"\r\n", InvalidMessage),
    "size_16_hex_digits": (b"1000000000000005\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "size_line_too_long": (b"5;" + b"a" * 5000 + b"\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "ext_lone_cr": (b"5;a\rb\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "data_too_long": (b"3\r\nhello\r\n0\r\n\r\n", InvalidMessage),
    "data_no_crlf": (b"5\r\nhelloXY0\r\n\r\n", InvalidMessage),
    "data_bare_lf": (b"5\r\nhello\n0\r\n\r\n", InvalidMessage),
    "data_cr_only": (b"5\r\nhello\r0\r\n\r\n", InvalidMessage),
    "trailer_no_colon": (b"0\r\nX-T b\r\n\r\n", InvalidMessage),
    "trailer_space_before_colon": (b"0\r\nX-T : b\r\n\r\n", InvalidMessage),
    "trailer_obs_fold": (b"0\r\nX-T: a\r\n b\r\n\r\n", InvalidMessage),
    "trailer_nul": (b"0\r\nX-T: a\x00b\r\n\r\n", InvalidMessage),
    "trailer_bare_lf": (b"0\r\nX-T: a\n\r\n", InvalidMessage),
    "too_many_trailers": (b"0\r\n" + b"".join(b"T%d: v\r\n" % i for i in range(101)) + b"\r\n", HeadTooLarge),
    "trailers_too_big": (b"0\r\nT: " + b"v" * 17000 + b"\r\n\r\n", HeadTooLarge),
    "trailers_endless": (b"0\r\n" + b"T: v\r\n" * 5000, HeadTooLarge),
    "chunk_over_limit": (b"1000001\r\n", BodyTooLarge),                 # 16 MiB + 1, the default limit
    "chunk_4gib": (b"FFFFFFFF\r\n", BodyTooLarge),
}


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
@pytest.mark.parametrize("name", sorted(BAD_CHUNKED))
def test_invalid_chunked(name, mode):
    data, exc_type = BAD_CHUNKED[name]
    d = ChunkedDecoder()
    with pytest.raises(HttpError) as info:
        for p in (bytewise(data) if mode == "bytewise" else [data]):
            d.feed(p)
    assert type(info.value) is exc_type, repr(info.value)
    assert not d.finished
    # sticky: the same error again, whatever comes next
    for more in (b"", b"0\r\n\r\n", data):
        with pytest.raises(exc_type) as again:
            d.feed(more)
        assert again.value is info.value


def test_body_limit_boundary_and_before_copy():
    d = ChunkedDecoder(max_body_size=10)
    assert d.feed(b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n") == 25
    assert bytes(d.body) == b"helloworld"
    d = ChunkedDecoder(max_body_size=10)
    d.feed(b"5\r\nhello\r\n")
    with pytest.raises(BodyTooLarge):
        d.feed(b"6\r\n")                                  # refused at the size line
    assert bytes(d.body) == b"hello"                      # nothing of the refused chunk copied
    d = ChunkedDecoder(max_body_size=0)
    assert d.feed(b"0\r\n\r\n") == 5 and d.finished


def test_trailer_count_and_size_boundaries():
    three = b"".join(b"T%d: v\r\n" % i for i in range(3))
    d = ChunkedDecoder(max_trailers=3)
    d.feed(b"0\r\n" + three + b"\r\n")
    assert d.finished and len(d.trailers()) == 3
    with pytest.raises(HeadTooLarge):
        ChunkedDecoder(max_trailers=2).feed(b"0\r\n" + three + b"\r\n")
    d = ChunkedDecoder(max_trailers=0)
    assert d.feed(b"0\r\n\r\n") == 5 and d.finished
    with pytest.raises(HeadTooLarge):
        ChunkedDecoder(max_trailers=0).feed(b"0\r\nT: v\r\n\r\n")
    with pytest.raises(HeadTooLarge):
        ChunkedDecoder(max_trailer_bytes=100).feed(b"0\r\nT: " + b"v" * 200 + b"\r\n\r\n")


def test_max_trailer_bytes_zero_still_decodes_a_body_without_trailers():
    d = ChunkedDecoder(max_trailer_bytes=0)
    assert d.feed(b"3\r\nabc\r\n0\r\n\r\n") == 13
    assert d.finished and bytes(d.body) == b"abc"


def test_incomplete_size_line_then_big_feed():
    data = bytes(range(256)) * 256                        # 64 KiB chunk
    d = ChunkedDecoder()
    assert d.feed(b"100") == 3                            # "10000" cut after three digits
    rest = b"00\r\n" + data + b"\r\n0\r\n\r\nNEXT"
    n = d.feed(rest)
    assert d.finished and rest[n:] == b"NEXT"
    assert bytes(d.body) == data


# =================================================================================
# 2. writers

def filled(n: int) -> bytearray:
    return bytearray(b"\xaa" * n)


def written(fn, *args, **kw) -> bytes:
    buf = filled(1 << 16)
    n = fn(buf, *args, **kw)
    assert buf[n:] == b"\xaa" * (len(buf) - n)           # nothing written past the returned size
    return bytes(buf[:n])


def test_write_request_exact_bytes():
    assert written(write_request, "GET", "/x?y=1", [("Host", "a"), ("Accept", "*/*")]) == \
        b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"
    assert written(write_request, b"POST", b"/u", (("Host", b"a"), (b"X-B", "b")), b"hi") == \
        b"POST /u HTTP/1.1\r\nHost: a\r\nX-B: b\r\nContent-Length: 2\r\n\r\nhi"
    assert written(write_request, "PUT", "/e", [], b"") == b"PUT /e HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    assert written(write_request, "GET", "/") == b"GET / HTTP/1.1\r\n\r\n"
    assert written(write_request, "POST", "/", [("X", "a\tb")], bytearray(b"xy")) == \
        b"POST / HTTP/1.1\r\nX: a\tb\r\nContent-Length: 2\r\n\r\nxy"
    # non-ASCII text goes out as UTF-8
    assert written(write_request, "GET", "/", [("X", "é")]) == b"GET / HTTP/1.1\r\nX: \xc3\xa9\r\n\r\n"
    # chunked requests: the caller frames the body
    assert written(write_request, "POST", "/", [("Transfer-Encoding", "chunked")]) == \
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("status,head", [
    (200, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    (404, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    (205, b"HTTP/1.1 205 \r\nContent-Length: 0\r\n\r\n"),
    (999, b"HTTP/1.1 999 \r\nContent-Length: 0\r\n\r\n"),
    (100, b"HTTP/1.1 100 Continue\r\n\r\n"),
    (101, b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
    (199, b"HTTP/1.1 199 \r\n\r\n"),
    (204, b"HTTP/1.1 204 No Content\r\n\r\n"),
    (304, b"HTTP/1.1 304 Not Modified\r\n\r\n"),
])
def test_write_response_content_length_rules(status, head):
    assert written(write_response, status) == head
    if status < 200 or status in (204, 304):
        assert written(write_response, status, [], b"") == head   # an empty body is no body
        with pytest.raises(ValueError):
            write_response(filled(200), status, [], b"x")


def test_write_response_bodies_and_framing_headers():
    assert written(write_response, 201, [("Location", "/n/1")], b"{}", "Made") == \
        b"HTTP/1.1 201 Made\r\nLocation: /n/1\r\nContent-Length: 2\r\n\r\n{}"
    assert written(write_response, 200, [("Transfer-Encoding", "chunked")]) == \
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    # the caller's own length (e.g. answering HEAD): not written twice
    assert written(write_response, 200, [("content-length", "1234")]) == \
        b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n"
    assert written(write_response, 200, [], b"", b"Fine") == b"HTTP/1.1 200 Fine\r\nContent-Length: 0\r\n\r\n"
    assert written(write_response, 200, [], b"", "") == b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize("status", [99, 0, -200, 1000, 2000, 2**31, 2**70, "200", 200.0])
def test_write_response_status_range(status):
    dst = filled(100)
    with pytest.raises(ValueError):
        write_response(dst, status)
    assert dst == filled(100)


@pytest.mark.parametrize("status,headers", [
    (204, [("Transfer-Encoding", "chunked")]), (204, [("Content-Length", "5")]),
    (100, [("Content-Length", "5")]), (101, [("Transfer-Encoding", "chunked")])])
def test_bodiless_statuses_refuse_framing_headers(status, headers):
    """RFC 9110 8.6 / RFC 9112 6.1: 1xx and 204 never carry Content-Length or
    Transfer-Encoding (a 204 followed by chunks would desynchronise the client)."""
    dst = filled(200)
    with pytest.raises(ValueError, match="neither Content-Length nor Transfer-Encoding"):
        write_response(dst, status, headers)
    assert dst == filled(200)


def test_a_304_may_state_the_length_and_status_enums_are_accepted():
    import http
    assert written(write_response, 304, [("Content-Length", "1234")]) == \
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n"
    assert written(write_response, http.HTTPStatus.NOT_FOUND) == \
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def test_write_chunk_exact_bytes():
    assert written(write_chunk, b"abc") == b"3\r\nabc\r\n"
    assert written(write_chunk) == b"0\r\n\r\n"
    assert written(write_chunk, b"") == b"0\r\n\r\n"
    assert written(write_chunk, b"x" * 255) == b"ff\r\n" + b"x" * 255 + b"\r\n"
    assert written(write_chunk, memoryview(b"y" * 4096)) == b"1000\r\n" + b"y" * 4096 + b"\r\n"


# --- BufferTooSmall: exact ``needed``, destination untouched -------------------------------

WRITES = {
    "request": (write_request, ("POST", "/api/v3/order?x=1", [("Host", "api.example.com"), ("X-Key", "k" * 40)],
                                b"{\"qty\": 1}")),
    "request_no_body": (write_request, ("GET", "/", [("Host", "a")])),
    "request_big_body": (write_request, ("PUT", "/", [], b"z" * 12345)),
    "response": (write_response, (200, [("Content-Type", "text/plain")], b"hello")),
    "response_default_cl": (write_response, (404,)),
    "response_204": (write_response, (204, [("X", "y")])),
    "response_reason": (write_response, (500, (), b"x" * 99, "Oops")),
    "chunk": (write_chunk, (b"x" * 300,)),
    "chunk_16": (write_chunk, (b"x" * 16,)),
    "chunk_15": (write_chunk, (b"x" * 15,)),
    "last_chunk": (write_chunk, ()),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_buffer_too_small_needed_is_exact(name):
    fn, args = WRITES[name]
    full = written(fn, *args)
    size = len(full)
    for short in (0, 1, size // 2, size - 1):
        dst = filled(short)
        with pytest.raises(BufferTooSmall) as info:
            fn(dst, *args)
        assert info.value.needed == size
        assert dst == filled(short)                   # not a byte written
        assert isinstance(info.value, ValueError) and isinstance(info.value, HttpError)
    exact = filled(size)
    assert fn(exact, *args) == size
    assert bytes(exact) == full
    # into a window of a bigger buffer: nothing outside the window touched
    big = filled(size + 20)
    assert fn(memoryview(big)[7:7 + size], *args) == size
    assert big[:7] == b"\xaa" * 7 and big[7:7 + size] == full and big[7 + size:] == b"\xaa" * 13
    with pytest.raises(BufferTooSmall):
        fn(memoryview(big)[7:6 + size], *args)
    assert big[7:7 + size] == full


def test_read_only_destination_refused():
    for dst in (b"\x00" * 100, memoryview(bytearray(100)).toreadonly()):
        with pytest.raises((BufferError, TypeError)):
            write_request(dst, "GET", "/")
        with pytest.raises((BufferError, TypeError)):
            write_response(dst, 200)
        with pytest.raises((BufferError, TypeError)):
            write_chunk(dst, b"x")


# --- injection and misuse refused ---------------------------------------------------------

INJECTIONS = {
    "value_crlf": lambda d: write_request(d, "GET", "/", [("X", "a\r\nEvil: 1")]),
    "value_lf": lambda d: write_request(d, "GET", "/", [("X", "a\nEvil: 1")]),
    "value_cr": lambda d: write_request(d, "GET", "/", [("X", "a\rb")]),
    "value_nul": lambda d: write_request(d, "GET", "/", [("X", "a\x00b")]),
    "value_ctl": lambda d: write_request(d, "GET", "/", [("X", "a\x01b")]),
    "value_del": lambda d: write_request(d, "GET", "/", [("X", "a\x7fb")]),
    "value_bytes_crlf": lambda d: write_request(d, "GET", "/", [(b"X", b"a\r\n\r\nGET /x HTTP/1.1")]),
    "response_value_crlf": lambda d: write_response(d, 200, [("Set-Cookie", "a=b\r\nX: y")]),
    "second_header_bad": lambda d: write_response(d, 200, [("A", "ok"), ("B", "\n")], b"x"),
    "name_space": lambda d: write_request(d, "GET", "/", [("X Y", "v")]),
    "name_colon": lambda d: write_request(d, "GET", "/", [("X:Y", "v")]),
    "name_crlf": lambda d: write_request(d, "GET", "/", [("X\r\nY", "v")]),
    "name_empty": lambda d: write_request(d, "GET", "/", [("", "v")]),
    "name_non_ascii": lambda d: write_request(d, "GET", "/", [("Xé", "v")]),
    "name_response": lambda d: write_response(d, 200, [("X(Y)", "v")]),
    "method_space": lambda d: write_request(d, "GE T", "/"),
    "method_crlf": lambda d: write_request(d, "GET / HTTP/1.1\r\nX:", "/"),
    "method_empty": lambda d: write_request(d, "", "/"),
    "method_paren": lambda d: write_request(d, "G(T", "/"),
    "target_space": lambda d: write_request(d, "GET", "/a b"),
    "target_crlf": lambda d: write_request(d, "GET", "/\r\nEvil: 1"),
    "target_nul": lambda d: write_request(d, "GET", "/\x00"),
    "target_del": lambda d: write_request(d, "GET", "/\x7f"),
    "target_tab": lambda d: write_request(d, "GET", "/\t"),
    "target_empty": lambda d: write_request(d, "GET", ""),
    "reason_crlf": lambda d: write_response(d, 200, reason="OK\r\nEvil: 1"),
    "reason_lf": lambda d: write_response(d, 200, reason="\n"),
    "reason_cr": lambda d: write_response(d, 200, reason=b"a\rb"),
    "request_cl_with_body": lambda d: write_request(d, "POST", "/", [("Content-Length", "1")], b"x"),
    "request_te_with_body": lambda d: write_request(d, "POST", "/", [("transfer-encoding", "chunked")], b"x"),
    "request_cl_with_empty_body": lambda d: write_request(d, "POST", "/", [("CONTENT-LENGTH", "0")], b""),
    "response_cl_with_body": lambda d: write_response(d, 200, [("content-length", "5")], b"hello"),
    "response_te_with_body": lambda d: write_response(d, 200, [("Transfer-Encoding", "chunked")], b"x"),
    "response_204_with_body": lambda d: write_response(d, 204, [], b"x"),
    "response_1xx_with_body": lambda d: write_response(d, 103, [], b"x"),
}


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_injection_and_misuse_refused(name):
    dst = filled(4096)
    with pytest.raises(ValueError) as info:
        INJECTIONS[name](dst)
    assert not isinstance(info.value, BufferTooSmall)
    assert dst == filled(4096)


@pytest.mark.parametrize("call", [
    lambda d: write_request(d, "GET", "/", [["X", "v"]]),
    lambda d: write_request(d, "GET", "/", [("X", "v", "w")]),
    lambda d: write_request(d, "GET", "/", [("X", 1)]),
    lambda d: write_request(d, "GET", "/", [(1, "v")]),
    lambda d: write_request(d, "GET", "/", "X: v"),
    lambda d: write_request(d, "GET", "/", {"X": "v"}),
    lambda d: write_request(d, 1, "/"),
    lambda d: write_request(d, "GET", None),
    lambda d: write_request(d, "GET", "/", [], "a str body"),
    lambda d: write_response(d, 200, reason=1),
])
def test_wrong_types_refused(call):
    dst = filled(256)
    with pytest.raises(TypeError):
        call(dst)
    assert dst == filled(256)


# --- round trips on generated input ---------------------------------------------------------

free_names = names.filter(lambda n: n.lower() not in ("host", "expect"))


@st.composite
def text_or_bytes(draw, s):
    return s.encode() if draw(st.booleans()) else s


@st.composite
def out_headers(draw, max_size=6):
    """[(name, value)] as a writer takes them, with the value that comes back parsed."""
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        name = draw(free_names)
        value = draw(header_value())[0]        # the core: no whitespace at either end
        out.append((draw(text_or_bytes(name)), draw(text_or_bytes(value))))
    return out


def as_str(x):
    return x.decode() if isinstance(x, bytes) else x


def h11_request(wire: bytes) -> dict:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(wire)
    out, body = {}, bytearray()
    while True:
        ev = conn.next_event()
        if isinstance(ev, h11.Request):
            out = dict(method=ev.method.decode(), target=ev.target.decode(),
                       headers=[(n.decode(), v.decode()) for n, v in ev.headers.raw_items()])
        elif isinstance(ev, h11.Data):
            body += ev.data
        elif isinstance(ev, h11.EndOfMessage):
            out["body"] = bytes(body)
            return out
        else:
            raise AssertionError(f"h11: {ev!r}")


def h11_response(wire: bytes, method: str = "GET") -> dict:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "a")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(wire)
    out, body = {}, bytearray()
    while True:
        ev = conn.next_event()
        if isinstance(ev, h11.InformationalResponse):
            continue
        if isinstance(ev, h11.Response):
            out = dict(status=ev.status_code, reason=ev.reason.decode(),
                       headers=[(n.decode(), v.decode()) for n, v in ev.headers.raw_items()])
        elif isinstance(ev, h11.Data):
            body += ev.data
        elif isinstance(ev, h11.EndOfMessage):
            out["body"] = bytes(body)
            out["trailers"] = [(n.decode(), v.decode()) for n, v in ev.headers.raw_items()]
            return out
        else:
            raise AssertionError(f"h11: {ev!r}")


@given(st.data())
def test_generated_requests_round_trip(data):
    method = data.draw(st.one_of(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
                                 st.text(TOKEN_CHARS, min_size=1, max_size=10)).filter(lambda m: m != "CONNECT"))
    target = data.draw(st.one_of(st.just("/"), st.just("*"), st.text(VCHAR, max_size=40).map(lambda t: "/" + t)))
    headers = data.draw(out_headers())
    headers.insert(data.draw(st.integers(0, len(headers))), ("Host", "example.com"))
    if data.draw(st.booleans()):
        headers = tuple(headers)
    body = data.draw(st.none() | st.binary(max_size=300))
    args = (data.draw(text_or_bytes(method)), data.draw(text_or_bytes(target)), headers, body)
    wire = written(write_request, *args)

    # exact size: BufferTooSmall one byte short, success at exactly `needed`
    with pytest.raises(BufferTooSmall) as info:
        write_request(filled(len(wire) - 1), *args)
    assert info.value.needed == len(wire)
    exact = bytearray(len(wire))
    assert write_request(exact, *args) == len(wire) and exact == wire

    expected_headers = [(as_str(n), as_str(v)) for n, v in headers]
    if body is not None:
        expected_headers.append(("Content-Length", str(len(body))))
    expected = dict(method=method, target=target, headers=expected_headers, body=body or b"")
    assert h11_request(wire) == expected
    r = RequestReader()
    for p in data.draw(splits(wire)):
        r.feed(p)
    req = r.next()
    assert dict(method=req.method, target=req.target, headers=req.headers(), body=bytes(req.body)) == expected
    assert req.keep_alive and req.version == 11
    assert r.next() is None and r.pending == 0


REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 304: "Not Modified",
           404: "Not Found", 418: "", 500: "Internal Server Error", 503: "Service Unavailable", 599: ""}


@given(st.data())
def test_generated_responses_round_trip(data):
    status = data.draw(st.sampled_from(sorted(REASONS)))
    bodiless = status in (204, 304)
    reason = data.draw(st.none() | st.lists(st.text(VCHAR, min_size=1, max_size=8), max_size=3).map(" ".join))
    headers = data.draw(out_headers())
    body = data.draw(st.sampled_from([None, b""]) if bodiless else st.none() | st.binary(max_size=300))
    args = (status, headers, body, None if reason is None else data.draw(text_or_bytes(reason)))
    wire = written(write_response, *args)
    with pytest.raises(BufferTooSmall) as info:
        write_response(filled(len(wire) - 1), *args)
    assert info.value.needed == len(wire)

    expected_headers = [(as_str(n), as_str(v)) for n, v in headers]
    if not bodiless:
        expected_headers.append(("Content-Length", str(len(body or b""))))
    expected = dict(status=status, reason=REASONS[status] if reason is None else reason,
                    headers=expected_headers, body=body or b"", trailers=[])
    assert h11_response(wire) == expected
    rr = ResponseReader()
    for p in data.draw(splits(wire + wire)):             # and a second one behind it
        rr.feed(p)
    for _ in range(2):
        resp = rr.next()
        assert dict(status=resp.status, reason=resp.reason, headers=resp.headers(), body=bytes(resp.body),
                    trailers=resp.trailers()) == expected
        assert resp.keep_alive
    assert rr.next() is None


@given(st.lists(st.binary(min_size=1, max_size=200), max_size=6),
       st.lists(st.binary(min_size=1, max_size=50).map(bytearray), max_size=2))
def test_generated_chunked_response(chunks, more):
    """A chunked response built with write_response + write_chunk: h11 (client side), our
    ResponseReader and ChunkedDecoder all read the same body."""
    buf = filled(1 << 14)
    n = write_response(buf, 200, [("Content-Type", "application/octet-stream"),
                                  ("Transfer-Encoding", "chunked")])
    head_len = n
    for c in [*chunks, *more]:
        n += write_chunk(memoryview(buf)[n:], c)
    n += write_chunk(memoryview(buf)[n:])
    wire = bytes(buf[:n])
    body = b"".join(chunks) + b"".join(map(bytes, more))
    theirs = h11_response(wire)
    assert theirs["status"] == 200 and theirs["body"] == body
    assert ("Transfer-Encoding", "chunked") in theirs["headers"]
    assert not any(n.lower() == "content-length" for n, _ in theirs["headers"])
    rr = ResponseReader()
    rr.feed(wire + wire)
    for _ in range(2):
        resp = rr.next()
        assert resp.chunked and bytes(resp.body) == body and resp.trailers() == []
    d = ChunkedDecoder()
    assert d.feed(wire[head_len:] + b"after") == len(wire) - head_len
    assert d.finished and bytes(d.body) == body


def test_chunked_request_round_trip():
    buf = bytearray(512)
    n = write_request(buf, "POST", "/upload", [("Host", "a"), ("Transfer-Encoding", "chunked")])
    for c in (b"hello ", b"chunked ", b"world"):
        n += write_chunk(memoryview(buf)[n:], c)
    n += write_chunk(memoryview(buf)[n:])
    wire = bytes(buf[:n])
    assert h11_request(wire)["body"] == b"hello chunked world"
    r = RequestReader()
    r.feed(wire)
    req = r.next()
    assert req.chunked and bytes(req.body) == b"hello chunked world"


def test_interim_then_final_response_parsed():
    buf = bytearray(256)
    n = write_response(buf, 100)
    n += write_response(memoryview(buf)[n:], 200, [("X", "1")], b"done")
    rr = ResponseReader()
    rr.feed(bytes(buf[:n]))
    resp = rr.next()
    assert resp.status == 200 and bytes(resp.body) == b"done"
    assert h11_response(bytes(buf[:n]))["body"] == b"done"


# =================================================================================
# 3. no allocation

HEADERS = [("Host", "api.example.com"), ("User-Agent", "nexus-net-bench/1.0"),
           ("Content-Type", "application/json"), ("X-MBX-APIKEY", "k" * 64)]
BODY = b'{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","quantity":"0.001","price":"50000"}' * 4

SMALL_HEADERS = [("Host", "a")]

# The allowed rise of the traced peak over the memory traced just before the loop. The loop
# machinery itself allocates nothing here (the iterator is made before the measurement, frames
# live on the interpreter's data stack; test_allocation_measurement_* checks an empty loop
# measures 0), but a writer returns its size as a Python int: for a message of more than 256
# bytes that is a new 28-byte object, freed at once (and the default reason of a status above
# 256, e.g. 404, is looked up with a transient 32-byte int). One such int is alive at a time;
# a real per-call allocation (a bytes, a memoryview, a list, a formatted string...) is bigger,
# and anything kept per call adds up over 1000 calls.
SLACK = 64


def peak_rise(loop) -> int:
    """Run ``loop(iterator)`` to warm up, then under tracemalloc over 1000 iterations: how far
    the peak of traced memory rose above the memory traced just before the loop."""
    loop(itertools.repeat(None, 50))
    it = itertools.repeat(None, 1000)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        # (indexed, not unpacked: a name left holding the unused int would be an allocation
        # of the measurement itself inside the measured window)
        before = tracemalloc.get_traced_memory()[0]
        loop(it)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before


def test_writers_do_not_allocate():
    buf = bytearray(4096)
    window = memoryview(buf)[100:]

    def responses(it):
        for _ in it:
            write_response(buf, 200, HEADERS, BODY)

    def responses_into_window(it):
        for _ in it:
            write_response(window, 201, HEADERS, BODY)

    def not_found(it):                         # default reason looked up by a non-cached int
        for _ in it:
            write_response(window, 404, HEADERS, BODY)

    def requests(it):
        for _ in it:
            write_request(buf, "POST", "/api/v3/order?symbol=BTCUSDT", HEADERS, BODY)

    def small_requests(it):                    # under 257 bytes: the returned int is cached
        for _ in it:
            write_request(buf, "GET", "/", SMALL_HEADERS)

    def chunks(it):
        for _ in it:
            write_chunk(buf, BODY)

    assert len(BODY) > 256                      # the case the slack is for is really exercised
    for loop in (responses, responses_into_window, not_found, requests, chunks):
        assert peak_rise(loop) <= SLACK, loop.__name__
    assert peak_rise(small_requests) == 0


def test_allocation_measurement_catches_an_allocation():
    """The measurement above is sensitive: the same loop with one bytes(100) per call, or
    keeping one pointer per call, fails it; an empty loop measures nothing."""
    buf = bytearray(4096)

    def allocating(it):
        for _ in it:
            write_request(buf, "POST", "/api/v3/order?symbol=BTCUSDT", HEADERS, BODY)
            bytes(100)

    def keeping(it):
        kept = []
        for _ in it:
            write_request(buf, "POST", "/", HEADERS, BODY)
            kept.append(None)                   # a list growing by one pointer per call

    def empty(it):
        for _ in it:
            pass

    assert peak_rise(empty) == 0                # the measurement adds nothing of its own
    assert peak_rise(allocating) > SLACK
    assert peak_rise(keeping) > SLACK
