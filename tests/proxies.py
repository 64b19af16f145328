"""Third-party proxies for the tests, started on 127.0.0.1: pproxy (PyPI).

``start_pproxy(listen, *extra)`` runs ``tests/run_pproxy.py -l LISTEN`` on a
free port and returns (process, port) once it accepts connections.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the proxy exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the proxy did not listen on {port} within {timeout}s")


@contextlib.contextmanager
def pproxy(scheme: str, auth: str | None = None, *extra: str, log: str | None = None):
    """A pproxy listening for ``scheme`` (e.g. ``http+socks4+socks5``). With
    ``log``, it runs verbose (-v: one line per tunnel) into that file."""
    port = free_port()
    listen = f"{scheme}://127.0.0.1:{port}" + (f"#{auth}" if auth else "")
    out = open(log, "w") if log else subprocess.PIPE
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "run_pproxy.py"), "-l", listen,
                             "--auth", "0", *(("-v",) if log else ()), *extra],
                            stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        wait_listening(port, proc)
        yield port
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if log:
            out.close()


# ---- Debian's tinyproxy (HTTP CONNECT) and dante-server (SOCKS5) ----------------------------

TINYPROXY = "/usr/bin/tinyproxy"
DANTED = "/usr/sbin/danted"


def require_binary(path: str, package: str) -> None:
    """Skip outside CI when a Debian proxy is missing; in CI (.ci/run installs
    them) its absence is a failure."""
    import pytest
    if os.path.exists(path):
        return
    if os.environ.get("NEXUS_NET_CI") or os.environ.get("CI"):
        pytest.fail(f"{path} is missing: .ci/run installs the Debian package {package}")
    pytest.skip(f"{path} is not installed (apt-get install -y {package})")


@contextlib.contextmanager
def _daemon(argv: list[str], port: int, folder: str):
    log = open(os.path.join(folder, "out.log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_listening(port, proc)
        except RuntimeError as exc:
            log.flush()
            with open(os.path.join(folder, "out.log")) as f:
                raise RuntimeError(f"{exc}; its output: {f.read()[-2000:]}") from None
        yield port
    finally:
        proc.kill()
        proc.wait()
        log.close()


@contextlib.contextmanager
def tinyproxy(folder: str, basic_auth: tuple[str, str] | None = None, connect_ports: list[int] | None = None):
    """tinyproxy in the foreground on a free port. With no ConnectPort line it
    tunnels to every port; ``connect_ports`` restricts CONNECT to those."""
    port = free_port()
    lines = [f"Port {port}", "Listen 127.0.0.1", "Timeout 30", "MaxClients 200", "Allow 127.0.0.1",
             f"LogFile \"{folder}/tinyproxy.log\"", "LogLevel Info", f"PidFile \"{folder}/tinyproxy.pid\""]
    if os.geteuid() == 0:
        lines += ["User nobody", "Group nogroup"]
    if basic_auth:
        lines.append(f"BasicAuth {basic_auth[0]} {basic_auth[1]}")
    lines += [f"ConnectPort {p}" for p in connect_ports or ()]
    conf = os.path.join(folder, "tinyproxy.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    with _daemon([TINYPROXY, "-d", "-c", conf], port, folder) as p:
        yield p


@contextlib.contextmanager
def danted(folder: str, blocked_port: int | None = None):
    """Dante's SOCKS5 server in the foreground on a free port, no
    authentication; connections to ``blocked_port`` refused by a rule
    (reply 2, "not allowed by ruleset")."""
    port = free_port()
    rules = []
    if blocked_port is not None:
        rules.append(f"socks block {{ from: 0.0.0.0/0 to: 127.0.0.1/32 port = {blocked_port} log: connect error }}")
    conf = "\n".join([
        f"logoutput: {folder}/danted.log",
        f"internal: 127.0.0.1 port = {port}",
        "external: 127.0.0.1",
        "clientmethod: none",
        "socksmethod: none",
        "user.privileged: root" if os.geteuid() == 0 else "",
        "user.unprivileged: nobody" if os.geteuid() == 0 else "",
        "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }",
        *rules,
        "socks pass {\n from: 127.0.0.0/8 to: 0.0.0.0/0\n command: connect\n log: connect\n}",
    ]) + "\n"
    path = os.path.join(folder, "danted.conf")
    with open(path, "w") as f:
        f.write(conf)
    with _daemon([DANTED, "-f", path, "-N", "1", "-p", os.path.join(folder, "danted.pid")], port, folder) as p:
        yield p
