"""Hypothesis generators of HTTP/1.x responses for the ResponseReader tests.

A generated response is a ``Resp`` model: it knows its wire encoding (as a list
of lines + body bytes, so that mutations can target one part) and what a correct
parser must report for it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from hypothesis import strategies as st

TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
VCHAR = "".join(chr(c) for c in range(0x21, 0x7F))
# names whose meaning would change framing / connection handling
RESERVED = {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
            "te", "trailer", "proxy-connection"}
STATUSES = [200, 201, 204, 206, 301, 304, 404, 500]
NO_BODY = {204, 304}


@dataclass
class Resp:
    version: str                      # "1.0" | "1.1"
    status: int
    reason: str
    reason_sep: str                   # " " or "" (only when reason == "")
    headers: list                     # [(name, core value, raw value with OWS)] without framing
    framing: str                      # "cl" | "chunked" | "close" | "none"
    body: bytes
    head_request: bool = False
    connection: str | None = None     # value of a Connection header, if any
    cl_on_bodyless: int | None = None  # Content-Length sent on a response that has no body
    chunks: list = field(default_factory=list)   # [(size text, ext text)], terminal chunk excluded
    last_ext: str = ""
    trailers: list = field(default_factory=list)  # [(name, core, raw)]
    interim: list = field(default_factory=list)   # [(status, reason, [(name, value)])]
    framing_pos: int = 0              # where the framing header goes among the headers

    # -- wire form ---------------------------------------------------------------
    def status_line(self) -> bytes:
        return f"HTTP/{self.version} {self.status:03d}{self.reason_sep}{self.reason}".encode()

    def header_lines(self) -> list[bytes]:
        """Header lines, without CRLF, in wire order (framing header included)."""
        lines = [f"{n}:{raw}".encode() for n, _, raw in self.headers]
        extra = []
        if self.framing == "cl":
            extra.append(f"Content-Length: {len(self.body)}".encode())
        elif self.framing == "chunked":
            extra.append(b"Transfer-Encoding: chunked")
        elif self.cl_on_bodyless is not None:
            extra.append(f"Content-Length: {self.cl_on_bodyless}".encode())
        pos = min(self.framing_pos, len(lines))
        lines[pos:pos] = extra
        if self.connection is not None:
            lines.append(f"Connection: {self.connection}".encode())
        return lines

    def interim_bytes(self) -> bytes:
        out = []
        for status, reason, hdrs in self.interim:
            out.append(f"HTTP/1.1 {status} {reason}\r\n".encode())
            out += [f"{n}: {v}\r\n".encode() for n, v in hdrs]
            out.append(b"\r\n")
        return b"".join(out)

    def chunk_pieces(self) -> list[tuple[bytes, bytes]]:
        """[(size line without CRLF, data)] including the terminal 0 chunk."""
        out, pos = [], 0
        for size_text, ext in self.chunks:
            n = int(size_text, 16)
            out.append(((size_text + ext).encode(), self.body[pos:pos + n]))
            pos += n
        out.append((("0" + self.last_ext).encode(), b""))
        return out

    def body_bytes(self) -> bytes:
        if not self.has_body():
            return b""
        if self.framing != "chunked":
            return self.body if self.framing in ("cl", "close") and self.has_body() else b""
        out = []
        for line, data in self.chunk_pieces():
            out.append(line + b"\r\n")
            if data:
                out.append(data + b"\r\n")
        out += [f"{n}:{raw}\r\n".encode() for n, _, raw in self.trailers]
        out.append(b"\r\n")
        return b"".join(out)

    def has_body(self) -> bool:
        return not (self.head_request or self.status in NO_BODY or self.framing == "none")

    def encode(self) -> bytes:
        head = self.status_line() + b"\r\n" + b"".join(l + b"\r\n" for l in self.header_lines())
        return self.interim_bytes() + head + b"\r\n" + self.body_bytes()

    # -- what a correct parser reports -------------------------------------------------
    def expected(self) -> dict:
        headers = []
        for line in self.header_lines():
            name, _, value = line.decode().partition(":")
            headers.append((name, value.strip(" \t")))
        conn = {t.strip().lower() for t in (self.connection or "").split(",")}
        if self.framing == "close":
            keep_alive = False
        elif self.version == "1.1":
            keep_alive = "close" not in conn
        else:
            keep_alive = "keep-alive" in conn and "close" not in conn
        if self.framing == "cl":
            cl = len(self.body)
        elif self.framing == "none":
            cl = self.cl_on_bodyless
        else:
            cl = None
        return dict(
            status=self.status, reason=self.reason, version=10 if self.version == "1.0" else 11,
            headers=headers,
            body=self.body if self.has_body() else b"",
            trailers=[(n, c) for n, c, _ in self.trailers] if self.framing == "chunked" else [],
            keep_alive=keep_alive, chunked=self.framing == "chunked", content_length=cl)


# ---------------------------------------------------------------------------------
names = st.text(TOKEN_CHARS, min_size=1, max_size=12).filter(lambda n: n.lower() not in RESERVED)
words = st.lists(st.text(VCHAR, min_size=1, max_size=8), max_size=4)
ows = st.sampled_from(["", "", " ", "  ", "\t", " \t"])


@st.composite
def header_value(draw):
    ws = draw(words)
    core = ""
    for i, w in enumerate(ws):
        core += (draw(st.sampled_from([" ", "\t", "  "])) if i else "") + w
    return core, draw(ows) + core + draw(ows)


@st.composite
def header_fields(draw, max_size=6):
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        core, raw = draw(header_value())
        out.append((draw(names), core, raw))
    return out


@st.composite
def reason_phrase(draw):
    ws = draw(st.lists(st.text(VCHAR, min_size=1, max_size=8), max_size=3))
    return " ".join(ws)


@st.composite
def chunk_split(draw, body):
    sizes, left = [], len(body)
    while left:
        n = draw(st.integers(1, left))
        sizes.append(n)
        left -= n
    out = []
    for n in sizes:
        text = format(n, draw(st.sampled_from(["x", "X"])))
        text = "0" * draw(st.sampled_from([0, 0, 0, 1, 3])) + text
        ext = draw(st.sampled_from(["", "", "", ";a", ";a=b", ";name=\"q;v\"", ";x=1;y"]))
        out.append((text, ext))
    return out


@st.composite
def responses(draw, final=True, allow_close=True, allow_head=True, allow_interim=True,
              framings=("cl", "chunked", "close"), versions=("1.1", "1.1", "1.1", "1.0"),
              statuses=STATUSES):
    """One valid response.  ``final=False``: something else follows it on the connection,
    so it must not be read-until-close nor announce ``Connection: close``."""
    version = draw(st.sampled_from(versions))
    status = draw(st.sampled_from(statuses))
    reason = draw(reason_phrase())
    reason_sep = " " if reason else draw(st.sampled_from(["", " "]))
    head_request = allow_head and draw(st.integers(0, 5)) == 0
    body = draw(st.binary(max_size=300))
    choices = [f for f in framings if (f != "close" or (final and allow_close))
               and (f != "chunked" or version == "1.1")]
    framing = draw(st.sampled_from(choices))
    cl_on_bodyless = None
    if status in NO_BODY:
        framing = "none"
        if status == 304 and draw(st.booleans()):
            cl_on_bodyless = draw(st.integers(0, 10**6))
    elif head_request:
        framing = "cl"          # HEAD answered with Content-Length: N and no body
    # Connection header
    if final:
        options = [None, "close", "keep-alive", "Keep-Alive", "close, x-foo"]
    elif version == "1.1":
        options = [None, "keep-alive"]
    else:
        options = ["keep-alive", "Keep-Alive"]
    connection = draw(st.sampled_from(options))
    r = Resp(version=version, status=status, reason=reason, reason_sep=reason_sep,
             headers=draw(header_fields()), framing=framing, body=body,
             head_request=head_request, connection=connection, cl_on_bodyless=cl_on_bodyless)
    r.framing_pos = draw(st.integers(0, len(r.headers)))
    if framing == "chunked":
        if head_request:
            r.body = b""
        r.chunks = draw(chunk_split(r.body))
        r.last_ext = draw(st.sampled_from(["", "", ";end"]))
        r.trailers = draw(header_fields(max_size=3)) if draw(st.booleans()) else []
    if version == "1.1" and allow_interim and draw(st.integers(0, 4)) == 0:
        r.interim = draw(st.lists(st.tuples(
            st.sampled_from([100, 102, 103]), st.sampled_from(["Continue", "Processing", "Early Hints"]),
            st.lists(st.tuples(names, st.text(VCHAR, min_size=1, max_size=8)), max_size=2)),
            min_size=1, max_size=2))
    return r


@st.composite
def pipelines(draw, max_size=3, **kw):
    """1..max_size responses sent back to back on one connection."""
    n = draw(st.integers(1, max_size))
    return [draw(responses(final=(i == n - 1), **kw)) for i in range(n)]


@st.composite
def splits(draw, data: bytes):
    """Cut ``data`` into pieces at random points (empty pieces possible)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    out, prev = [], 0
    for c in cuts:
        out.append(data[prev:c])
        prev = c
    out.append(data[prev:])
    return out


