# cython: boundscheck=False, wraparound=False
# Record scanning reads p[n + 3], p[n + 4] only after checking that 5 bytes
# remain, so bounds checks are not needed.
"""Sans-IO TLS over ``ssl.MemoryBIO`` / ``SSLObject``.

Ciphertext is received into our own buffer (``cipher``); only complete TLS
records are handed to OpenSSL, so ``SSLObject.read`` is called only when a
record can be decrypted and almost never raises ``SSLWantReadError`` (raising
is expensive: CPython issue 123954). Plaintext is decrypted with
``SSLObject.read(n, buffer)`` straight into the free tail of the caller's
``ReadBuf``: no intermediate ``bytes``. Outgoing data is encrypted in
record-sized steps so the outgoing BIO stays small.
"""

import ssl

from nexus_net.buf cimport ReadBuf, Span, point

from nexus_net.tls import TlsCertificateError, TlsError, TlsHandshakeError

cdef object _WantRead = ssl.SSLWantReadError
cdef object _ZeroReturn = ssl.SSLZeroReturnError
cdef object _SSLError = ssl.SSLError
cdef object _CertError = ssl.SSLCertVerificationError

cdef Py_ssize_t RECORD = 16384                 # TLS plaintext record limit
cdef Py_ssize_t MAX_CIPHER_RECORD = 16384 + 2048 + 5
cdef Py_ssize_t FLUSH_EVERY = 256 * 1024


