"""Content-Encoding in the sans-IO ResponseReader (issue 14, part 1): gzip and
deflate (zlib and raw) decoded while the body arrives, bounded by
max_body_size on the decoded size, every failure a ContentEncodingError
(an InvalidResponse) or BodyTooLarge."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from nexus_net.http import BodyTooLarge, ContentEncodingError, InvalidResponse, ResponseReader
from nexus_net.http.compression import accept_encoding_value
from nexus_net.rest import RequestWriter

BODY = orjson.dumps([{"symbol": f"SYM{i}", "price": f"{i * 1.5:.2f}", "qty": i} for i in range(1500)])


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


ENCODED = {
    "gzip": gzip.compress(BODY),
    "x-gzip": gzip.compress(BODY),
    "deflate": zlib.compress(BODY),                    # RFC 9110: zlib
    "deflate (raw)": raw_deflate(BODY),                # what some servers send
    "gzip (two members)": gzip.compress(BODY[:5000]) + gzip.compress(BODY[5000:]),
}


def length_framed(coding: str, data: bytes, extra: bytes = b"") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {coding}\r\n"
            f"Content-Length: {len(data)}\r\n{extra.decode()}\r\n").encode() + data


def chunk_framed(coding: str, data: bytes, size: int = 1000, trailers: bytes = b"") -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
                      for i in range(0, len(data), size))
    return (f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nTransfer-Encoding: chunked\r\n\r\n").encode() \
        + chunks + b"0\r\n" + trailers + b"\r\n"


def parse(wire: bytes, step: int | None = None, reader: ResponseReader | None = None, eof: bool = False):
    reader = reader or ResponseReader()
    got = []
    step = step or len(wire) or 1
    for i in range(0, len(wire), step):
        reader.feed(wire[i:i + step])
        while (r := reader.next()) is not None:
            got.append(r)
    if eof:
        reader.feed_eof()
        while (r := reader.next()) is not None:
            got.append(r)
    return got


def header_of(name):
    return name.split(" ")[0]


@pytest.mark.parametrize("name", list(ENCODED))
@pytest.mark.parametrize("step", [None, 1, 7, 4096])
def test_length_framed_bodies_are_decoded_as_they_arrive(name, step):
    [r] = parse(length_framed(header_of(name), ENCODED[name]), step)
    assert r.bytes() == BODY and bytes(r.body) == BODY and r.json() == orjson.loads(BODY)
    assert r.header("content-encoding") == header_of(name)      # the head is as it came


@pytest.mark.parametrize("name", list(ENCODED))
@pytest.mark.parametrize("step", [None, 3, 1500])
def test_chunked_bodies_are_decoded_and_keep_their_trailers(name, step):
    wire = chunk_framed(header_of(name), ENCODED[name], size=333, trailers=b"X-Checksum: abc\r\n")
    [r] = parse(wire, step)
    assert r.bytes() == BODY and r.trailers() == [("X-Checksum", "abc")]


def test_a_body_read_until_close_is_decoded_at_eof():
    wire = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + ENCODED["gzip"]
    reader = ResponseReader()
    assert parse(wire, 512, reader) == []
    [r] = parse(b"", reader=reader, eof=True)
    assert r.bytes() == BODY and not r.keep_alive


def test_keep_alive_goes_on_after_decoded_responses():
    wire = length_framed("gzip", ENCODED["gzip"]) + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" \
        + chunk_framed("deflate", ENCODED["deflate"]) + length_framed("gzip", gzip.compress(b"[1]"))
    got = parse(wire, 1000)
    assert [r.bytes() for r in got] == [BODY, b"ok", BODY, b"[1]"]
    # every decoded body is its own memory: an earlier one is unchanged by the later ones
    assert got[0].json() == orjson.loads(BODY)


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_and_head_ignore_the_coding(status):
    [r] = parse(f"HTTP/1.1 {status} X\r\nContent-Encoding: gzip\r\nContent-Length: 120\r\n\r\n".encode())
    assert r.status == status and r.bytes() == b""
    reader = ResponseReader()
    reader.expect_head()
    [r] = parse(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5000\r\n\r\n", reader=reader)
    assert r.bytes() == b""


def test_an_empty_body_labelled_gzip_is_empty():
    [r] = parse(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n")
    assert r.bytes() == b""
    [r] = parse(chunk_framed("gzip", b""))
    assert r.bytes() == b""


def test_identity_and_an_empty_coding_are_not_decoded():
    [r] = parse(length_framed("identity", b"plain"))
    assert r.bytes() == b"plain"


@pytest.mark.parametrize("cut", [1, 10, len(ENCODED["gzip"]) // 2, len(ENCODED["gzip"]) - 1])
def test_a_truncated_gzip_stream_is_an_invalid_response(cut):
    data = ENCODED["gzip"][:cut]
    with pytest.raises(ContentEncodingError, match="truncated") as info:
        parse(length_framed("gzip", data))
    assert isinstance(info.value, InvalidResponse)
    with pytest.raises(ContentEncodingError, match="truncated"):
        parse(chunk_framed("gzip", data))


def test_a_one_byte_deflate_body_is_truncated_not_waited_for():
    with pytest.raises(ContentEncodingError, match="truncated"):
        parse(length_framed("deflate", b"\x78"))


@pytest.mark.parametrize("coding,data", [
    ("gzip", b"this is not gzip at all" * 10),
    ("deflate", b"\xff" * 200),
    ("gzip", ENCODED["gzip"][:20] + bytes(200) + ENCODED["gzip"][220:]),   # corrupt in the middle
    ("gzip", ENCODED["gzip"] + b"garbage after the member"),
    ("deflate", ENCODED["deflate"] + b"x"),                               # bytes after the stream
])
def test_corrupt_data_is_a_content_encoding_error(coding, data):
    with pytest.raises(ContentEncodingError):
        parse(length_framed(coding, data))


def test_a_broken_stream_stays_broken():
    reader = ResponseReader()
    with pytest.raises(ContentEncodingError):
        parse(length_framed("gzip", b"\x1f\x8b" + b"\x00" * 50), reader=reader)
    with pytest.raises(ContentEncodingError):
        reader.next()


@pytest.mark.parametrize("coding", ["compress", "gzip, gzip", "gzip, deflate", "snappy", "br, gzip"])
def test_a_coding_it_cannot_decode_raises_and_never_hands_back_compressed_bytes(coding):
    with pytest.raises(ContentEncodingError, match="cannot decode"):
        parse(length_framed(coding, ENCODED["gzip"]))


def test_two_content_encoding_headers_are_stacked_codings():
    with pytest.raises(ContentEncodingError, match="more than one"):
        parse(length_framed("gzip", ENCODED["gzip"], b"Content-Encoding: gzip\r\n"))


def test_decode_false_leaves_the_body_and_refuses_text_and_json():
    [r] = parse(length_framed("gzip", ENCODED["gzip"]), reader=ResponseReader(decode=False))
    assert r.bytes() == ENCODED["gzip"]
    with pytest.raises(ContentEncodingError, match="still 'gzip'-encoded"):
        r.json()
    with pytest.raises(ContentEncodingError):
        r.text()
    [r] = parse(length_framed("br", b"\x00\x01"), reader=ResponseReader(decode=False))
    assert r.bytes() == b"\x00\x01"


def multi_member_bomb(members: int, each: int = 10 << 20) -> bytes:
    return gzip.compress(bytes(each), compresslevel=9) * members


def test_a_bomb_stops_at_max_body_size_and_costs_at_most_that():
    bomb = multi_member_bomb(100)                      # ~1 MB that inflates to 1,000 MiB
    limit = 4 << 20
    reader = ResponseReader(max_body_size=limit)
    wire = length_framed("gzip", bomb)
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge, match="decompresses to more than max_body_size"):
            parse(wire, 64 * 1024, reader=reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit + len(wire) + (1 << 20), f"peak {peak} bytes for a {limit}-byte limit"


def test_the_limit_is_on_the_decoded_size_exactly():
    data = bytes(range(256)) * 40                      # 10,240 bytes
    [r] = parse(length_framed("gzip", gzip.compress(data)), reader=ResponseReader(max_body_size=len(data)))
    assert r.bytes() == data
    with pytest.raises(BodyTooLarge):
        parse(length_framed("gzip", gzip.compress(data)), reader=ResponseReader(max_body_size=len(data) - 1))


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=20000), level=st.integers(0, 9), cuts=st.lists(st.integers(1, 5000), max_size=8),
       coding=st.sampled_from(["gzip", "deflate", "raw", "chunked-gzip"]))
def test_any_body_at_any_split_round_trips(data, level, cuts, coding):
    if coding == "gzip":
        wire = length_framed("gzip", gzip.compress(data, compresslevel=level))
    elif coding == "deflate":
        wire = length_framed("deflate", zlib.compress(data, level))
    elif coding == "raw":
        wire = length_framed("deflate", raw_deflate(data))
    else:
        wire = chunk_framed("gzip", gzip.compress(data, compresslevel=level), size=777)
    reader = ResponseReader()
    got, pos = [], 0
    for cut in cuts + [len(wire)]:
        reader.feed(wire[pos:pos + cut])
        pos += cut
        while (r := reader.next()) is not None:
            got.append(r)
    reader.feed(wire[pos:])
    while (r := reader.next()) is not None:
        got.append(r)
    assert [r.bytes() for r in got] == [data]


def test_accept_encoding_is_checked_and_sent():
    assert accept_encoding_value(("gzip", "deflate")) == "gzip, deflate"
    assert accept_encoding_value("GZIP") == "gzip"
    with pytest.raises(ValueError, match="not a coding this installation decodes"):
        accept_encoding_value(("gzip", "lzma"))
    with pytest.raises(ValueError, match="names no coding"):
        accept_encoding_value(())
    req = RequestWriter("api.example", accept_encoding=("gzip", "deflate")).get("/x").finish()
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in req.bytes()
    assert b"Accept-Encoding" not in RequestWriter("api.example").get("/x").finish().bytes()


# ---- br and zstd (optional packages; the test extra installs them) -----------------------

brotli = pytest.importorskip("brotli")
try:
    from compression import zstd
except ImportError:
    from backports import zstd


OPTIONAL = {
    "br": brotli.compress(BODY),
    "zstd": zstd.compress(BODY),
    "zstd (two frames)": zstd.compress(BODY[:4000]) + zstd.compress(BODY[4000:]),
}


def test_the_optional_codings_are_installed_here():
    from nexus_net.http.compression import SUPPORTED
    assert SUPPORTED == ("gzip", "deflate", "br", "zstd")
    assert accept_encoding_value(("br", "zstd", "gzip")) == "br, zstd, gzip"


@pytest.mark.parametrize("name", list(OPTIONAL))
@pytest.mark.parametrize("step", [None, 5, 3000])
def test_br_and_zstd_bodies_are_decoded(name, step):
    [r] = parse(length_framed(header_of(name), OPTIONAL[name]), step)
    assert r.bytes() == BODY
    [r] = parse(chunk_framed(header_of(name), OPTIONAL[name], size=500), step)
    assert r.bytes() == BODY


@pytest.mark.parametrize("coding,compress", [("br", brotli.compress), ("zstd", zstd.compress)])
def test_br_and_zstd_bombs_stop_at_the_limit_and_costs_at_most_that(coding, compress):
    bomb = compress(bytes(200 << 20))                   # 200 MiB of zeros in a few KB
    limit = 4 << 20
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            parse(length_framed(coding, bomb), 16 * 1024, reader=ResponseReader(max_body_size=limit))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit + (2 << 20), f"peak {peak} bytes for a {limit}-byte limit"


@pytest.mark.parametrize("coding,data", [("br", OPTIONAL["br"][:-4]), ("zstd", OPTIONAL["zstd"][:-4]),
                                         ("br", b"not brotli data at all"), ("zstd", b"not zstd data at all")])
def test_br_and_zstd_truncated_or_corrupt(coding, data):
    with pytest.raises(ContentEncodingError):
        parse(length_framed(coding, data))