# ---------------------------------------------------------------------------------
# Invalid responses.  Every kind here is rejected by h11 0.16 too (checked); kinds on
# which h11 disagrees are listed in test_http_response.py.
BAD_STATUS_LINES = [b"HTTX/1.1 200 OK", b"HTTP/1.1 20 OK", b"HTTP/1.1 2000 OK",
                    b"HTTP/1.1 2x0 OK", b"HTTP/1.1200 OK", b"http/1.1 200 OK",
                    b"HTTP/1.1", b"HTTP/1.1  200 OK", b"HTTP/1.1 099 Low", b"HTTP/ 200 OK",
                    b"HTTP/1.1 -20 OK", b"200 OK", b""]
BAD_NAME_CHARS = '()<>@,;"/[]?={} \x7f\xe9'
BAD_CHUNK_SIZES = [b"zz", b"-5", b"0x5", b"g", b"", b" 5", b"+5", b"5\x00"]
BAD_CHUNK_FOOTERS = [b"XY", b"\r\r", b"\nX", b"  ", b"\r0"]
BAD_CL = ["-5", "5a", "+5", "abc", "", "0x10", "5 5", "1.5", "9" * 26]
BOTH_REJECT = ["no_colon", "space_before_colon", "bad_chunk_size", "chunk_no_crlf", "two_cl",
               "bad_status_line", "nul_in_value", "cr_in_value", "bad_name_char", "empty_name",
               "bad_content_length", "trailer_no_colon"]


