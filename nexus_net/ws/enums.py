"""Message kinds, roles and close codes of RFC 6455."""

from __future__ import annotations

import enum


class Kind(enum.IntEnum):
    """What a received ``Message`` is. Values are the RFC 6455 opcodes."""

    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class Role(enum.IntEnum):
    """Which end of the connection a codec plays.

    A CLIENT masks what it sends and expects unmasked frames; a SERVER expects
    masked frames and sends unmasked ones (RFC 6455 section 5.1).
    """

    CLIENT = 1
    SERVER = 2


class CloseCode(enum.IntEnum):
    """Registered close status codes (RFC 6455 section 7.4, IANA registry)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005            # never sent: "the close frame had no code"
    ABNORMAL = 1006             # never sent: "the connection dropped without a close frame"
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015        # never sent

