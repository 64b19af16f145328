# cython: boundscheck=False, wraparound=False, initializedcheck=False
# Buffer writes go through WriteBuf.reserve(), which guarantees the space.
"""Building HTTP/1.1 requests straight into one wire buffer.

``RequestWriter(host, base_path=..., headers=...)`` holds the parts every
request shares (request-line prefix, Host, default headers) pre-encoded.
``writer.post("/order").header(k, v).body_json(obj).finish()`` writes the body
into the writer's buffer first, then puts the head in front of it (in the
buffer's headroom), so the request is one contiguous region and the body is
never copied twice. ``Content-Length`` and ``Host`` are written for you.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.string cimport memcpy, memmove

from nexus_net._ascii cimport ascii_ieq, is_tchar
from nexus_net.buf cimport WriteBuf

import orjson

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    object PyMemoryView_FromMemory(char* mem, Py_ssize_t size, int flags)
    int PyBUF_READ
    int PyBUF_WRITE

cdef object _dumps = orjson.dumps

cdef bint UNRESERVED[256]
for _c in range(256):
    UNRESERVED[_c] = (chr(_c).isalnum() and _c < 128) or chr(_c) in "-._~"
cdef const char* HEX = b"0123456789ABCDEF"
_METHODS_WITH_BODY = frozenset({b"POST", b"PUT", b"PATCH"})
cdef dict _METHOD_BYTES = {m: m.encode() for m in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")}
cdef dict _METHOD_STR = {b: m for m, b in _METHOD_BYTES.items()}     # Request.method without a decode


cdef inline int put(WriteBuf w, const char* p, Py_ssize_t n) except -1:
    cdef char* dst = w.reserve(n)
    memcpy(dst, p, n)
    w.end += n
    return 0


cdef inline int put_str(WriteBuf w, object s) except -1:
    cdef Py_ssize_t n
    cdef const char* p = PyUnicode_AsUTF8AndSize(s, &n)
    return put(w, p, n)


cdef int put_encoded(WriteBuf w, object s) except -1:
    """Percent-encode ``s`` (UTF-8) for a query component."""
    cdef Py_ssize_t n, i
    cdef const unsigned char* p
    cdef unsigned char c
    cdef char* dst
    if not isinstance(s, str):
        s = str(s)
    p = <const unsigned char*>PyUnicode_AsUTF8AndSize(s, &n)
    dst = w.reserve(3 * n)
    for i in range(n):
        c = p[i]
        if UNRESERVED[c]:
            dst[0] = <char>c
            dst += 1
        else:
            dst[0] = 37            # '%'
            dst[1] = HEX[c >> 4]
            dst[2] = HEX[c & 15]
            dst += 3
    w.end = dst - w.data
    return 0


cdef int check_name(object name) except -1:
    cdef Py_ssize_t n, i
    cdef const unsigned char* p = <const unsigned char*>PyUnicode_AsUTF8AndSize(name, &n)
    if n == 0:
        raise ValueError("empty header name")
    for i in range(n):
        if not is_tchar(p[i]):
            raise ValueError(f"invalid character {chr(p[i])!r} in header name {name!r}")
    return 0




cdef inline bint is_reserved(const char* p, Py_ssize_t n) noexcept:
    """Host, Content-Length and Transfer-Encoding are the writer's to write."""
    return ascii_ieq(p, n, "host", 4) or ascii_ieq(p, n, "content-length", 14) \
        or ascii_ieq(p, n, "transfer-encoding", 17)


cdef int check_not_reserved(object name) except -1:
    cdef Py_ssize_t n
    cdef const char* p = PyUnicode_AsUTF8AndSize(name, &n)
    if is_reserved(p, n):
        raise ValueError(f"{name} is written by the RequestWriter (Host from the writer's host, "
                         "Content-Length from the body); setting it too would send it twice")
    return 0


cdef int put_decimal(WriteBuf w, Py_ssize_t v) except -1:
    cdef char digits[24]
    cdef int i = 24
    if v == 0:
        return put(w, b"0", 1)
    while v > 0:
        i -= 1
        digits[i] = 48 + (v % 10)
        v //= 10
    return put(w, digits + i, 24 - i)


cdef int check_value(object value) except -1:
    cdef Py_ssize_t n, i
    cdef const unsigned char* p = <const unsigned char*>PyUnicode_AsUTF8AndSize(value, &n)
    for i in range(n):
        if (p[i] < 32 and p[i] != 9) or p[i] == 127:
            raise ValueError(f"header value {value!r} contains a control character "
                             "(CR or LF would inject headers; RFC 9110 allows only HTAB)")
    return 0


