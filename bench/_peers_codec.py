"""Peer drivers for the in-memory WebSocket frame parse/encode benchmark.

Every peer library is driven *without sockets*: bytes are pushed straight into
its parser and encoded frames are taken straight out of its encoder.

Parsers
-------
``make_<peer>_parser(chunks, mode, role=None, *, sink=None) -> run``

* ``chunks``: list of bytes (see ``_frames.chunks``) holding one stream of
  identical single-frame messages.
* ``mode``: ``"binary"`` (deliver a bytes/bytearray/memoryview payload),
  ``"text"`` (deliver the ``str``) or ``"json"`` (deliver
  ``orjson.loads(payload)`` using the library's fastest path to the payload).
* ``role``: ``"server"`` parses a masked (client->server) stream,
  ``"client"`` parses an unmasked (server->client) stream. ``None`` infers it
  from the mask bit of the first frame.
* ``sink``: optional callable receiving every delivered object. Only for
  verification; the hot path (``sink=None``) just drops the object.

``run()`` builds a *fresh* parser (connection object) every call, parses the
whole stream, delivers every message and returns the number of messages
delivered.

Encoders
--------
``make_<peer>_encoder(payload_str, role="server") -> encode``

``encode()`` encodes one TEXT message carrying ``payload_str`` (the UTF-8
encoding of the str is part of the measured work for every peer) in server
role (unmasked) or client role (masked), and hands the wire bytes to a fake
transport or returns them, whichever the library does. ``encode.capture()``
performs one encode and returns the wire bytes of that single frame (for
verification only).

Registry: ``PEERS`` maps available peer names to ``(make_parser,
make_encoder)``; ``UNAVAILABLE`` maps peer names that failed to import to the
reason.

Run ``python bench/_peers_codec.py`` for the self-test + rough timings.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import hashlib
import logging
import os
import sys
from typing import Any, Callable

import orjson

if __package__:  # imported as ``bench._peers_codec``
    from . import _frames as F  # type: ignore[import-not-found]
else:  # run as a script, or imported with bench/ itself on sys.path
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    import _frames as F  # type: ignore[no-redef]

__all__ = [
    "MODES",
    "ROLES",
    "PEERS",
    "UNAVAILABLE",
    "infer_role",
    "make_picows_parser",
    "make_picows_encoder",
    "make_aiohttp_parser",
    "make_aiohttp_encoder",
    "make_websockets_parser",
    "make_websockets_encoder",
    "make_wsproto_parser",
    "make_wsproto_encoder",
]

MODES = ("binary", "text", "json")
ROLES = ("server", "client")

_loads = orjson.loads

PEERS: dict[str, tuple[Callable[..., Callable[[], int]], Callable[..., Callable[[], Any]]]] = {}
UNAVAILABLE: dict[str, str] = {}


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def infer_role(chunks: list[bytes]) -> str:
    """``"server"`` if the first frame is masked (client->server), else ``"client"``."""
    if not chunks or len(chunks[0]) < 2:
        raise ValueError("empty stream")
    return "server" if chunks[0][1] & 0x80 else "client"


def _check_args(chunks: list[bytes], mode: str, role: str | None) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    actual = infer_role(chunks)
    if role is None:
        return actual
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if role != actual:
        raise ValueError(
            f"role={role!r} but the stream is {'masked' if actual == 'server' else 'unmasked'}"
        )
    return role


def _check_enc_args(payload_str: str, role: str) -> None:
    if not isinstance(payload_str, str):
        raise TypeError("payload_str must be a str")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")


_LOOP: asyncio.AbstractEventLoop | None = None


def _loop() -> asyncio.AbstractEventLoop:
    """One private, never-running event loop (some objects insist on having one)."""
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
        atexit.register(_LOOP.close)
    return _LOOP


class _FakeSocket:
    """Just enough of a socket for picows' ``connection_made``."""

    def setsockopt(self, *args: Any) -> None:
        pass

    def getsockopt(self, *args: Any) -> int:
        return 0

    def fileno(self) -> int:
        return -1


