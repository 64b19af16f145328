"""Content-codings: which ones this installation decodes, and the
``Accept-Encoding`` value that asks for them.

gzip and deflate are decoded in Cython on zlib's C API
(``nexus_net._inflate``). br and zstd are not decoded yet: asking for them is
refused here, and a response that uses them anyway raises
``ContentEncodingError`` (never compressed bytes handed back as if decoded).
"""

from __future__ import annotations

from collections.abc import Iterable

#: What ``ResponseReader`` decodes.
SUPPORTED = ("gzip", "deflate")


def accept_encoding_value(codings: Iterable[str]) -> str:
    """The ``Accept-Encoding`` header value for ``codings`` (checked)."""
    if isinstance(codings, str):
        codings = [c.strip() for c in codings.split(",")]
    names = []
    for coding in codings:
        name = coding.strip().lower()
        if name not in SUPPORTED:
            raise ValueError(f"accept_encoding: {coding!r} is not a coding this installation decodes "
                             f"(supported: {', '.join(SUPPORTED)})")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("accept_encoding names no coding (use None to send no Accept-Encoding)")
    return ", ".join(names)
