"""Content-codings: which ones this installation decodes, the
``Accept-Encoding`` value that asks for them, and the optional decoders.

gzip and deflate are decoded in Cython on zlib's C API
(``nexus_net._inflate``), always available. ``br`` is decoded when Google's
``brotli`` package (>= 1.2, for its bounded ``output_buffer_limit``) is
installed; ``zstd`` with ``backports.zstd`` on Python < 3.14 or the standard
``compression.zstd`` from 3.14. Those two are Python objects per response
(driven by the same Cython inflater, into the same bounded buffer): fine for
the rare exchange that uses them, and nothing on the gzip/identity path.
A response with a coding not installed raises ``ContentEncodingError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

try:
    import brotli as _brotli
    if not hasattr(_brotli.Decompressor(), "can_accept_more_data"):     # brotli < 1.2
        _brotli = None                                                # type: ignore[assignment]
except ImportError:                                                   # pragma: no cover
    _brotli = None                                                    # type: ignore[assignment]

try:
    from compression import zstd as _zstd                             # type: ignore[import-not-found]
except ImportError:
    try:
        from backports import zstd as _zstd                           # type: ignore[import-not-found,no-redef]
    except ImportError:                                               # pragma: no cover
        _zstd = None


def supported() -> tuple[str, ...]:
    """The codings ``ResponseReader`` decodes in this installation."""
    return ("gzip", "deflate") + (("br",) if _brotli is not None else ()) + (("zstd",) if _zstd is not None else ())


SUPPORTED = supported()


def accept_encoding_value(codings: Iterable[str]) -> str:
    """The ``Accept-Encoding`` header value for ``codings`` (checked)."""
    if isinstance(codings, str):
        codings = [c.strip() for c in codings.split(",")]
    names = []
    for coding in codings:
        name = coding.strip().lower()
        if name not in SUPPORTED:
            hint = {"br": " (install brotli>=1.2)", "zstd": " (install backports.zstd)"}.get(name, "")
            raise ValueError(f"accept_encoding: {coding!r} is not a coding this installation decodes{hint} "
                             f"(supported: {', '.join(SUPPORTED)})")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("accept_encoding names no coding (use None to send no Accept-Encoding)")
    return ", ".join(names)


# ---- the optional decoders, driven by nexus_net._inflate.Inflater ----------------------------
# ``feed(data, max_out)`` returns at most about ``max_out`` bytes of output
# (``data`` may be b"" to go on); ``pending`` says whether more output is
# there without more input; ``finished()`` whether the stream ended. The
# inflater asks in slices of 256 KiB and stops past its limit, so a bomb
# costs the limit plus one slice.

class BrotliDecoder:
    def __init__(self) -> None:
        self.d = _brotli.Decompressor()
        self.pending = False

    def feed(self, data: bytes, max_out: int) -> bytes:
        try:
            out = self.d.process(data, output_buffer_limit=max_out)
        except _brotli.error as exc:
            raise ValueError(str(exc) or "invalid brotli data") from None
        self.pending = not self.d.can_accept_more_data()
        return out

    def finished(self) -> bool:
        return bool(self.d.is_finished())


class ZstdDecoder:
    def __init__(self) -> None:
        self.d = _zstd.ZstdDecompressor()
        self.frames = 0                # frames completed
        self.partial = False           # bytes of an unfinished frame were fed
        self.carry = b""               # bytes after a frame's end: the next frame's
        self.pending = False

    def feed(self, data: bytes, max_out: int) -> bytes:
        if self.carry:
            data, self.carry = self.carry + data, b""
        if data:
            self.partial = True
        try:
            out = self.d.decompress(data, max_length=max_out)
        except _zstd.ZstdError as exc:
            raise ValueError(str(exc)) from None
        if self.d.eof:                 # a frame ended: another may follow (RFC 8878)
            self.frames += 1
            self.partial = False
            self.carry = self.d.unused_data
            self.d = _zstd.ZstdDecompressor()
            self.pending = bool(self.carry)
        else:
            self.pending = not self.d.needs_input
        return out

    def finished(self) -> bool:
        return self.frames > 0 and not self.partial and not self.carry


def new_decoder(coding: str) -> Any:
    if coding == "br" and _brotli is not None:
        return BrotliDecoder()
    if coding == "zstd" and _zstd is not None:
        return ZstdDecoder()
    return None