class _FakeTransport:
    """asyncio.Transport stand-in whose write() only remembers the last write.

    ``get_write_buffer_size()`` returns 1 so that picows never tries its
    direct ``send(2)`` fast path on the (fake) socket and instead hands a
    ``bytes`` object to ``write()``, like the other libraries produce.
    """

    __slots__ = ("_sock", "last", "closing")

    def __init__(self) -> None:
        self._sock = _FakeSocket()
        self.last: Any = None
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._sock
        return default

    def get_write_buffer_size(self) -> int:
        return 1

    def write(self, data: Any) -> None:
        self.last = data

    def writelines(self, data: Any) -> None:
        self.last = b"".join(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        pass

    def get_protocol(self) -> Any:
        return None


class _FakeAiohttpProtocol:
    """Minimal stand-in for aiohttp's BaseProtocol (flow-control flags only)."""

    def __init__(self) -> None:
        self._reading_paused = False
        self._paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False

    async def _drain_helper(self) -> None:
        return None


def _register(name: str, make_parser: Callable, make_encoder: Callable) -> None:
    PEERS[name] = (make_parser, make_encoder)


def _unavailable(name: str, exc: BaseException) -> None:
    UNAVAILABLE[name] = f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------
# picows
# --------------------------------------------------------------------------
#
# picows has no standalone parser; it is a BufferedProtocol. We construct
# picows.picows.WSProtocol exactly like ws_create_server/ws_connect do, attach
# a fake transport, complete a real HTTP upgrade handshake in memory (server:
# feed a GET upgrade request; client: answer the request picows wrote with a
# valid 101 response), then feed the stream through get_buffer()/
# buffer_updated(), the path asyncio/uvloop use. Frames arrive in
# WSListener.on_ws_frame. The handshake is part of every run() (~15-20 us,
# i.e. ~1.5-2 ns/msg amortised over 10k messages).

try:
    from picows import WSAutoPingStrategy, WSListener, WSMsgType
    from picows.picows import WSProtocol, WSTransport  # type: ignore[attr-defined]
except Exception as _exc:  # pragma: no cover - depends on environment
    _unavailable("picows", _exc)
else:
    _PICOWS_LOGGER = logging.getLogger("nexus_bench.picows")
    _PICOWS_LOGGER.setLevel(logging.WARNING)  # keep connection_made()'s INFO lines quiet
    _PICOWS_MAX_FRAME = 10 * 1024 * 1024
    _PICOWS_READ_BUF = 16 * 1024  # picows default (ws_connect/ws_create_server)
    _WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    _PICOWS_UPGRADE_REQUEST = (
        b"GET / HTTP/1.1\r\n"
        b"Host: localhost\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"\r\n"
    )

    def _picows_feed(proto: Any, data: bytes) -> None:
        """What the event loop does: recv_into(get_buffer()); buffer_updated(n)."""
        n = len(data)
        if n == 0:
            return
        mv = memoryview(data)
        get_buffer = proto.get_buffer
        buffer_updated = proto.buffer_updated
        off = 0
        while off < n:
            buf = get_buffer(-1)
            k = len(buf)
            if k > n - off:
                k = n - off
            buf[:k] = mv[off : off + k]
            buffer_updated(k)
            off += k

    def _picows_101_for(request: bytes) -> bytes:
        key = None
        for line in bytes(request).split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
                break
        if key is None:
            raise RuntimeError("picows did not send a Sec-WebSocket-Key")
        accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())
        return (
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )

    def _picows_open(listener: Any, is_client: bool) -> Any:
        """Create a WSProtocol + fake transport and complete the handshake."""
        loop = _loop()
        prev = asyncio._get_running_loop()
        # WSProtocol.__init__ calls asyncio.get_running_loop(); pretend ours runs.
        asyncio._set_running_loop(loop)
        try:
            proto = WSProtocol(
                "localhost:80",  # host_port (client handshake only)
                "/",  # ws_path
                is_client,
                lambda *args: listener,  # listener factory (server: 1 arg, client: 2 or 0)
                _PICOWS_LOGGER,
                True,  # disconnect_on_exception
                None,  # websocket_handshake_timeout: no loop timer
                False,  # enable_auto_ping
                10,  # auto_ping_idle_timeout
                10,  # auto_ping_reply_timeout
                WSAutoPingStrategy.PING_WHEN_IDLE,
                True,  # enable_auto_pong
                _PICOWS_MAX_FRAME,
                None,  # extra_headers
                _PICOWS_READ_BUF,
            )
        finally:
            asyncio._set_running_loop(prev)
        tr = _FakeTransport()
        proto.connection_made(tr)
        if is_client:
            _picows_feed(proto, _picows_101_for(tr.last))
        else:
            _picows_feed(proto, _PICOWS_UPGRADE_REQUEST)
        if proto.listener is not listener:
            raise RuntimeError("picows handshake did not complete")
        return proto

    def _picows_listener_cls(mode: str, sink: Callable[[Any], Any] | None) -> type:
        loads = _loads
        if sink is None:
            if mode == "binary":

                class _L(WSListener):  # type: ignore[misc,valid-type]
                    def on_ws_frame(self, transport: Any, frame: Any) -> None:
                        frame.get_payload_as_memoryview()
                        self.n += 1

            elif mode == "text":

                class _L(WSListener):  # type: ignore[misc,valid-type,no-redef]
                    def on_ws_frame(self, transport: Any, frame: Any) -> None:
                        frame.get_payload_as_utf8_text()
                        self.n += 1

            else:

                class _L(WSListener):  # type: ignore[misc,valid-type,no-redef]
                    def on_ws_frame(self, transport: Any, frame: Any) -> None:
                        loads(frame.get_payload_as_memoryview())
                        self.n += 1

        else:
            if mode == "binary":

                class _L(WSListener):  # type: ignore[misc,valid-type,no-redef]
                    def on_ws_frame(self, transport: Any, frame: Any) -> None:
                        sink(frame.get_payload_as_memoryview())
                        self.n += 1

            elif mode == "text":

                class _L(WSListener):  # type: ignore[misc,valid-type,no-redef]
                    def on_ws_frame(self, transport: Any, frame: Any) -> None:
                        sink(frame.get_payload_as_utf8_text())
                        self.n += 1

            else:

                class _L(WSListener):  # type: ignore[misc,valid-type,no-redef]
                    def on_ws_frame(self, transport: Any, frame: Any) -> None:
                        sink(loads(frame.get_payload_as_memoryview()))
                        self.n += 1

        return _L

    def make_picows_parser(
        chunks: list[bytes],
        mode: str,
        role: str | None = None,
        *,
        sink: Callable[[Any], Any] | None = None,
    ) -> Callable[[], int]:
        """picows WSProtocol driven through get_buffer()/buffer_updated().

        Both roles work: "server" (masked input, is_client_side=False) and
        "client" (unmasked input, is_client_side=True).
        Delivery: binary -> frame.get_payload_as_memoryview() (zero-copy view
        into picows' read buffer, valid only inside on_ws_frame; a sink must
        copy it), text -> frame.get_payload_as_utf8_text(), json ->
        orjson.loads(frame.get_payload_as_memoryview()).
        """
        role = _check_args(chunks, mode, role)
        is_client = role == "client"
        listener_cls = _picows_listener_cls(mode, sink)
        chunks = list(chunks)
        feed = _picows_feed
        open_ = _picows_open

        def run() -> int:
            listener = listener_cls()
            listener.n = 0
            proto = open_(listener, is_client)
            for chunk in chunks:
                feed(proto, chunk)
            if proto.transport.is_close_frame_sent:  # picows logs + sends CLOSE on errors
                raise RuntimeError("picows rejected the stream (see the picows error log)")
            return listener.n

        return run

    def make_picows_encoder(payload_str: str, role: str = "server") -> Callable[[], None]:
        """WSTransport.send(WSMsgType.TEXT, str) into a fake asyncio transport.

        picows UTF-8-encodes the str itself, builds the frame in its write
        buffer (masking with rand() keys in client role) and writes a bytes
        copy to the transport (the fake reports a non-empty write buffer so the
        direct send(2) syscall path is not taken).
        """
        _check_enc_args(payload_str, role)
        ftr = _FakeTransport()
        transport = WSTransport(role == "client", ftr, _PICOWS_LOGGER, _loop())
        send = transport.send
        text = WSMsgType.TEXT
        s = payload_str

        def encode() -> None:
            send(text, s)

        def capture() -> bytes:
            ftr.last = None
            encode()
            return bytes(ftr.last)

        encode.capture = capture  # type: ignore[attr-defined]
        return encode

    _register("picows", make_picows_parser, make_picows_encoder)


