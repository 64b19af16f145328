"""Which proxy a connection uses: the ``proxy=`` argument and the environment.

``proxy=True`` (the default) reads the environment like urllib, httpx and
websockets do; ``proxy=None`` (or ``False``) means a direct connection; a URL
or a ``ProxyURL`` means that proxy, always. The rules, as in docs/proxies.md:

* ``wss://`` and ``https://`` take ``https_proxy``, ``ws://`` and ``http://``
  take ``http_proxy``; ``all_proxy`` is the fallback for both. The lowercase
  name wins over the uppercase one when both are set. ``HTTP_PROXY`` in
  uppercase is ignored when ``REQUEST_METHOD`` is set (a CGI process, where
  any client can set it: "httpoxy").
* ``no_proxy`` / ``NO_PROXY``: comma-separated; ``*`` bypasses every host; an
  entry matches the host itself and every name below it (``example.com`` and
  ``.example.com`` both match ``api.example.com``); ``host:port`` matches that
  port only; IP literals match as written (IPv6 with or without brackets).
  These are ``urllib.request.proxy_bypass_environment``'s decisions (the tests
  compare the two on one table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from nexus_net.proxy.url import ProxyURL, parse_proxy

_ENV_KEYS = {"ws": "http", "http": "http", "wss": "https", "https": "https"}


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None:
        upper = name.upper()
        if upper == "HTTP_PROXY" and "REQUEST_METHOD" in environ:
            return None                       # httpoxy: a CGI client controls that variable
        value = environ.get(upper)
    value = value.strip() if value else ""
    return value or None


def bypass_proxy(host: str, port: int | None, no_proxy: str | None) -> bool:
    """Whether ``no_proxy`` says to connect to ``host`` (and ``port``) directly."""
    if not no_proxy:
        return False
    if no_proxy.strip() == "*":
        return True
    host = host.lower().strip("[]")
    host_port = f"{host}:{port}" if port is not None else host
    for entry in no_proxy.split(","):
        name = entry.strip().lstrip(".").lower()
        if not name:
            continue
        if name.startswith("["):             # [::1] or [::1]:8080
            inner, _, rest = name[1:].partition("]")
            name = inner + rest
        if name == host or name == host_port:
            return True
        if host.endswith("." + name) or host_port.endswith("." + name):
            return True
    return False


def proxy_from_environment(url_scheme: str, host: str, port: int | None,
                           environ: Mapping[str, str] | None = None) -> ProxyURL | None:
    """The proxy the environment names for this target, or None (no variable,
    or ``no_proxy`` bypasses the host)."""
    env = os.environ if environ is None else environ
    kind = _ENV_KEYS.get(url_scheme.lower())
    if kind is None:
        raise ValueError(f"no proxy rules for URL scheme {url_scheme!r}")
    value = _env(env, f"{kind}_proxy") or _env(env, "all_proxy")
    if value is None:
        return None
    if bypass_proxy(host, port, _env(env, "no_proxy")):
        return None
    return parse_proxy(value)


def check_proxy(proxy: object) -> object:
    """The ``proxy=`` argument as connect functions keep it: True, None,
    False, or a parsed ProxyURL (a bad URL raises ValueError now, not at the
    first connection)."""
    if proxy is True or proxy is None or proxy is False:
        return proxy
    return parse_proxy(proxy)  # type: ignore[arg-type]


def resolve_proxy(proxy: object, url_scheme: str, host: str, port: int | None,
                  environ: Mapping[str, str] | None = None) -> ProxyURL | None:
    """What the ``proxy=`` argument of a connect function means for one target."""
    if proxy is True:
        return proxy_from_environment(url_scheme, host, port, environ)
    return check_proxy(proxy) or None  # type: ignore[return-value]