cdef int check_target(object target) except -1:
    cdef Py_ssize_t n, i
    cdef const unsigned char* p = <const unsigned char*>PyUnicode_AsUTF8AndSize(target, &n)
    for i in range(n):
        if p[i] <= 32 or p[i] == 127:
            raise ValueError(f"request path {target!r} contains a space or control character; "
                             "percent-encode it")
    return 0


@cython.final
@cython.freelist(8)
cdef class Request:
    """A finished request: a view of its wire bytes in the writer's buffer.

    It is valid until the same ``RequestWriter`` builds its next request;
    after that, using it raises ``RuntimeError`` (never stale bytes). Keep a
    copy with ``bytes(request)``.
    """

    cdef RequestWriter writer
    cdef readonly unsigned long long generation
    cdef bytes method_b
    cdef readonly bint is_head   # a HEAD request: its response has no body
    cdef Py_ssize_t target_off   # where the target is in the writer's out buffer
    cdef Py_ssize_t target_len
    cdef str target_str

    @property
    def method(self):
        cdef object m = _METHOD_STR.get(self.method_b)
        return m if m is not None else self.method_b.decode()

    @property
    def target(self):
        """The request target (path and query), as sent."""
        if self.target_str is None:
            self.check()
            self.target_str = PyUnicode_DecodeLatin1(self.writer.out.data + self.target_off,
                                                     self.target_len, NULL)
        return self.target_str

    cdef inline int check(self) except -1:
        if self.generation != self.writer.generation:
            raise RuntimeError("this Request was overwritten: its RequestWriter has built a newer "
                               "request since. Send a request before building the next one, or "
                               "keep bytes(request)")
        return 0

    @property
    def data(self):
        """The wire bytes as a read-only memoryview (valid until the next request)."""
        self.check()
        return PyMemoryView_FromMemory(self.writer.out.data + self.writer.out.start,
                                       self.writer.out.end - self.writer.out.start, PyBUF_READ)

    def bytes(self):
        self.check()
        return PyBytes_FromStringAndSize(self.writer.out.data + self.writer.out.start,
                                         self.writer.out.end - self.writer.out.start)

    def __bytes__(self):
        return self.bytes()

    def __len__(self):
        self.check()
        return self.writer.out.end - self.writer.out.start

    def __repr__(self):
        return f"<Request {self.method} {self.target}>"