# --------------------------------------------------------------------------
# aiohttp
# --------------------------------------------------------------------------
#
# aiohttp._websocket.reader.WebSocketReader is the Cython reader_c build
# unless AIOHTTP_NO_EXTENSIONS is set. Messages land in a WebSocketDataQueue;
# they are pulled out with ``await queue.read()`` - the call that
# ClientWebSocketResponse.receive()/WebSocketResponse.receive() wrap - inside
# a single coroutine that run() steps synchronously with send(None). No event
# loop runs: read() never suspends because it is only called while the
# queue's buffer is non-empty. The queue/reader are built the way
# ClientSession.ws_connect builds them (limit=DEFAULT_CHUNK_SIZE,
# max_msg_size=4 MiB).

try:
    import aiohttp
    from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
    from aiohttp._websocket.writer import WebSocketWriter
    from aiohttp.helpers import DEFAULT_CHUNK_SIZE as _AIOHTTP_CHUNK
    from aiohttp.http_websocket import WSMsgType as _AioWSMsgType
except Exception as _exc:  # pragma: no cover
    _unavailable("aiohttp", _exc)
else:
    _AIOHTTP_MAX_MSG = 4 * 1024 * 1024
    AIOHTTP_READER_IMPL = WebSocketReader.__module__  # "...reader_c" when compiled

    def _aiohttp_consumer(mode: str, sink: Callable[[Any], Any] | None) -> Callable:
        loads = _loads
        if sink is None:
            if mode == "json":

                async def consume(chunks: list[bytes], feed: Any, buf: Any, read: Any) -> int:
                    n = 0
                    for chunk in chunks:
                        feed(chunk)
                        while buf:
                            loads((await read()).data)
                            n += 1
                    return n

            else:  # binary -> bytes, text -> str (decode_text=True)

                async def consume(chunks: list[bytes], feed: Any, buf: Any, read: Any) -> int:
                    n = 0
                    for chunk in chunks:
                        feed(chunk)
                        while buf:
                            (await read()).data
                            n += 1
                    return n

        else:
            if mode == "json":

                async def consume(chunks: list[bytes], feed: Any, buf: Any, read: Any) -> int:
                    n = 0
                    for chunk in chunks:
                        feed(chunk)
                        while buf:
                            sink(loads((await read()).data))
                            n += 1
                    return n

            else:

                async def consume(chunks: list[bytes], feed: Any, buf: Any, read: Any) -> int:
                    n = 0
                    for chunk in chunks:
                        feed(chunk)
                        while buf:
                            sink((await read()).data)
                            n += 1
                    return n

        return consume

    def make_aiohttp_parser(
        chunks: list[bytes],
        mode: str,
        role: str | None = None,
        *,
        sink: Callable[[Any], Any] | None = None,
        compress: bool = False,
    ) -> Callable[[], int]:
        """aiohttp WebSocketReader.feed_data() + WebSocketDataQueue.read()
        (``compress=True``: its permessage-deflate reader).

        aiohttp's reader does not enforce the masking direction, so both
        roles work with the same reader (role only selects the input).
        Delivery: binary -> msg.data (bytes; a masked payload is unmasked in a
        bytearray and then copied to bytes), text -> msg.data (str,
        decode_text=True), json -> orjson.loads(msg.data) with
        decode_text=False so msg.data is the raw payload bytes.
        """
        role = _check_args(chunks, mode, role)
        decode_text = mode != "json"
        consume = _aiohttp_consumer(mode, sink)
        chunks = list(chunks)
        loop = _loop()

        def run() -> int:
            queue = WebSocketDataQueue(_FakeAiohttpProtocol(), _AIOHTTP_CHUNK, loop=loop)
            reader = WebSocketReader(
                queue, _AIOHTTP_MAX_MSG, compress=compress, decode_text=decode_text
            )
            coro = consume(chunks, reader.feed_data, queue._buffer, queue.read)
            try:
                coro.send(None)
            except StopIteration as stop:
                exc = queue.exception()
                if exc is not None:
                    raise exc
                return stop.value
            coro.close()
            raise RuntimeError("aiohttp queue.read() unexpectedly suspended")

        return run

    def make_aiohttp_encoder(
        payload_str: str, role: str = "server", *, via_send_frame: bool = False
    ) -> Callable[[], None]:
        """aiohttp WebSocketWriter into a fake transport.

        Default: ``writer._write_websocket_frame(s.encode(), TEXT, 0)``, the
        synchronous body of ``send_frame()`` for uncompressed frames (what
        send_str()/send_frame() execute, minus the coroutine and the
        drain-threshold bookkeeping). ``via_send_frame=True`` instead steps the
        public ``await writer.send_frame(...)`` coroutine per call, which adds
        a coroutine object + StopIteration per message that an application
        awaiting inside its own coroutine would not pay in that form.
        Client role masks with random.getrandbits(32) keys (aiohttp default).
        """
        _check_enc_args(payload_str, role)
        ftr = _FakeTransport()
        writer = WebSocketWriter(
            _FakeAiohttpProtocol(), ftr, use_mask=(role == "client")  # type: ignore[arg-type]
        )
        s = payload_str
        text = _AioWSMsgType.TEXT
        if via_send_frame:
            send_frame = writer.send_frame

            def encode() -> None:
                coro = send_frame(s.encode("utf-8"), text)
                try:
                    coro.send(None)
                except StopIteration:
                    return
                coro.close()
                raise RuntimeError("send_frame suspended")

        else:
            write_frame = writer._write_websocket_frame

            def encode() -> None:
                write_frame(s.encode("utf-8"), text, 0)

        def capture() -> bytes:
            ftr.last = None
            encode()
            return bytes(ftr.last)

        encode.capture = capture  # type: ignore[attr-defined]
        return encode

    _register("aiohttp", make_aiohttp_parser, make_aiohttp_encoder)