cdef class TlsCodec:
    """One TLS connection without I/O.

    Inbound: write ciphertext into ``cipher`` (``cipher.writable()`` /
    ``cipher.advance(n)``, or ``feed_ciphertext(data)``), then ``do_handshake()``
    until it returns True, then ``read_into(readbuf)``.
    Outbound: ``encrypt(data)`` returns ciphertext; ``pending_output()``
    returns what the handshake, alerts or ``shutdown()`` produced.
    ``peer_closed`` is set when the peer's close_notify arrived; a TCP end
    without it is a truncation (the caller decides what that means).
    """

    def __init__(self, config, bint server_side=False, server_hostname=None,
                 Py_ssize_t buffer_size=64 * 1024):
        ctx = config.context
        if server_side != (ctx.protocol == ssl.PROTOCOL_TLS_SERVER):
            raise TlsError("a server TlsCodec needs TlsConfig.server(...) and a client one a client config"
                           if server_side else "client TlsCodec given a server TlsConfig")
        self.server_side = server_side
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        hostname = None
        if not server_side:
            hostname = getattr(config, "sni", None) or server_hostname
        self.sslobj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                   server_hostname=hostname)
        self._bio_write = self.incoming.write
        self._bio_read = self.outgoing.read
        self._ssl_read = self.sslobj.read
        self._ssl_write = self.sslobj.write
        self._ssl_pending = self.sslobj.pending
        self.in_span = Span.__new__(Span)
        self.out_span = Span.__new__(Span)
        # At most one partial record plus one read waits here.
        self.cipher = ReadBuf(buffer_size, buffer_size + 4 * MAX_CIPHER_RECORD + 64 * 1024)

    # ---- inbound ------------------------------------------------------------------
    def feed_ciphertext(self, data):
        """Copy received ciphertext in (when not receiving into ``cipher`` directly)."""
        self.cipher.feed(data)
        self.ingest()

    def get_buffer(self, Py_ssize_t min_free=16384):
        """Writable memoryview for ciphertext; then call ``buffer_updated(n)``."""
        return self.cipher.writable(min_free)

    def buffer_updated(self, Py_ssize_t n):
        self.cipher.advance(n)
        self.ingest()

    cdef Py_ssize_t received(self, Py_ssize_t n, ReadBuf plain) except -1:
        """``n`` bytes of ciphertext landed in ``cipher``'s tail: hand the
        complete records to OpenSSL and, once the handshake is done, decrypt
        into ``plain``. Returns the plaintext bytes added (the one receive
        step both asyncio transports and the blocking I/O share)."""
        self.cipher.end += n
        self.ingest()
        return self.decrypt_into(plain) if self.handshake_done else 0

    def received_into(self, Py_ssize_t n, ReadBuf plain):
        """``received`` for Python callers (after filling ``get_buffer()``)."""
        return self.received(n, plain)

    cdef Py_ssize_t ingest(self) except -1:
        """Hand every complete record in ``cipher`` to OpenSSL."""
        cdef ReadBuf c = self.cipher
        cdef const unsigned char* p = <const unsigned char*>c.data + c.start
        cdef Py_ssize_t avail = c.end - c.start
        cdef Py_ssize_t n = 0, rec
        while avail - n >= 5:
            rec = 5 + ((<Py_ssize_t>p[n + 3] << 8) | p[n + 4])
            if rec > MAX_CIPHER_RECORD:
                n = avail              # not TLS, or hostile: let OpenSSL report it
                break
            if avail - n < rec:
                break
            n += rec
        if n:
            self._bio_write(point(self.in_span, <char*>p, n, False))
            c.drop(n)
            self.ciphertext_in += n
        return n

    def do_handshake(self):
        """Advance the handshake; True once it is complete."""
        if self.handshake_done:
            return True
        try:
            self.sslobj.do_handshake()
        except _WantRead:
            return False
        except _CertError as exc:
            raise TlsCertificateError(
                f"TLS certificate verification failed: {exc.verify_message} "
                f"(OpenSSL code {exc.verify_code})") from exc
        except _SSLError as exc:
            raise TlsHandshakeError(f"TLS handshake failed: {exc.reason or exc}") from exc
        self.handshake_done = True
        return True

    cdef Py_ssize_t decrypt_into(self, ReadBuf rb) except -1:
        """Decrypt everything available into ``rb``'s free tail; bytes added."""
        cdef Py_ssize_t total = 0, n, free
        cdef char* tail
        while self.incoming.pending or self._ssl_pending():
            tail = rb.reserve(RECORD)
            free = rb.cap - rb.end
            try:
                n = self._ssl_read(free, point(self.out_span, tail, free, True))
            except _WantRead:
                break                      # a record without application data
            except _ZeroReturn:
                self.peer_closed = True    # close_notify
                break
            except _SSLError as exc:
                raise TlsError(f"TLS error while reading: {exc.reason or exc}") from exc
            if n <= 0:
                break
            rb.end += n
            total += n
        return total

    def read_into(self, ReadBuf rb):
        """Decrypt what is available into ``rb``; returns the number of bytes added."""
        return self.decrypt_into(rb)

    # ---- outbound -------------------------------------------------------------------
    cdef int encrypt_to(self, object data, object sink) except -1:
        """Encrypt ``data`` and pass the ciphertext to ``sink`` (record-sized
        steps; the outgoing BIO is drained every 256 KiB)."""
        cdef Py_ssize_t n, i, j, k, step
        cdef const unsigned char[::1] mv
        if len(data) <= RECORD:
            try:
                self._ssl_write(data)
            except _SSLError as exc:
                raise TlsError(f"TLS error while writing: {exc.reason or exc}") from exc
            sink(self._bio_read())
            return 0
        mv = memoryview(data).cast("B")
        n = mv.shape[0]
        i = 0
        while i < n:
            step = n - i if n - i < FLUSH_EVERY else FLUSH_EVERY
            j = i
            while j < i + step:
                k = j + RECORD if j + RECORD < i + step else i + step
                try:
                    # a span, not a slice: SSLObject.write copies at once
                    self._ssl_write(point(self.in_span, <char*>&mv[j], k - j, False))
                except _SSLError as exc:
                    raise TlsError(f"TLS error while writing: {exc.reason or exc}") from exc
                j = k
            sink(self._bio_read())
            i += step
        return 0

    def encrypt(self, data):
        """Ciphertext for ``data`` (any bytes-like), as one bytes object."""
        parts = []
        self.encrypt_to(data, parts.append)
        return b"".join(parts)

    def pending_output(self):
        """Ciphertext produced by the handshake, alerts or shutdown."""
        return self._bio_read()

    def shutdown(self):
        """Send close_notify (once); returns the ciphertext to send."""
        if not self.close_sent and self.handshake_done:
            self.close_sent = True
            try:
                self.sslobj.unwrap()
            except (_WantRead, _SSLError):
                pass                       # we do not wait for the peer's close_notify
        return self._bio_read()

    # ---- information ----------------------------------------------------------------
    @property
    def version(self):
        return self.sslobj.version() if self.handshake_done else None

    @property
    def cipher_name(self):
        c = self.sslobj.cipher() if self.handshake_done else None
        return c[0] if c else None

    @property
    def alpn_protocol(self):
        return self.sslobj.selected_alpn_protocol() if self.handshake_done else None

    def peer_certificate(self):
        return self.sslobj.getpeercert() if self.handshake_done else None
