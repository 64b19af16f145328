"""permessage-deflate negotiation (RFC 7692 section 7): offers, answers, checks.

``Deflate`` is what a user chooses (``compression=ws.Deflate(...)`` on
``ws.connect``, ``ws.sync.connect`` and ``ws.serve``; ``compression="deflate"``
is its defaults). The handshake turns it into the header it sends and, with
the peer's header, into a ``PerMessageDeflate`` codec (``nexus_net.ws._deflate``)
that the connection's reader and writer share. Pure Python: it runs once per
connection.

The rules, seen from each end:

* a client offers ``permessage-deflate`` with the parameters it asks for;
  the server's answer must stay within that offer, or the handshake fails
  with ``NegotiationError`` (RFC 7692 7.1: the client "MUST _Fail the
  WebSocket Connection_");
* a server takes the first offer it can accept and answers it; an offer with
  an unknown, duplicate or malformed parameter is declined (the next offer,
  or no compression), never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Literal, Union

from nexus_net.ws._deflate import PerMessageDeflate
from nexus_net.ws.errors import NegotiationError

NAME = "permessage-deflate"
_PARAMS = ("server_no_context_takeover", "client_no_context_takeover",
           "server_max_window_bits", "client_max_window_bits")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BITS = re.compile(r"[1-9][0-9]?")      # decimal, no leading zero (RFC 7692 7.1.2)

Params = dict[str, Union[str, None]]


@dataclass(frozen=True)
class Deflate:
    """permessage-deflate settings (RFC 7692), for a client or a server.

    * ``server_no_context_takeover`` / ``client_no_context_takeover``: that
      side resets its compressor after every message (less memory kept
      between messages, worse ratio). A client asks the server for the
      first and promises the second; a server imposes either.
    * ``server_max_window_bits`` / ``client_max_window_bits`` (8-15): the
      LZ77 window of that side's compressor (2**bits bytes; zlib's deflate
      memory is about 2**(bits+2) + 2**(mem_level+9) bytes). On a client,
      ``client_max_window_bits=True`` (the default) offers the parameter
      without a value: the server may choose. A side told to compress with
      8 bits sends its messages uncompressed (zlib cannot make 256-byte
      windows; RFC 7692 lets any message go uncompressed).
    * ``level`` (0-9, -1: zlib's default 6), ``mem_level`` (1-9): our
      compressor's effort and hash memory.
    * ``threshold``: messages shorter than this many bytes are sent
      uncompressed (0: compress every data message).
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | Literal[True] | None = True
    level: int = 6
    mem_level: int = 5
    threshold: int = 0

    def __post_init__(self) -> None:
        for name in ("server_max_window_bits", "client_max_window_bits"):
            bits = getattr(self, name)
            if bits is None or (bits is True and name == "client_max_window_bits"):
                continue
            if isinstance(bits, bool) or not isinstance(bits, int) or not 8 <= bits <= 15:
                raise ValueError(f"{name} must be between 8 and 15 (or None), got {bits!r}")
        if isinstance(self.level, bool) or not isinstance(self.level, int) or not -1 <= self.level <= 9:
            raise ValueError(f"level must be -1 or 0-9, got {self.level!r}")
        if isinstance(self.mem_level, bool) or not isinstance(self.mem_level, int) or not 1 <= self.mem_level <= 9:
            raise ValueError(f"mem_level must be 1-9, got {self.mem_level!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int) or self.threshold < 0:
            raise ValueError(f"threshold must be an int >= 0, got {self.threshold!r}")

    def codec(self, local_no_context_takeover: bool, remote_no_context_takeover: bool,
              local_max_window_bits: int, remote_max_window_bits: int) -> PerMessageDeflate:
        return PerMessageDeflate(local_no_context_takeover, remote_no_context_takeover,
                                 local_max_window_bits, remote_max_window_bits,
                                 level=self.level, mem_level=self.mem_level, threshold=self.threshold)

    # ---- client --------------------------------------------------------------
    def offer(self) -> str:
        """The client's ``Sec-WebSocket-Extensions`` value."""
        parts = [NAME]
        if self.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.server_max_window_bits is not None:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        if self.client_max_window_bits is True:
            parts.append("client_max_window_bits")
        elif self.client_max_window_bits is not None:
            parts.append(f"client_max_window_bits={self.client_max_window_bits}")
        return "; ".join(parts)

    def accept_response(self, values: Iterable[str]) -> PerMessageDeflate | None:
        """Check the server's ``Sec-WebSocket-Extensions`` values against our
        offer; the codec to use, or None when the server declined.

        Raises ``NegotiationError`` for an answer the offer does not allow.
        """
        try:
            elements = parse_extensions(values)
        except ValueError as exc:
            raise NegotiationError(f"malformed Sec-WebSocket-Extensions: {exc}") from None
        if not elements:
            return None
        names = [name for name, _ in elements]
        if any(name != NAME for name in names):
            raise NegotiationError(f"server selected an extension we did not offer: {names!r}")
        if len(elements) > 1:
            raise NegotiationError("server accepted permessage-deflate more than once")
        try:
            params = check_params(elements[0][1], client_side_values=False)
        except ValueError as exc:
            raise NegotiationError(f"invalid permessage-deflate response: {exc}") from None
        server_bits = params.get("server_max_window_bits")
        if (server_bits is not None and self.server_max_window_bits is not None
                and int(server_bits) > self.server_max_window_bits):
            raise NegotiationError(
                f"server_max_window_bits={server_bits} in the response is above the "
                f"{self.server_max_window_bits} we asked for")
        if self.server_no_context_takeover and "server_no_context_takeover" not in params:
            raise NegotiationError("server accepted without the server_no_context_takeover we asked for")
        client_bits = params.get("client_max_window_bits")
        if "client_max_window_bits" in params:
            if self.client_max_window_bits is None:
                raise NegotiationError("server set client_max_window_bits, which we did not offer")
            if client_bits is None:
                raise NegotiationError("client_max_window_bits in a response needs a value")
            if self.client_max_window_bits is not True and int(client_bits) > self.client_max_window_bits:
                raise NegotiationError(
                    f"client_max_window_bits={client_bits} in the response is above the "
                    f"{self.client_max_window_bits} we offered")
        if client_bits is not None:
            local_bits = int(client_bits)
        elif isinstance(self.client_max_window_bits, int) and self.client_max_window_bits is not True:
            local_bits = self.client_max_window_bits
        else:
            local_bits = 15
        return self.codec(
            local_no_context_takeover=self.client_no_context_takeover or "client_no_context_takeover" in params,
            remote_no_context_takeover="server_no_context_takeover" in params,
            local_max_window_bits=local_bits,
            remote_max_window_bits=int(server_bits) if server_bits is not None else 15)

    # ---- server --------------------------------------------------------------
    def accept_offer(self, values: Iterable[str]) -> tuple[str, PerMessageDeflate] | None:
        """The first of the client's offers we can accept: the response
        header value and the codec; None when there is none (declined)."""
        try:
            elements = parse_extensions(values)
        except ValueError:
            return None                       # an unparsable header: decline everything
        for name, raw in elements:
            if name != NAME:
                continue
            try:
                offer = check_params(raw, client_side_values=True)
            except ValueError:
                continue                      # decline this offer, look at the next
            return self._answer(offer)
        return None

    def _answer(self, offer: Params) -> tuple[str, PerMessageDeflate]:
        server_nct = self.server_no_context_takeover or "server_no_context_takeover" in offer
        client_nct = self.client_no_context_takeover or "client_no_context_takeover" in offer
        # our window: the client's limit, and ours
        asked = offer.get("server_max_window_bits")
        server_bits = int(asked) if asked is not None else None
        if self.server_max_window_bits is not None:
            if server_bits is None or server_bits > self.server_max_window_bits:
                server_bits = self.server_max_window_bits
        # the client's window: what it offered, limited by us where it allows it
        client_bits: int | None = None
        if "client_max_window_bits" in offer:
            offered = offer["client_max_window_bits"]
            mine = self.client_max_window_bits if self.client_max_window_bits is not True else None
            if offered is None:
                client_bits = mine
            else:
                client_bits = int(offered) if mine is None else min(int(offered), mine)
        parts = [NAME]
        if server_nct:
            parts.append("server_no_context_takeover")
        if client_nct:
            parts.append("client_no_context_takeover")
        if server_bits is not None:
            parts.append(f"server_max_window_bits={server_bits}")
        if client_bits is not None:
            parts.append(f"client_max_window_bits={client_bits}")
        codec = self.codec(local_no_context_takeover=server_nct, remote_no_context_takeover=client_nct,
                           local_max_window_bits=server_bits or 15, remote_max_window_bits=client_bits or 15)
        return "; ".join(parts), codec


def server_default() -> Deflate:
    """``ws.serve(compression="deflate")``: a 4 KiB window for our compressor
    (about 32 KiB of zlib memory per connection instead of 144 KiB)."""
    return Deflate(server_max_window_bits=12)


def resolve(compression: object, server: bool) -> Deflate | None:
    """``compression=`` of connect/serve: None, "deflate" or a ``Deflate``."""
    if compression is None:
        return None
    if isinstance(compression, Deflate):
        return compression
    if compression == "deflate":
        return server_default() if server else Deflate()
    raise ValueError(f"compression must be None, 'deflate' or a ws.Deflate, got {compression!r}")


# ---- the header's grammar (RFC 6455 9.1) -------------------------------------------
def parse_extensions(values: Iterable[str]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """``Sec-WebSocket-Extensions`` header values -> [(name, [(param, value)])].

    ``extension = token *( ";" param )``, ``param = token [ "=" (token |
    quoted-string) ]``, elements separated by commas (also across header
    lines). Raises ValueError on anything else.
    """
    elements: list[tuple[str, list[tuple[str, str | None]]]] = []
    for value in values:
        pos, n = 0, len(value)

        def skip_ws() -> None:
            nonlocal pos
            while pos < n and value[pos] in " \t":
                pos += 1

        def token() -> str:
            nonlocal pos
            m = _TOKEN.match(value, pos)
            if not m:
                raise ValueError(f"expected a token at {value[pos:pos + 20]!r}")
            pos = m.end()
            return m.group()

        while True:
            skip_ws()
            if pos < n and value[pos] == ",":       # empty list elements are allowed
                pos += 1
                continue
            if pos >= n:
                break
            name = token().lower()
            params: list[tuple[str, str | None]] = []
            skip_ws()
            while pos < n and value[pos] == ";":
                pos += 1
                skip_ws()
                pname = token().lower()
                skip_ws()
                pvalue: str | None = None
                if pos < n and value[pos] == "=":
                    pos += 1
                    skip_ws()
                    if pos < n and value[pos] == '"':
                        end = value.find('"', pos + 1)
                        if end < 0 or "\\" in value[pos + 1:end]:
                            raise ValueError("unterminated or escaped quoted-string")
                        pvalue = value[pos + 1:end]
                        pos = end + 1
                        if not _TOKEN.fullmatch(pvalue):
                            raise ValueError(f"quoted value {pvalue!r} is not a token")
                    else:
                        pvalue = token()
                    skip_ws()
                params.append((pname, pvalue))
            elements.append((name, params))
            if pos < n:
                if value[pos] != ",":
                    raise ValueError(f"unexpected {value[pos:pos + 20]!r}")
                pos += 1
    return elements


def check_params(params: list[tuple[str, str | None]], *, client_side_values: bool) -> Params:
    """Validate one permessage-deflate element's parameters (RFC 7692 7.1).

    ``client_side_values``: this is an offer, where ``client_max_window_bits``
    may come without a value. Raises ValueError.
    """
    seen: Params = {}
    for name, value in params:
        if name not in _PARAMS:
            raise ValueError(f"unknown parameter {name!r}")
        if name in seen:
            raise ValueError(f"duplicate parameter {name!r}")
        if name.endswith("no_context_takeover"):
            if value is not None:
                raise ValueError(f"{name} takes no value, got {value!r}")
        elif value is None:
            if not (name == "client_max_window_bits" and client_side_values):
                raise ValueError(f"{name} needs a value")
        elif not _BITS.fullmatch(value) or not 8 <= int(value) <= 15:
            raise ValueError(f"{name}={value!r} is not between 8 and 15")
        seen[name] = value
    return seen
