"""A blocking socket, optionally through the TLS codec, feeding any reader that
has ``buffer()``/``advance()``/``read_buffer`` (FrameReader, ResponseReader)."""

from __future__ import annotations

import socket
import struct
import sys
from typing import Any, Protocol

from nexus_net.buf import ReadBuf
from nexus_net.tls import TlsCodec, TlsHandshakeError

RECV_SIZE = 64 * 1024

# A socket with a Python-level timeout makes CPython poll() before every
# send and recv: one more syscall each way. Where the kernel can time the
# socket itself (SO_RCVTIMEO / SO_SNDTIMEO), the socket stays blocking and a
# timeout comes back as EAGAIN, so a request costs its send and its recv and
# nothing else. MSG_DONTWAIT peeks without switching the socket's mode.
KERNEL_TIMEOUTS = sys.platform.startswith(("linux", "darwin")) and hasattr(socket, "SO_RCVTIMEO")
MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
PEEK_NOW = int(socket.MSG_PEEK) | int(MSG_DONTWAIT)    # (an int: or-ing the enum members costs ~1 us)


class Fillable(Protocol):
    def buffer(self, min_free: int = ...) -> memoryview: ...
    def advance(self, n: int) -> None: ...
    @property
    def read_buffer(self) -> ReadBuf: ...


class BlockingIo:
    def __init__(self, sock: socket.socket, codec: TlsCodec | None, first: bytes = b"") -> None:
        self.sock = sock
        self.codec = codec
        # Bytes already read from the socket that come before anything else
        # (what a proxy sent after its reply: the tunnel's first bytes).
        self.first = first
        self.wrote_any = False
        self.kernel_timeout = False      # SO_RCVTIMEO/SO_SNDTIMEO in force: EAGAIN means timed out

    def set_timeout(self, seconds: float | None) -> None:
        """The timeout of every later send and recv (None: wait forever),
        kept by the kernel where it can (see KERNEL_TIMEOUTS)."""
        if not KERNEL_TIMEOUTS:
            self.sock.settimeout(seconds)
            return
        self.sock.settimeout(None)
        whole = int(seconds) if seconds else 0
        micro = int(round(((seconds or 0.0) - whole) * 1e6))
        if seconds and whole == 0 and micro == 0:
            micro = 1                    # (0 would mean "no timeout" to the kernel)
        tv = struct.pack("@ll", whole, micro)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        self.kernel_timeout = bool(seconds)

    def recv_into(self, buf: Any) -> int:
        if self.first:
            n = min(len(buf), len(self.first))
            buf[:n] = self.first[:n]
            self.first = self.first[n:]
            return n
        try:
            return self.sock.recv_into(buf)
        except BlockingIOError:
            if self.kernel_timeout:
                raise socket.timeout("timed out") from None
            raise

    def fill(self, reader: Fillable) -> int:
        """Receive once (or until a whole TLS record is in); plaintext bytes added, 0 at EOF."""
        if self.codec is None:
            n = self.recv_into(reader.buffer(RECV_SIZE))
            if n:
                reader.advance(n)
            return n
        codec, buf = self.codec, reader.read_buffer
        while True:
            n = self.recv_into(codec.get_buffer(RECV_SIZE))
            if n == 0:
                return 0
            got = codec.received_into(n, buf)
            if got:
                return got
            if codec.peer_closed:
                return 0

    def send(self, data: Any) -> None:
        """Send all of ``data``. If it raises, ``wrote_any`` says whether any
        byte went out before (a request with none written was not sent)."""
        payload = data if self.codec is None else self.codec.encrypt(data)
        self.wrote_any = False
        try:
            n = self.sock.send(payload)         # raises before writing anything, or writes some
            self.wrote_any = True
            if n < len(payload):
                self.sock.sendall(memoryview(payload)[n:])
        except BlockingIOError:
            if self.kernel_timeout:
                raise socket.timeout("timed out") from None
            raise

    def tls_handshake(self, reader: Fillable) -> None:
        codec = self.codec
        assert codec is not None
        while True:
            try:
                done = codec.do_handshake()
            finally:
                out = codec.pending_output()      # handshake bytes, or the alert on failure
                if out:
                    self.sock.sendall(out)
            if done:
                break
            n = self.recv_into(codec.get_buffer(RECV_SIZE))
            if n == 0:
                raise TlsHandshakeError("the peer closed the connection during the TLS handshake")
            codec.buffer_updated(n)
        codec.read_into(reader.read_buffer)

    def peer_closed_idle(self) -> bool:
        """True if the peer has closed (or reset) the connection while we were idle."""
        if self.first:
            return False
        try:
            if MSG_DONTWAIT and self.sock.gettimeout() is None:
                data = self.sock.recv(1, PEEK_NOW)                           # one syscall
            else:
                timeout = self.sock.gettimeout()    # (setblocking would forget the timeout)
                self.sock.setblocking(False)
                try:
                    data = self.sock.recv(1, socket.MSG_PEEK)
                finally:
                    self.sock.settimeout(timeout)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        return data == b""

    def close(self) -> None:
        if self.codec is not None and self.codec.handshake_done:
            try:
                self.sock.sendall(self.codec.shutdown())
            except OSError:
                pass
        self.sock.close()
