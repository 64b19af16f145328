"""Proxies for WebSocket and REST connections: HTTP CONNECT (plain or over
TLS to the proxy), SOCKS5 (local or remote DNS) and SOCKS4a.

Sans-IO first: the handshakes (``ConnectHandshake``, ``Socks5Handshake``,
``Socks4aHandshake``) are state machines over bytes, usable with any I/O;
``resolve_proxy`` applies the ``proxy=`` argument and the environment rules
(``proxy_from_environment``, ``bypass_proxy``). The asyncio and blocking
transports drive them (``nexus_net.proxy.tunnel``).
"""

from __future__ import annotations

from nexus_net.proxy.connect import ConnectHandshake
from nexus_net.proxy.env import bypass_proxy, check_proxy, proxy_from_environment, resolve_proxy
from nexus_net.proxy.errors import (ProxyAuthRequired, ProxyConnectFailed, ProxyError, ProxyProtocolError,
                                    ProxyTLSError)
from nexus_net.proxy.socks import Socks4aHandshake, Socks5Handshake
from nexus_net.proxy.url import ProxyURL, parse_proxy

__all__ = ["ConnectHandshake", "ProxyAuthRequired", "ProxyConnectFailed", "ProxyError", "ProxyProtocolError",
           "ProxyTLSError", "ProxyURL", "Socks4aHandshake", "Socks5Handshake", "bypass_proxy", "check_proxy", "parse_proxy",
           "proxy_from_environment", "resolve_proxy"]
