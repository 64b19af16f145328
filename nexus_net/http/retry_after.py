"""``Retry-After`` (RFC 9110 10.2.3): delta-seconds or an HTTP-date, as
seconds from now. Shared by the WebSocket client's reconnect (a 429/5xx
handshake) and the REST client's rate limits and status errors."""

from __future__ import annotations

import email.utils
import time


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header value (None if absent or
    unreadable; an HTTP-date in the past is 0). ``now``: the wall clock
    (``time.time()``) to measure a date from."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