# --------------------------------------------------------------------------
# websockets (sans-I/O)
# --------------------------------------------------------------------------
#
# websockets.protocol.Protocol is the sans-I/O core shared by ClientProtocol
# and ServerProtocol; constructed directly it starts in state OPEN (the
# subclasses only add the HTTP handshake in front of the same parse() loop).

try:
    import websockets
    from websockets.protocol import Protocol as _WsProtocol, Side as _WsSide, State as _WsState
except Exception as _exc:  # pragma: no cover
    _unavailable("websockets", _exc)
else:
    try:
        from websockets import speedups as _ws_speedups  # noqa: F401

        WEBSOCKETS_SPEEDUPS = True
    except Exception:  # pragma: no cover
        WEBSOCKETS_SPEEDUPS = False

    def make_websockets_parser(
        chunks: list[bytes],
        mode: str,
        role: str | None = None,
        *,
        sink: Callable[[Any], Any] | None = None,
        extensions: Callable[[], list[Any]] | None = None,
    ) -> Callable[[], int]:
        """websockets Protocol(side).receive_data(chunk) + events_received().

        Both roles (the side must match the masking; websockets enforces it).
        Delivery: binary -> frame.data (bytes), text -> frame.data.decode()
        (websockets' sans-I/O layer does not decode; its asyncio/sync
        connections do exactly this for unfragmented text), json ->
        orjson.loads(frame.data). ``extensions``: a factory of the negotiated
        extensions (e.g. its PerMessageDeflate) for each fresh protocol.
        """
        role = _check_args(chunks, mode, role)
        side = _WsSide.SERVER if role == "server" else _WsSide.CLIENT
        chunks = list(chunks)
        loads = _loads
        Protocol = _WsProtocol
        if extensions is not None:
            def Protocol(side: Any) -> Any:  # noqa: N802 - stands in for the class
                p = _WsProtocol(side, state=_WsState.OPEN, max_size=None)
                p.extensions = extensions()
                return p

        if sink is None:
            if mode == "binary":

                def run() -> int:
                    p = Protocol(side)
                    receive_data = p.receive_data
                    events_received = p.events_received
                    n = 0
                    for chunk in chunks:
                        receive_data(chunk)
                        for frame in events_received():
                            frame.data
                            n += 1
                    if p.parser_exc is not None:
                        raise p.parser_exc
                    return n

            elif mode == "text":

                def run() -> int:
                    p = Protocol(side)
                    receive_data = p.receive_data
                    events_received = p.events_received
                    n = 0
                    for chunk in chunks:
                        receive_data(chunk)
                        for frame in events_received():
                            frame.data.decode()
                            n += 1
                    if p.parser_exc is not None:
                        raise p.parser_exc
                    return n

            else:

                def run() -> int:
                    p = Protocol(side)
                    receive_data = p.receive_data
                    events_received = p.events_received
                    n = 0
                    for chunk in chunks:
                        receive_data(chunk)
                        for frame in events_received():
                            loads(frame.data)
                            n += 1
                    if p.parser_exc is not None:
                        raise p.parser_exc
                    return n

        else:
            deliver = {
                "binary": lambda f: f.data,
                "text": lambda f: f.data.decode(),
                "json": lambda f: loads(f.data),
            }[mode]

            def run() -> int:
                p = Protocol(side)
                n = 0
                for chunk in chunks:
                    p.receive_data(chunk)
                    for frame in p.events_received():
                        sink(deliver(frame))
                        n += 1
                if p.parser_exc is not None:
                    raise p.parser_exc
                return n

        return run

    def make_websockets_encoder(payload_str: str, role: str = "server") -> Callable[[], list]:
        """Protocol.send_text(s.encode()) + data_to_send() (returns the list).

        Mirrors what websockets' asyncio Connection.send(str) does. Client
        role masks with secrets.token_bytes(4) (one urandom call per frame).
        """
        _check_enc_args(payload_str, role)
        p = _WsProtocol(_WsSide.SERVER if role == "server" else _WsSide.CLIENT)
        send_text = p.send_text
        data_to_send = p.data_to_send
        s = payload_str

        def encode() -> list:
            send_text(s.encode())
            return data_to_send()

        def capture() -> bytes:
            return b"".join(encode())

        encode.capture = capture  # type: ignore[attr-defined]
        return encode

    _register("websockets", make_websockets_parser, make_websockets_encoder)


