"""TLS configuration (``TlsConfig``) and the sans-IO TLS codec (``TlsCodec``).

A ``TlsConfig`` wraps one ``ssl.SSLContext``: build it once at start-up and
share it between connections. ``TlsCodec`` runs TLS over ``ssl.MemoryBIO``
without touching a socket; the WebSocket transports use it for ``wss://``.
"""

from __future__ import annotations

import importlib
import logging
import os
import ssl
from typing import Sequence

from nexus_net.errors import NexusNetError

log = logging.getLogger("nexus_net.tls")

__all__ = ["TlsCertificateError", "TlsCodec", "TlsConfig", "TlsConfigBuilder", "TlsConfigError",
           "TlsError", "TlsHandshakeError"]


class TlsError(NexusNetError):
    """A TLS failure."""


class TlsConfigError(TlsError, ValueError):
    """The TLS configuration is unusable: a missing file, bad PEM, a key that
    does not match its certificate, an unknown cipher string..."""


class TlsHandshakeError(TlsError):
    """The TLS handshake failed (protocol version, alert from the peer...)."""


class TlsCertificateError(TlsHandshakeError):
    """The peer's certificate was refused (untrusted CA, wrong host name, expired...)."""


_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3,
             "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_warned_no_verify = False


def _version(v: str | ssl.TLSVersion) -> ssl.TLSVersion:
    if isinstance(v, ssl.TLSVersion):
        return v
    try:
        return _VERSIONS[v]
    except KeyError:
        raise TlsConfigError(f"unknown TLS version {v!r}; use '1.2' or '1.3'") from None


def _check_file(path: str | os.PathLike[str], what: str) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TlsConfigError(f"{what} file {path!r} does not exist")
    return path