@cython.final
@cython.freelist(8)
cdef class RequestBuilder:
    """Fluent request construction; see ``RequestWriter``."""

    cdef RequestWriter w
    cdef bytes method
    cdef str path
    cdef bint line_closed        # request line (and Host, defaults) written
    cdef bint has_query
    cdef bint has_body
    cdef bint finished
    cdef Py_ssize_t query_start  # offset of the query in the head buffer, -1 if none
    cdef Py_ssize_t target_end   # offset just past the request target in the head buffer

    def __init__(self, *args, **kwargs):
        raise TypeError("use RequestWriter.get/post/put/delete/patch/request")

    cdef int close_line(self) except -1:
        if not self.line_closed:
            self.target_end = self.w.head.end - self.w.head.start
            put(self.w.head, b" HTTP/1.1\r\n", 11)
            put(self.w.head, PyBytes_AS_STRING(self.w.fixed), PyBytes_GET_SIZE(self.w.fixed))
            self.line_closed = True
        return 0

    cdef int check_open(self) except -1:
        if self.finished:
            raise RuntimeError("this request is already finished")
        if self.w.builder is not self:
            raise RuntimeError("another request was started on this RequestWriter since")
        return 0

    def query(self, key, value):
        """Append ``key=value`` to the query string, percent-encoded."""
        self.check_open()
        if self.line_closed:
            raise RuntimeError("query() must come before header() and body()")
        put(self.w.head, b"&" if self.has_query else b"?", 1)
        if not self.has_query:
            self.query_start = self.w.head.end - self.w.head.start
        self.has_query = True
        put_encoded(self.w.head, key)
        put(self.w.head, b"=", 1)
        put_encoded(self.w.head, value)
        return self

    def header(self, str name, str value):
        """Add a header (validated: no CR/LF/NUL injection, token name)."""
        self.check_open()
        self.put_header(name, value)
        return self

    def headers(self, pairs):
        """Add several headers at once: an iterable of ``(name, value)`` pairs
        (a dict's ``.items()``, a list of tuples); each one as ``header()``."""
        self.check_open()
        for name, value in pairs:
            self.put_header(name, value)
        return self

    cdef int put_header(self, str name, str value) except -1:
        # One UTF-8 lookup per string, one pass to validate, one reserve and
        # two copies: the per-header cost is a few dozen nanoseconds.
        cdef Py_ssize_t nn, vn, i
        cdef const unsigned char* np = <const unsigned char*>PyUnicode_AsUTF8AndSize(name, &nn)
        cdef const unsigned char* vp = <const unsigned char*>PyUnicode_AsUTF8AndSize(value, &vn)
        cdef char* dst
        if nn == 0:
            raise ValueError("empty header name")
        for i in range(nn):
            if not is_tchar(np[i]):
                raise ValueError(f"invalid character {chr(np[i])!r} in header name {name!r}")
        if (nn == 4 or nn == 14 or nn == 17) and is_reserved(<const char*>np, nn):
            raise ValueError(f"{name} is written by the RequestWriter (Host from the writer's host, "
                             "Content-Length from the body); setting it too would send it twice")
        for i in range(vn):
            if (vp[i] < 32 and vp[i] != 9) or vp[i] == 127:
                raise ValueError(f"header value {value!r} contains a control character "
                                 "(CR or LF would inject headers; RFC 9110 allows only HTAB)")
        self.close_line()
        dst = self.w.head.reserve(nn + vn + 4)
        memcpy(dst, np, nn)
        dst[nn] = 58                       # ':'
        dst[nn + 1] = 32
        memcpy(dst + nn + 2, vp, vn)
        dst[nn + 2 + vn] = 13
        dst[nn + 3 + vn] = 10
        self.w.head.end += nn + vn + 4
        return 0

    cdef int start_body(self) except -1:
        self.check_open()
        if self.has_body:
            raise RuntimeError("the body was already given")
        self.has_body = True
        return 0

    def body(self, data):
        """The body: any bytes-like object (copied once, into the wire buffer)."""
        self.start_body()
        if type(data) is bytes:
            put(self.w.out, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
            return self
        cdef const unsigned char[::1] src = data
        if src.shape[0]:
            put(self.w.out, <const char*>&src[0], src.shape[0])
        return self

    def body_json(self, obj):
        """The body: ``obj`` serialised by orjson (Content-Type is up to you)."""
        self.start_body()
        cdef bytes raw = _dumps(obj)
        put(self.w.out, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))
        return self

    def body_form(self, pairs):
        """The body: ``pairs`` (a mapping, or ``(key, value)`` pairs, in order)
        as ``application/x-www-form-urlencoded``, percent-encoded exactly as
        ``query()`` encodes (what an exchange signs is what goes out); sets
        the Content-Type."""
        self.start_body()
        cdef WriteBuf out = self.w.out
        cdef bint first = True
        for k, v in (pairs.items() if hasattr(pairs, "items") else pairs):
            if not first:
                put(out, b"&", 1)
            first = False
            put_encoded(out, k)
            put(out, b"=", 1)
            put_encoded(out, v)
        self.put_header("Content-Type", "application/x-www-form-urlencoded")
        return self

    def body_writer(self, fn):
        """The body: ``fn(sink)`` calls ``sink.write(bytes_like)`` any number of times."""
        self.start_body()
        fn(_BodySink.new(self.w.out))
        return self

    def body_fixed(self, Py_ssize_t n, fn):
        """The body: ``fn(view)`` fills a writable memoryview of exactly ``n`` bytes."""
        self.start_body()
        if n < 0:
            raise ValueError("negative body size")
        cdef char* dst = self.w.out.reserve(n)
        fn(PyMemoryView_FromMemory(dst, n, PyBUF_WRITE))
        self.w.out.end += n
        return self

    def finish(self):
        """Write Content-Length (and signer headers) and return the ``Request``."""
        cdef RequestWriter w = self.w
        cdef WriteBuf out = w.out
        cdef WriteBuf head = w.head
        cdef Py_ssize_t body_len = out.end - out.start
        cdef Py_ssize_t head_len
        cdef char* dst
        cdef Request req
        self.check_open()
        self.close_line()
        if w.signer is not None:
            path_q = self.target_text(head)
            path, _, query = path_q.partition("?")
            for name, value in w.signer(self.method.decode(), path, query,
                                        PyMemoryView_FromMemory(out.data + out.start, body_len, PyBUF_READ)):
                self.header(name, value)
        if self.has_body or self.method in _METHODS_WITH_BODY:
            put(head, b"Content-Length: ", 16)
            put_decimal(head, body_len)
            put(head, b"\r\n", 2)
        put(head, b"\r\n", 2)
        head_len = head.end - head.start
        if head_len > out.start:
            # Not enough headroom: move the body back once (rare: huge heads).
            out.reserve(head_len)
            memmove(out.data + out.start + head_len, out.data + out.start, body_len)
            out.end += head_len
            memcpy(out.data + out.start, head.data + head.start, head_len)
        else:
            out.start -= head_len
            memcpy(out.data + out.start, head.data + head.start, head_len)
        self.finished = True
        w.builder = None
        req = Request.__new__(Request)
        req.writer = w
        req.generation = w.generation
        req.method_b = self.method
        req.is_head = self.method == b"HEAD"
        req.target_off = out.start + len(self.method) + 1
        req.target_len = self.target_end - len(self.method) - 1
        return req

    cdef str target_text(self, WriteBuf head):
        cdef Py_ssize_t off = len(self.method) + 1
        return PyUnicode_DecodeLatin1(head.data + head.start + off, self.target_end - off, NULL)