# --------------------------------------------------------------------------
# wsproto
# --------------------------------------------------------------------------
#
# wsproto.Connection is the post-handshake object that WSConnection delegates
# to (WSConnection.receive_data/events just forward to it); it starts OPEN.

try:
    import wsproto
    from wsproto.connection import Connection as _WspConnection, ConnectionType as _WspType
    from wsproto.frame_protocol import FrameProtocol as _WspFrameProtocol
except Exception as _exc:  # pragma: no cover
    _unavailable("wsproto", _exc)
else:

    def make_wsproto_parser(
        chunks: list[bytes],
        mode: str,
        role: str | None = None,
        *,
        sink: Callable[[Any], Any] | None = None,
    ) -> Callable[[], int]:
        """wsproto Connection(type).receive_data(chunk) + events().

        Both roles (wsproto enforces the masking direction).
        Delivery (partial events reassembled, see below): binary ->
        event.data (bytes), text -> event.data (str;
        wsproto always UTF-8-decodes TEXT frames itself), json ->
        orjson.loads(event.data) on that str (wsproto offers no raw-bytes
        path for TEXT messages).
        """
        role = _check_args(chunks, mode, role)
        ctype = _WspType.SERVER if role == "server" else _WspType.CLIENT
        chunks = list(chunks)
        loads = _loads
        Connection = _WspConnection
        join = b"".join if mode == "binary" else "".join
        json = mode == "json"
        # wsproto emits the available part of a frame that straddles a read
        # boundary as its own TextMessage/BytesMessage with
        # message_finished=False; an application has to reassemble those,
        # so the driver does too (about once per 64 KiB chunk).

        if sink is None:
            if json:

                def run() -> int:
                    c = Connection(ctype)
                    receive_data = c.receive_data
                    events = c.events
                    parts: list = []
                    n = 0
                    for chunk in chunks:
                        receive_data(chunk)
                        for ev in events():
                            if ev.message_finished and not parts:
                                loads(ev.data)
                            else:
                                parts.append(ev.data)
                                if not ev.message_finished:
                                    continue
                                loads(join(parts))
                                parts = []
                            n += 1
                    return n

            else:

                def run() -> int:
                    c = Connection(ctype)
                    receive_data = c.receive_data
                    events = c.events
                    parts: list = []
                    n = 0
                    for chunk in chunks:
                        receive_data(chunk)
                        for ev in events():
                            if ev.message_finished and not parts:
                                ev.data
                            else:
                                parts.append(ev.data)
                                if not ev.message_finished:
                                    continue
                                join(parts)
                                parts = []
                            n += 1
                    return n

        else:

            def run() -> int:
                c = Connection(ctype)
                parts: list = []
                n = 0
                for chunk in chunks:
                    c.receive_data(chunk)
                    for ev in c.events():
                        # AttributeError on CloseConnection (i.e. a parse error)
                        parts.append(ev.data)
                        if not ev.message_finished:
                            continue
                        data = parts[0] if len(parts) == 1 else join(parts)
                        parts = []
                        sink(loads(data) if json else data)
                        n += 1
                return n

        return run

    def make_wsproto_encoder(payload_str: str, role: str = "server") -> Callable[[], bytearray]:
        """FrameProtocol.send_data(str) -> bytearray (what Connection.send(TextMessage) calls).

        Client role masks with os.urandom(4) per frame.
        """
        _check_enc_args(payload_str, role)
        proto = _WspFrameProtocol(client=(role == "client"), extensions=[])
        send_data = proto.send_data
        s = payload_str

        def encode() -> bytearray:
            return send_data(s)

        def capture() -> bytes:
            return bytes(encode())

        encode.capture = capture  # type: ignore[attr-defined]
        return encode

    _register("wsproto", make_wsproto_parser, make_wsproto_encoder)