class TlsConfig:
    """TLS settings for clients or servers, wrapping one ``ssl.SSLContext``.

    Client (the default): verifies the server against the system trust store
    (falling back to ``certifi`` when that store is empty and certifi is
    installed), checks the host name and sends SNI.

    Keyword arguments: ``ca_file``, ``ca_data`` (PEM text) to trust specific
    CAs instead; ``cert_file`` + ``key_file`` (+ ``key_password``) for a
    client certificate (mutual TLS); ``min_version`` / ``max_version``
    (``"1.2"``, ``"1.3"``); ``tls13_only``; ``alpn`` protocols; ``ciphers``
    (OpenSSL syntax, TLS 1.2 suites); ``sni``: the server name to send and
    verify instead of the URL's host; ``verify=False``: no verification at all
    (use ``danger_no_verify()``; it logs a warning).

    ``TlsConfig.server(cert_file, key_file, ...)`` makes a server config;
    ``client_ca_file`` there requires client certificates.
    ``TlsConfig.builder()`` offers the same as a fluent builder.
    """

    def __init__(self, *, ca_file: str | os.PathLike[str] | None = None, ca_data: str | None = None,
                 cert_file: str | os.PathLike[str] | None = None,
                 key_file: str | os.PathLike[str] | None = None, key_password: str | None = None,
                 min_version: str | ssl.TLSVersion | None = None,
                 max_version: str | ssl.TLSVersion | None = None, tls13_only: bool = False,
                 alpn: Sequence[str] | None = None, ciphers: str | None = None,
                 sni: str | None = None, verify: bool = True,
                 context: ssl.SSLContext | None = None) -> None:
        self.server_side = False
        self.sni = sni
        if context is not None:
            self.context = context
            self.server_side = context.protocol == ssl.PROTOCOL_TLS_SERVER
            return
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            if ca_file is not None or ca_data is not None:
                self._load_cas(ctx, ca_file, ca_data)
            else:
                ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
                if ctx.cert_store_stats().get("x509_ca", 0) == 0:
                    self._load_certifi(ctx)
        else:
            _warn_no_verify()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self._apply_common(ctx, cert_file, key_file, key_password, min_version, max_version,
                           tls13_only, alpn, ciphers)
        self.context = ctx

    # ---- constructors ----------------------------------------------------
    @classmethod
    def server(cls, cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str], *,
               key_password: str | None = None, client_ca_file: str | os.PathLike[str] | None = None,
               client_ca_data: str | None = None, min_version: str | ssl.TLSVersion | None = None,
               max_version: str | ssl.TLSVersion | None = None, tls13_only: bool = False,
               alpn: Sequence[str] | None = None, ciphers: str | None = None) -> TlsConfig:
        """A server config; with ``client_ca_file``/``client_ca_data`` clients
        must present a certificate signed by that CA (mutual TLS)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cls._apply_common(ctx, cert_file, key_file, key_password, min_version, max_version,
                          tls13_only, alpn, ciphers)
        if client_ca_file is not None or client_ca_data is not None:
            cls._load_cas(ctx, client_ca_file, client_ca_data)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return cls(context=ctx)

    @classmethod
    def danger_no_verify(cls, **kwargs: object) -> TlsConfig:
        """A client config that accepts any certificate: encryption without
        authentication. For tests and debugging only; logs a warning."""
        return cls(verify=False, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def builder(cls) -> TlsConfigBuilder:
        return TlsConfigBuilder()

    # ---- helpers ---------------------------------------------------------------
    @staticmethod
    def _load_cas(ctx: ssl.SSLContext, ca_file: str | os.PathLike[str] | None, ca_data: str | None) -> None:
        try:
            if ca_file is not None:
                ctx.load_verify_locations(cafile=_check_file(ca_file, "CA"))
            if ca_data is not None:
                ctx.load_verify_locations(cadata=ca_data)
        except ssl.SSLError as exc:
            raise TlsConfigError(f"cannot load CA certificates: not valid PEM ({exc.reason or exc})") from exc

    @staticmethod
    def _load_certifi(ctx: ssl.SSLContext) -> None:
        try:
            certifi = importlib.import_module("certifi")   # optional, not a dependency
        except ImportError:
            log.warning("the system trust store is empty and certifi is not installed: "
                        "no server certificate will verify")
            return
        ctx.load_verify_locations(cafile=certifi.where())
        log.info("system trust store empty; using certifi's CA bundle")

    @staticmethod
    def _apply_common(ctx: ssl.SSLContext, cert_file: str | os.PathLike[str] | None,
                      key_file: str | os.PathLike[str] | None, key_password: str | None,
                      min_version: str | ssl.TLSVersion | None, max_version: str | ssl.TLSVersion | None,
                      tls13_only: bool, alpn: Sequence[str] | None, ciphers: str | None) -> None:
        ctx.minimum_version = _version(min_version) if min_version else ssl.TLSVersion.TLSv1_2
        if max_version:
            ctx.maximum_version = _version(max_version)
        if tls13_only:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if ctx.maximum_version != ssl.TLSVersion.MAXIMUM_SUPPORTED and ctx.maximum_version < ctx.minimum_version:
            raise TlsConfigError("max_version is below min_version")
        if cert_file is not None or key_file is not None:
            if cert_file is None:
                raise TlsConfigError("key_file given without cert_file")
            cert = _check_file(cert_file, "certificate")
            key = _check_file(key_file, "private key") if key_file is not None else None
            try:
                ctx.load_cert_chain(cert, key, password=key_password)
            except ssl.SSLError as exc:
                text = str(exc)
                if "KEY_VALUES_MISMATCH" in text or "key values mismatch" in text.lower():
                    raise TlsConfigError(f"private key {key!r} does not match certificate {cert!r}") from exc
                raise TlsConfigError(f"cannot load certificate {cert!r} / key {key!r}: "
                                     f"not valid PEM or wrong password ({exc.reason or exc})") from exc
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        if ciphers:
            try:
                ctx.set_ciphers(ciphers)
            except ssl.SSLError as exc:
                raise TlsConfigError(f"no usable cipher in {ciphers!r}") from exc

    def __repr__(self) -> str:
        side = "server" if self.server_side else "client"
        return (f"<TlsConfig {side} min={self.context.minimum_version.name} "
                f"verify={self.context.verify_mode.name}>")


class TlsConfigBuilder:
    """Fluent construction: ``TlsConfig.builder().ca_file(p).tls13_only().build()``."""

    def __init__(self) -> None:
        self._kw: dict[str, object] = {}

    def ca_file(self, path: str | os.PathLike[str]) -> TlsConfigBuilder:
        self._kw["ca_file"] = path
        return self

    def ca_data(self, pem: str) -> TlsConfigBuilder:
        self._kw["ca_data"] = pem
        return self

    def client_cert(self, cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str],
                    password: str | None = None) -> TlsConfigBuilder:
        self._kw.update(cert_file=cert_file, key_file=key_file, key_password=password)
        return self

    def tls13_only(self) -> TlsConfigBuilder:
        self._kw["tls13_only"] = True
        return self

    def min_version(self, version: str) -> TlsConfigBuilder:
        self._kw["min_version"] = version
        return self

    def alpn(self, protocols: Sequence[str]) -> TlsConfigBuilder:
        self._kw["alpn"] = list(protocols)
        return self

    def ciphers(self, spec: str) -> TlsConfigBuilder:
        self._kw["ciphers"] = spec
        return self

    def sni(self, name: str) -> TlsConfigBuilder:
        self._kw["sni"] = name
        return self

    def danger_no_verify(self) -> TlsConfigBuilder:
        self._kw["verify"] = False
        return self

    def build(self) -> TlsConfig:
        return TlsConfig(**self._kw)  # type: ignore[arg-type]


def _warn_no_verify() -> None:
    global _warned_no_verify
    if not _warned_no_verify:
        _warned_no_verify = True
        log.warning("TLS certificate verification is DISABLED (danger_no_verify): "
                    "the connection is encrypted but the peer is not authenticated")


from nexus_net._tls import TlsCodec  # noqa: E402  (the codec needs the errors above)
