# cython: boundscheck=False, wraparound=False, initializedcheck=False
# Every write goes through ``Out``, whose capacity was checked before.
"""Write HTTP/1.1 messages into a buffer you own, allocating nothing.

``write_request``, ``write_response`` and ``write_chunk`` take any writable
buffer (a ``bytearray``, a ``memoryview`` of one, an ``mmap``...) and return the
number of bytes written. The size is computed and every field validated
before a byte is written, so a message is either written whole or not at
all: ``BufferTooSmall`` (with ``needed``) or ``ValueError``.

No allocation: buffers are acquired with ``PyObject_GetBuffer`` into stack
structs, ``str`` arguments are read through their cached UTF-8 form, header
lists and tuples are indexed in place, and numbers are formatted in C.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.string cimport memcpy

from nexus_net._ascii cimport ascii_ieq, is_tchar

from nexus_net.http.errors import BufferTooSmall

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL


cdef const char* HEX_DIGITS = b"0123456789abcdef"


cdef struct Out:
    char* p
    Py_ssize_t n


cdef inline void put(Out* o, const char* s, Py_ssize_t n) noexcept:
    memcpy(o.p + o.n, s, n)
    o.n += n


cdef inline Py_ssize_t digits_of(unsigned long long v) noexcept:
    cdef Py_ssize_t d = 1
    while v >= 10:
        v //= 10
        d += 1
    return d


cdef inline void put_decimal(Out* o, unsigned long long v) noexcept:
    cdef Py_ssize_t d = digits_of(v), i
    for i in range(d - 1, -1, -1):
        o.p[o.n + i] = <char>(48 + v % 10)
        v //= 10
    o.n += d


cdef inline void put_hex(Out* o, unsigned long long v) noexcept:
    cdef Py_ssize_t d = 1, i
    cdef unsigned long long t = v
    while t >= 16:
        t >>= 4
        d += 1
    for i in range(d - 1, -1, -1):
        o.p[o.n + i] = HEX_DIGITS[v & 15]
        v >>= 4
    o.n += d


cdef const char* text_of(object s, Py_ssize_t* n, str what) except NULL:
    """The bytes of a str (its cached UTF-8) or of a bytes object, in place."""
    if type(s) is bytes:
        n[0] = PyBytes_GET_SIZE(s)
        return PyBytes_AS_STRING(s)
    if isinstance(s, str):
        return PyUnicode_AsUTF8AndSize(s, n)
    raise TypeError(f"{what} must be str or bytes, not {type(s).__name__}")


cdef int check_token(const char* p, Py_ssize_t n, str what) except -1:
    cdef Py_ssize_t i
    if n == 0:
        raise ValueError(f"empty {what}")
    for i in range(n):
        if not is_tchar(<unsigned char>p[i]):
            raise ValueError(f"invalid character {chr(<unsigned char>p[i])!r} in {what} {p[:n]!r}")
    return 0


cdef int check_text(const char* p, Py_ssize_t n, str what) except -1:
    cdef Py_ssize_t i
    for i in range(n):
        if (<unsigned char>p[i] < 32 and p[i] != 9) or p[i] == 127:
            raise ValueError(f"{what} {p[:n]!r} contains a control character "
                             "(CR or LF would inject headers; RFC 9110 allows only HTAB)")
    return 0


cdef object pair_at(object headers, Py_ssize_t i, bint is_list):
    return <object>PyList_GET_ITEM(headers, i) if is_list else <object>PyTuple_GET_ITEM(headers, i)


cdef Py_ssize_t headers_size(object headers, bint* has_framing) except -1:
    """Validate the (name, value) pairs and return their wire size."""
    cdef Py_ssize_t i, count, nn, vn, total = 0
    cdef const char* name
    cdef const char* value
    cdef bint is_list = type(headers) is list
    if not is_list and type(headers) is not tuple:
        raise TypeError("headers must be a list or tuple of (name, value) pairs")
    count = PyList_GET_SIZE(headers) if is_list else PyTuple_GET_SIZE(headers)
    for i in range(count):
        pair = pair_at(headers, i, is_list)
        if type(pair) is not tuple or PyTuple_GET_SIZE(pair) != 2:
            raise TypeError(f"header {i} is not a (name, value) tuple")
        name = text_of(<object>PyTuple_GET_ITEM(pair, 0), &nn, "a header name")
        value = text_of(<object>PyTuple_GET_ITEM(pair, 1), &vn, "a header value")
        check_token(name, nn, "header name")
        check_text(value, vn, "header value")
        if ascii_ieq(name, nn, "content-length", 14) or ascii_ieq(name, nn, "transfer-encoding", 17):
            has_framing[0] = True
        total += nn + vn + 4
    return total


cdef void put_headers(Out* o, object headers) noexcept:
    cdef Py_ssize_t i, count, nn, vn
    cdef const char* name
    cdef const char* value
    cdef bint is_list = type(headers) is list
    count = PyList_GET_SIZE(headers) if is_list else PyTuple_GET_SIZE(headers)
    for i in range(count):
        pair = pair_at(headers, i, is_list)
        # validated by headers_size(): these cannot fail
        name = text_of(<object>PyTuple_GET_ITEM(pair, 0), &nn, "")
        value = text_of(<object>PyTuple_GET_ITEM(pair, 1), &vn, "")
        put(o, name, nn)
        put(o, ": ", 2)
        put(o, value, vn)
        put(o, "\r\n", 2)


cdef enum Framing:
    LENGTH_ALWAYS            # a body: Content-Length is ours to write
    LENGTH_UNLESS_FRAMED     # Content-Length: 0 unless the headers frame the body
    AS_GIVEN                 # the headers say it all (requests without a body, 304)
    NO_FRAMING               # 1xx and 204: no Content-Length, no Transfer-Encoding


cdef Py_ssize_t write_message(object dst, const char** pieces, Py_ssize_t* lens, int npieces,
                              object headers, object body, Framing framing) except -1:
    """The start line (``npieces`` pieces of text), the headers, the framing
    header ``framing`` calls for, the empty line and the body: validated and
    sized first, then written in one pass."""
    cdef Py_buffer out, src
    cdef Py_ssize_t size = 0, body_len = 0
    cdef bint has_framing = False, content_length
    cdef int k
    cdef Out o
    if body is not None:
        PyObject_GetBuffer(body, &src, PyBUF_SIMPLE)
        body_len = src.len
    try:
        for k in range(npieces):
            size += lens[k]
        size += headers_size(headers, &has_framing) + 2 + body_len
        if has_framing and framing == LENGTH_ALWAYS:
            raise ValueError("Content-Length is written for you; don't pass Content-Length "
                             "or Transfer-Encoding headers as well")
        if has_framing and framing == NO_FRAMING:
            raise ValueError("1xx and 204 responses carry neither Content-Length nor Transfer-Encoding")
        content_length = framing == LENGTH_ALWAYS or (framing == LENGTH_UNLESS_FRAMED and not has_framing)
        if content_length:
            size += 18 + digits_of(<unsigned long long>body_len)
        PyObject_GetBuffer(dst, &out, PyBUF_SIMPLE | PyBUF_WRITABLE)
        try:
            if out.len < size:
                raise BufferTooSmall(f"the message takes {size} bytes; the buffer has {out.len}", size)
            o.p = <char*>out.buf
            o.n = 0
            for k in range(npieces):
                put(&o, pieces[k], lens[k])
            put_headers(&o, headers)
            if content_length:
                put(&o, "Content-Length: ", 16)
                put_decimal(&o, <unsigned long long>body_len)
                put(&o, "\r\n", 2)
            put(&o, "\r\n", 2)
            if body_len:
                put(&o, <const char*>src.buf, body_len)
            return o.n
        finally:
            PyBuffer_Release(&out)
    finally:
        if body is not None:
            PyBuffer_Release(&src)


def write_request(dst, method, target, headers=(), body=None):
    """Write a request into ``dst``; returns its size in bytes.

    ``method`` and ``target`` (origin form, e.g. ``"/api/v3/order?x=1"``) are
    str or bytes; ``headers`` a list or tuple of ``(name, value)`` pairs (put
    ``Host`` there yourself); a ``body`` (bytes-like) gets a Content-Length.
    """
    cdef const char* pieces[4]
    cdef Py_ssize_t lens[4]
    cdef Py_ssize_t i
    pieces[0] = text_of(method, &lens[0], "method")
    check_token(pieces[0], lens[0], "method")
    pieces[1] = " "
    lens[1] = 1
    pieces[2] = text_of(target, &lens[2], "target")
    if lens[2] == 0:
        raise ValueError("empty request target")
    for i in range(lens[2]):
        if <unsigned char>pieces[2][i] < 33 or pieces[2][i] == 127:
            raise ValueError(f"request target {pieces[2][:lens[2]]!r} contains a space or control character")
    pieces[3] = " HTTP/1.1\r\n"
    lens[3] = 11
    return write_message(dst, pieces, lens, 4, headers, body, LENGTH_ALWAYS if body is not None else AS_GIVEN)


def write_response(dst, status_code, headers=(), body=None, reason=None):
    """Write a response into ``dst``; returns its size in bytes.

    ``reason`` defaults to the standard phrase. A ``body`` (bytes-like) gets a
    Content-Length; with no body, ``Content-Length: 0`` is written unless
    the status forbids a body (1xx, 204, 304) or your headers frame it
    (``Transfer-Encoding: chunked`` followed by ``write_chunk`` calls).
    """
    cdef const char* pieces[4]
    cdef Py_ssize_t lens[4]
    cdef char code[5]
    cdef Framing framing
    cdef int status
    if not isinstance(status_code, int) or not 100 <= status_code <= 999:
        raise ValueError(f"status {status_code!r} is not a 3-digit code")
    status = status_code
    code[0] = <char>(48 + status // 100)
    code[1] = <char>(48 + status // 10 % 10)
    code[2] = <char>(48 + status % 10)
    code[3] = 32
    pieces[0] = "HTTP/1.1 "
    lens[0] = 9
    pieces[1] = code
    lens[1] = 4
    if reason is None:
        # indexed by the C int: no int object made per call
        reason = REASON_BY_CODE[status] if status < 600 else ""
    pieces[2] = text_of(reason, &lens[2], "reason")
    check_text(pieces[2], lens[2], "reason")
    pieces[3] = "\r\n"
    lens[3] = 2
    if status < 200 or status == 204 or status == 304:
        if body is not None and len(memoryview(body)):
            raise ValueError(f"a {status} response has no body")
        body = None
        framing = AS_GIVEN if status == 304 else NO_FRAMING   # a 304 may state the length
    else:
        framing = LENGTH_ALWAYS if body is not None else LENGTH_UNLESS_FRAMED
    return write_message(dst, pieces, lens, 4, headers, body, framing)


def write_chunk(dst, data=b""):
    """Write one chunk of a chunked body into ``dst``; empty ``data`` writes
    the last chunk (``0``, then the empty line that ends the body)."""
    cdef Py_buffer out, src
    cdef Py_ssize_t size
    cdef Out o
    cdef unsigned long long t
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        t = <unsigned long long>src.len
        size = 1
        while t >= 16:
            t >>= 4
            size += 1
        size += 4 + src.len if src.len else 4
        PyObject_GetBuffer(dst, &out, PyBUF_SIMPLE | PyBUF_WRITABLE)
        try:
            if out.len < size:
                raise BufferTooSmall(f"the chunk takes {size} bytes; the buffer has {out.len}", size)
            o.p = <char*>out.buf
            o.n = 0
            put_hex(&o, <unsigned long long>src.len)
            put(&o, "\r\n", 2)
            if src.len:
                put(&o, <const char*>src.buf, src.len)
                put(&o, "\r\n", 2)
            else:
                put(&o, "\r\n", 2)
            return o.n
        finally:
            PyBuffer_Release(&out)
    finally:
        PyBuffer_Release(&src)


cdef dict REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
    204: "No Content", 206: "Partial Content", 301: "Moved Permanently", 302: "Found",
    303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 411: "Length Required",
    413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    417: "Expectation Failed", 426: "Upgrade Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

cdef list REASON_BY_CODE = [REASONS.get(code, "") for code in range(600)]
