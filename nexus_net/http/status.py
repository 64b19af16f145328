"""``Response.raise_for_status()``: a failed status as a typed exception."""

from __future__ import annotations

from typing import Any

from nexus_net.http.errors import ClientError, RateLimited, ServerError, StatusError
from nexus_net.http.retry_after import parse_retry_after

#: Methods a client may repeat without changing the outcome (RFC 9110 9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


def status_error(resp: Any) -> StatusError:
    """The exception for a response with status >= 400."""
    status, reason, method = resp.status, resp.reason, resp.request_method
    message = f"HTTP {status} {reason}".rstrip() + (f" (to a {method})" if method else "")
    headers, body = resp.headers(), resp.bytes()
    if status in (418, 429):
        exc: StatusError = RateLimited(message, status, reason, headers, body)
        exc.retry_after = parse_retry_after(resp.header("retry-after"))   # type: ignore[attr-defined]
        if exc.retry_after is not None:                                  # type: ignore[attr-defined]
            exc.args = (f"{message}; retry after {exc.retry_after:g}s",)  # type: ignore[attr-defined]
    elif status >= 500:
        exc = ServerError(message, status, reason, headers, body)
        exc.outcome_unknown = method is None or method not in IDEMPOTENT   # type: ignore[attr-defined]
        if exc.outcome_unknown:                                          # type: ignore[attr-defined]
            exc.args = (f"{message}: the outcome is unknown (not an idempotent request)",)
    else:
        exc = ClientError(message, status, reason, headers, body)
    return exc