@st.composite
def invalid_response(draw, kind):
    """(wire bytes of one invalid response, head_request flag)."""
    framing = "chunked" if kind in ("bad_chunk_size", "chunk_no_crlf", "trailer_no_colon") else "cl"
    if kind in ("two_cl", "bad_content_length"):
        framing = "cl"
    elif framing == "cl":
        framing = draw(st.sampled_from(["cl", "chunked"]))
    r = draw(responses(final=True, allow_head=False, allow_interim=False, framings=(framing,),
                       versions=("1.1",), statuses=[s for s in STATUSES if s not in NO_BODY]))
    if framing == "chunked":
        if not r.body:
            r.body = b"x"
        r.chunks = draw(chunk_split(r.body))
    r.headers.append((draw(names), *draw(header_value())))
    status = r.status_line()
    lines = r.header_lines()
    body = r.body_bytes()
    # index of a plain (non-framing, non-connection) header line
    plain = [i for i, l in enumerate(lines)
             if l.split(b":")[0].decode().lower() not in RESERVED]
    i = draw(st.sampled_from(plain))
    name, _, value = lines[i].partition(b":")
    if kind == "no_colon":
        lines[i] = name + value.replace(b":", b"")      # the value may hold colons too
    elif kind == "space_before_colon":
        lines[i] = name + draw(st.sampled_from([b" ", b"\t", b"  "])) + b":" + value
    elif kind == "bad_status_line":
        status = draw(st.sampled_from(BAD_STATUS_LINES))
    elif kind == "nul_in_value" or kind == "cr_in_value":
        bad = b"\x00" if kind == "nul_in_value" else b"\r"
        at = draw(st.integers(0, len(value)))
        lines[i] = name + b":" + b"x" + value[:at] + bad + value[at:] + b"x"
    elif kind == "bad_name_char":
        ch = draw(st.sampled_from(BAD_NAME_CHARS)).encode("latin-1")
        # a space/tab at the start of a line would be an obs-fold (a different kind)
        at = draw(st.integers(1 if ch in b" \t" else 0, len(name)))
        lines[i] = name[:at] + ch + name[at:] + b":" + value
    elif kind == "empty_name":
        lines[i] = b":" + value
    elif kind == "two_cl":
        other = len(r.body) + draw(st.integers(1, 50))
        lines.insert(draw(st.integers(0, len(lines))), f"Content-Length: {other}".encode())
    elif kind == "bad_content_length":
        j = next(k for k, l in enumerate(lines) if l.lower().startswith(b"content-length:"))
        lines[j] = b"Content-Length: " + draw(st.sampled_from(BAD_CL)).encode()
    elif kind in ("bad_chunk_size", "chunk_no_crlf", "trailer_no_colon"):
        pieces = r.chunk_pieces()
        k = draw(st.integers(0, len(pieces) - 2))        # a data-carrying chunk
        out = []
        for j, (line, data) in enumerate(pieces):
            if j == k and kind == "bad_chunk_size":
                line = draw(st.sampled_from(BAD_CHUNK_SIZES))
            out.append(line + b"\r\n")
            if data:
                foot = draw(st.sampled_from(BAD_CHUNK_FOOTERS)) if (
                    j == k and kind == "chunk_no_crlf") else b"\r\n"
                out.append(data + foot)
        if kind == "trailer_no_colon":
            out.append(draw(names).encode() + b" " + draw(st.text(VCHAR, max_size=5)).encode() + b"\r\n")
        out.append(b"\r\n")
        body = b"".join(out)
    else:
        raise AssertionError(kind)
    return status + b"\r\n" + b"".join(l + b"\r\n" for l in lines) + b"\r\n" + body


@st.composite
def mutated(draw, data: bytes):
    """Random byte-level damage to a valid stream."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "dup", "truncate", "special"]))
        if not data:
            data += draw(st.binary(min_size=1, max_size=8))
            continue
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 8))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "dup":
            data[i:i] = data[i:i + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = draw(st.sampled_from(
                [b"\r\n", b"\n", b"\r", b":", b" ", b"\t", b"\x00", b"FFFFFFFFFFFFFFFFFFFF",
                 b"\r\nTransfer-Encoding: chunked", b"\r\nContent-Length: 7",
                 b"\r\nContent-Length: 99999999999999999999999", b"HTTP/1.1 100 Continue\r\n\r\n"]))
    return bytes(data)
