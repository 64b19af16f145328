"""WebSocket (RFC 6455): the sans-IO codec and handshake helpers.

``FrameReader`` turns received bytes into ``Message`` objects, ``FrameWriter``
turns messages into frames; both are Cython and never touch a socket.
"""

from __future__ import annotations

from nexus_net.ws import handshake, sync
from nexus_net.ws._aio import Connection
from nexus_net.ws._session import Session
from nexus_net.ws.client import connect
from nexus_net.ws.deflate import Deflate
from nexus_net.ws._deflate import PerMessageDeflate
from nexus_net.ws.heartbeat import Heartbeat, json_ping_reply
from nexus_net.ws.listener import Listener
from nexus_net.ws.reconnect import Backoff, ReconnectingConnection
from nexus_net.ws.stats import ConnectionStats
from nexus_net.ws.server import Server, broadcast, serve
from nexus_net.ws._reader import DEFAULT_MAX_MESSAGE_SIZE, FrameReader, Message
from nexus_net.ws._utf8 import Utf8Validator, validate_utf8
from nexus_net.ws._writer import FrameWriter
from nexus_net.ws.enums import CloseCode, Kind, Role
from nexus_net.ws.errors import (
    CompressionError,
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    HandshakeError,
    HandshakeTimeout,
    InvalidURI,
    TooManyRedirects,
    InvalidDataError,
    InvalidHandshakeRequest,
    InvalidHandshakeResponse,
    MessageTooBigError,
    NegotiationError,
    ProtocolError,
    WebSocketError,
)

__all__ = [
    "ConcurrencyError", "Connection", "ConnectionClosed", "ConnectionClosedError",
    "ConnectionClosedOK", "HandshakeTimeout", "InvalidURI", "Server", "Session",
    "TooManyRedirects", "broadcast", "connect", "serve", "sync",
    "DEFAULT_MAX_MESSAGE_SIZE", "CloseCode", "FrameReader", "FrameWriter", "HandshakeError",
    "InvalidDataError", "InvalidHandshakeRequest", "InvalidHandshakeResponse", "Kind",
    "Message", "MessageTooBigError", "ProtocolError", "Role", "Utf8Validator", "WebSocketError",
    "handshake", "pair", "validate_utf8",
    "CompressionError", "Deflate", "NegotiationError", "PerMessageDeflate",
    "Backoff", "ConnectionStats", "Heartbeat", "Listener", "ReconnectingConnection", "json_ping_reply",
]


def pair(role: Role, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
         max_frame_size: int | None = None) -> tuple[FrameReader, FrameWriter]:
    """A reader and a writer for one end of a connection."""
    reader = FrameReader(role, max_message_size=max_message_size, max_frame_size=max_frame_size)
    return reader, FrameWriter(role)