# --------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------

#: (case name, payload, opcode, mode)
CASES = (
    ("bin40", F.BIN_40, F.OP_BINARY, "binary"),
    ("bin128", F.BIN_128, F.OP_BINARY, "binary"),
    ("bin512", F.BIN_512, F.OP_BINARY, "binary"),
    ("text128", F.TEXT_128, F.OP_TEXT, "text"),
    ("json77", F.QUOTE_77, F.OP_TEXT, "json"),
)


def _expected(payload: bytes, mode: str) -> Any:
    if mode == "binary":
        return payload
    if mode == "text":
        return payload.decode("utf-8")
    return orjson.loads(payload)


def _normalise(obj: Any, mode: str) -> Any:
    if mode == "binary":
        if not isinstance(obj, (bytes, bytearray, memoryview)):
            raise TypeError(f"binary delivery is {type(obj).__name__}, not bytes-like")
        return bytes(obj)  # copy now: picows' memoryview dies after on_ws_frame
    if mode == "text" and not isinstance(obj, str):
        raise TypeError(f"text delivery is {type(obj).__name__}, not str")
    return obj


def _median_ns(fn: Callable[[], Any], runs: int) -> int:
    import time

    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    return times[len(times) // 2]


def _verify_parser(make: Callable, chunks: list[bytes], payload: bytes, mode: str,
                   role: str, count: int) -> None:
    expected = _expected(payload, mode)
    got: list[Any] = []
    run = make(chunks, mode, role, sink=lambda o: got.append(_normalise(o, mode)))
    n = run()
    if n != count or len(got) != count:
        raise AssertionError(f"delivered {n} (sink saw {len(got)}), expected {count}")
    if got[0] != expected or got[-1] != expected:
        raise AssertionError(f"first/last payload mismatch: {got[0]!r:.60} / {got[-1]!r:.60}")
    bad = sum(1 for o in got if o != expected)
    if bad:
        raise AssertionError(f"{bad} payloads differ from the expected one")
    # The hot path (no sink) must deliver the same count, repeatedly.
    fast = make(chunks, mode, role)
    for _ in range(2):
        n = fast()
        if n != count:
            raise AssertionError(f"hot path delivered {n}, expected {count}")


def _verify_encoder(make: Callable, payload_str: str, role: str) -> None:
    enc = make(payload_str, role)
    for _ in range(3):  # also checks that repeated encodes stay valid
        opcode, data, masked = F.decode_one_ex(enc.capture())
        if opcode != F.OP_TEXT or data != payload_str.encode("utf-8"):
            raise AssertionError(f"encoder produced opcode={opcode} payload={data!r:.60}")
        if masked != (role == "client"):
            raise AssertionError(f"role={role} but masked={masked}")


def _self_test(argv: list[str] | None = None) -> int:
    import argparse
    import platform

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", default=",".join(["picows", "aiohttp", "websockets", "wsproto"]))
    ap.add_argument("--roles", default="server,client")
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    ap.add_argument("--count", type=int, default=F.DEFAULT_COUNT)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-encode", action="store_true")
    args = ap.parse_args(argv)

    peers = [p for p in args.peers.split(",") if p]
    roles = [r for r in args.roles.split(",") if r]
    cases = [c for c in CASES if c[0] in args.cases.split(",")]
    count = args.count

    print(f"python {platform.python_version()} | count={count} | median of {args.runs} runs")
    versions = []
    for name, mod in (("picows", "picows"), ("aiohttp", "aiohttp"),
                      ("websockets", "websockets"), ("wsproto", "wsproto")):
        m = sys.modules.get(mod)
        if m is not None:
            versions.append(f"{name} {getattr(m, '__version__', '?')}")
    print("peers:", ", ".join(versions) or "none")
    if "aiohttp" in PEERS:
        print("aiohttp reader impl:", AIOHTTP_READER_IMPL)
    if "websockets" in PEERS:
        print("websockets speedups:", WEBSOCKETS_SPEEDUPS)
    for name, why in UNAVAILABLE.items():
        print(f"SKIP {name}: {why}")

    failures = 0
    streams = {}
    for role in roles:
        for case, payload, opcode, mode in cases:
            streams[(role, case)] = F.chunks(F.make_stream(payload, opcode, count, role == "server"))

    print("\nPARSE  (ns/msg, fresh parser per run, includes delivery)")
    print(f"{'peer':<11} {'role':<7} " + " ".join(f"{c[0]:>9}" for c in cases))
    for peer in peers:
        if peer not in PEERS:
            if peer not in UNAVAILABLE:
                print(f"{peer:<11} unknown peer")
            continue
        make_parser, _ = PEERS[peer]
        for role in roles:
            cells = []
            for case, payload, _opcode, mode in cases:
                chunks = streams[(role, case)]
                try:
                    _verify_parser(make_parser, chunks, payload, mode, role, count)
                    run = make_parser(chunks, mode, role)
                    ns = _median_ns(run, args.runs) / count
                    cells.append(f"{ns:9.0f}")
                except Exception as exc:  # noqa: BLE001
                    failures += 1
                    cells.append(f"{'FAIL':>9}")
                    print(f"  FAIL {peer}/{role}/{case}: {type(exc).__name__}: {exc}")
            print(f"{peer:<11} {role:<7} " + " ".join(cells))

    if not args.no_encode:
        payload_str = F.TEXT_128.decode("ascii")
        n_enc = count
        print(f"\nENCODE (ns/msg, one 128 B TEXT message per call, {n_enc} calls/run, "
              "includes the Python call loop)")

        def loop_of(fn: Callable[[], Any]) -> Callable[[], None]:
            rng = range(n_enc)

            def many() -> None:
                for _ in rng:
                    fn()

            return many

        base = _median_ns(loop_of(lambda: None), args.runs) / n_enc
        print(f"{'(empty loop + call)':<19} {base:9.0f}")
        print(f"{'peer':<11} {'role':<7} {'ns/msg':>9}")
        variants: list[tuple[str, Callable]] = []
        for peer in peers:
            if peer in PEERS:
                variants.append((peer, PEERS[peer][1]))
                if peer == "aiohttp":
                    variants.append(("aiohttp*", lambda s, r: make_aiohttp_encoder(s, r, via_send_frame=True)))
        for label, make_encoder in variants:
            for role in roles:
                try:
                    _verify_encoder(make_encoder, payload_str, role)
                    enc = make_encoder(payload_str, role)
                    ns = _median_ns(loop_of(enc), args.runs) / n_enc
                    print(f"{label:<11} {role:<7} {ns:9.0f}")
                except Exception as exc:  # noqa: BLE001
                    failures += 1
                    print(f"{label:<11} {role:<7} {'FAIL':>9}  {type(exc).__name__}: {exc}")
        if "aiohttp" in peers and "aiohttp" in PEERS:
            print("(aiohttp* = public send_frame() coroutine stepped per call)")

    print("\nself-test:", "OK" if not failures else f"{failures} FAILURE(S)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(_self_test())
