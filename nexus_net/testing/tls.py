"""A throw-away certificate authority for tests (trustme), as TlsConfigs."""

from __future__ import annotations

import os
import ssl
import tempfile

from nexus_net.tls import TlsConfig


class TestTls:
    """A trustme CA and a certificate for ``localhost`` / ``127.0.0.1``:
    ``server_config`` (for ``ws.serve`` / a test server), ``client_config``
    (trusts only this CA), ``ca_file`` / ``cert_file`` (key and chain in one
    PEM), and ``server_context()`` (an ``ssl.SSLContext`` for other servers)."""

    __test__ = False          # (not a test class, whatever pytest's collector thinks)

    def __init__(self, folder: str | None = None) -> None:
        try:
            import trustme
        except ImportError:   # pragma: no cover
            raise RuntimeError("nexus_tls needs trustme: pip install trustme") from None
        self._dir = None if folder is not None else tempfile.TemporaryDirectory(prefix="nexus-tls-")
        folder = folder if folder is not None else self._dir.name   # type: ignore[union-attr]
        ca = trustme.CA()
        self.ca_file = os.path.join(folder, "ca.pem")
        self.cert_file = os.path.join(folder, "server.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(self.cert_file)
        self.server_config = TlsConfig.server(self.cert_file, self.cert_file)
        self.client_config = TlsConfig(ca_file=self.ca_file)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file)
        return ctx

    def cleanup(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