@cython.final
cdef class _BodySink:
    """The file-like object ``body_writer`` callbacks write to."""
    cdef WriteBuf out

    @staticmethod
    cdef _BodySink new(WriteBuf out):
        cdef _BodySink s = _BodySink.__new__(_BodySink)
        s.out = out
        return s

    def write(self, data):
        cdef const unsigned char[::1] src = data
        if src.shape[0]:
            put(self.out, <const char*>&src[0], src.shape[0])
        return src.shape[0]


@cython.final
cdef class RequestWriter:
    """Builds requests for one host into a reused buffer.

    ``RequestWriter("api.exchange.example", base_path="/api/v3", headers={...})``;
    then ``writer.get(path)`` / ``post`` / ``put`` / ``delete`` / ``patch`` /
    ``request(method, path)`` return a builder: ``.query(k, v)``,
    ``.header(k, v)``, ``.body(...)`` / ``.body_json(obj)`` /
    ``.body_writer(fn)`` / ``.body_fixed(n, fn)``, ``.finish()`` -> ``Request``.
    ``signer``: optional ``fn(method, path, query, body_view) -> [(name, value)]``
    called at ``finish()`` to add headers (e.g. an HMAC signature).
    ``accept_encoding``: content-codings to ask for, e.g. ``("gzip", "deflate")``
    (sent as ``Accept-Encoding`` with every request; the default None sends
    nothing, so servers answer with identity, the fastest path). A
    ``ResponseReader`` decodes what it names.
    """

    cdef readonly str host
    cdef readonly str base_path
    cdef bytes fixed             # "Host: ...\r\n" + default header lines
    cdef list defaults
    cdef WriteBuf head
    cdef WriteBuf out
    cdef RequestBuilder builder
    cdef unsigned long long generation
    cdef public object signer

    def __init__(self, str host, *, port=None, bint secure=True, str base_path="", headers=None,
                 signer=None, Py_ssize_t buffer_size=16 * 1024, Py_ssize_t headroom=2048,
                 Py_ssize_t max_request_size=64 * 1024 * 1024, accept_encoding=None):
        if base_path and not base_path.startswith("/"):
            raise ValueError(f"base_path must start with '/', got {base_path!r}")
        check_target(base_path or "/")
        host_value = f"[{host}]" if ":" in host and not host.startswith("[") else host
        if port is not None and port != (443 if secure else 80):
            host_value = f"{host_value}:{port}"
        check_value(host_value)
        self.host = host_value
        self.base_path = base_path.rstrip("/")
        self.defaults = []
        self.head = WriteBuf(1024, 0, max_request_size)
        self.out = WriteBuf(buffer_size + headroom, headroom, max_request_size)
        self.signer = signer
        for name, value in (headers.items() if hasattr(headers, "items") else (headers or ())):
            self.default_header(name, value)
        if accept_encoding:
            from nexus_net.http.compression import accept_encoding_value
            self.default_header("Accept-Encoding", accept_encoding_value(accept_encoding))
        self.rebuild_fixed()

    def default_header(self, str name, str value):
        """A header sent with every request from now on."""
        check_name(name)
        check_not_reserved(name)
        check_value(value)
        self.defaults.append((name, value))
        self.rebuild_fixed()

    cdef rebuild_fixed(self):
        parts = [f"Host: {self.host}\r\n"] + [f"{n}: {v}\r\n" for n, v in self.defaults]
        self.fixed = "".join(parts).encode("utf-8")

    cpdef RequestBuilder request(self, str method, str path):
        """Start a request; ``path`` is appended to ``base_path``."""
        cdef RequestBuilder b
        cdef bytes m = _METHOD_BYTES.get(method)
        if m is None:                          # an uncommon or lower-case method
            check_name(method)
            m = method.upper().encode("ascii")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        check_target(path)
        self.generation += 1
        self.head.start = self.head.end = 0
        self.out.start = self.out.end = self.out.headroom
        b = RequestBuilder.__new__(RequestBuilder)
        b.w = self
        b.method = m
        b.query_start = -1
        self.builder = b
        put(self.head, PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m))
        put(self.head, b" ", 1)
        if self.base_path:
            put_str(self.head, self.base_path)
        put_str(self.head, path)
        return b

    def get(self, str path):
        return self.request("GET", path)

    def post(self, str path):
        return self.request("POST", path)

    def put(self, str path):
        return self.request("PUT", path)

    def delete(self, str path):
        return self.request("DELETE", path)

    def patch(self, str path):
        return self.request("PATCH", path)

    def head_request(self, str path):
        return self.request("HEAD", path)
