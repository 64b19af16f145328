"""Run the real Autobahn TestSuite (``wstest``) against a client or a server.

Standard library only. ``wstest`` is Python 2.7 code; ``install.sh`` puts it in
a cache folder and ``wstest_launcher.py`` starts it from there.

Testing a client (wstest is the server, "fuzzingserver")::

    results = run_fuzzingserver([sys.executable, "tests/autobahn/client_websockets.py"],
                                agent="websockets", outdir="reports/autobahn/client")

Testing a server (wstest is the client, "fuzzingclient")::

    with running_server([sys.executable, "tests/autobahn/server_websockets.py"]) as port:
        results = run_fuzzingclient(f"ws://127.0.0.1:{port}", agent="websockets",
                                    outdir="reports/autobahn/server")

    passed, failed, unimplemented = summarize(results)
    print(summary_line("server", results))

From a shell (prints the summary and every failed case, exit status 1 on failures)::

    python tests/autobahn/harness.py client [--cases 1.* 2.*] -- python tests/autobahn/client_websockets.py
    python tests/autobahn/harness.py server -- python tests/autobahn/server_websockets.py
    python tests/autobahn/harness.py server --url ws://127.0.0.1:9001

Results map case ids ("1.1.1", ...) to ``{"behavior", "behaviorClose",
"result", "resultClose", "remoteCloseCode", "remoteCloseReason", "duration"}``
(``result*`` and ``remoteCloseReason`` come from the per-case JSON report). A case that the spec
selected but that never produced a result (client crashed, timeout, connection
refused) is reported with behavior ``"MISSING"`` and counts as failed.

Environment: ``AUTOBAHN_PY2`` / ``AUTOBAHN_DEST`` are honoured by install.sh.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
INSTALL_SH = HERE / "install.sh"
LAUNCHER = HERE / "wstest_launcher.py"
DEFAULT_REPORTS = REPO / "reports" / "autobahn"

PASS_BEHAVIOR = frozenset({"OK", "NON-STRICT", "INFORMATIONAL"})
PASS_CLOSE = frozenset({"OK", "INFORMATIONAL"})
#: permessage-deflate sections: UNIMPLEMENTED is expected there (and only there)
COMPRESSION_SECTIONS = frozenset({"12", "13"})

DEFAULT_TIMEOUT = 1200.0  # a full run takes 1.5 to 3 minutes on 2 cores

#: why the last find_wstest() returned None (for skip messages)
install_error: str | None = None


class AutobahnError(RuntimeError):
    """wstest could not be started or did not produce reports."""


class Results(dict[str, dict[str, Any]]):
    """``{case_id: {...}}`` plus details about the run.

    ``outdir`` report folder; ``returncode`` of the client under test
    (fuzzingserver) or of wstest (fuzzingclient), None when it was killed;
    ``timed_out``; ``duration`` seconds; ``log`` path of the log to look at.
    """

    outdir: Path
    returncode: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    log: Path | None = None


# --------------------------------------------------------------------------- install


def find_wstest(install: bool = True, timeout: float = 900.0) -> tuple[str, str] | None:
    """``(python2.7 path, install folder)``, installing on first use.

    Returns None (and sets ``harness.install_error``) when Python 2.7 is
    missing or the installation fails.
    """
    global install_error
    install_error = None
    if not install:
        dest = Path(os.environ.get("AUTOBAHN_DEST") or _default_dest())
        return _installed(dest)
    try:
        proc = subprocess.run(["bash", str(INSTALL_SH)], capture_output=True, text=True,
                              timeout=timeout, start_new_session=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        install_error = f"install.sh failed: {exc}"
        return None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if "WARNING: Url" not in ln]
        install_error = (f"install.sh exited with {proc.returncode}: "
                         + "\n".join(lines[-15:]).strip())
        return None
    out = proc.stdout.strip().splitlines()
    if not out:
        install_error = "install.sh printed no path"
        return None
    found = _installed(Path(out[-1]))
    if found is None:
        install_error = f"install.sh reported {out[-1]} but no usable install is there"
    return found


def _default_dest() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "autobahn-py2")


def _installed(dest: Path) -> tuple[str, str] | None:
    try:
        py2 = (dest / ".python2").read_text().strip()
    except OSError:
        return None
    if not (dest / ".nexus-autobahn-installed").is_file() or not os.access(py2, os.X_OK):
        return None
    return py2, str(dest)


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(cmd: Sequence[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as f:
        return subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)


def _kill_group(proc: subprocess.Popen[Any], grace: float = 3.0) -> None:
    """SIGTERM the process group (the process was started as a session leader),
    SIGKILL what is left after ``grace`` seconds. Safe to call twice."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure no child of it survives either
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return


def _wait_port(host: str, port: int, proc: subprocess.Popen[Any] | None,
               deadline: float) -> bool:
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _tail(path: Path | None, lines: int = 30) -> str:
    if path is None:
        return ""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def running_server(cmd: Sequence[str], port: int = 0, ready_timeout: float = 30.0,
                   log: Path | str | None = None) -> Iterator[int]:
    """Start a server-under-test script (``cmd + ["--port", port]``), wait for
    the ``READY <port>`` line it prints, yield the port; kill it afterwards."""
    log_path = Path(log) if log else None
    err = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([*cmd, "--port", str(port)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    try:
        assert proc.stdout is not None
        found: list[int] = []
        got_ready = threading.Event()

        def pump() -> None:  # keep draining stdout so the server never blocks on it
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode(errors="replace").strip()
                m = re.fullmatch(r"READY (\d+)", line)
                if m and not found:
                    found.append(int(m.group(1)))
                    got_ready.set()
                elif log_path:
                    with open(log_path, "a") as f:
                        f.write(line + "\n")
            got_ready.set()

        threading.Thread(target=pump, daemon=True).start()
        got_ready.wait(ready_timeout)
        if not found:
            code = proc.poll()
            raise AutobahnError(
                f"server {list(cmd)} did not print 'READY <port>' within {ready_timeout}s"
                + (f" (exited with {code})" if code is not None else "")
                + (f"\n{_tail(log_path)}" if log_path else ""))
        yield found[0]
    finally:
        _kill_group(proc)
        if proc.stdout:
            proc.stdout.close()
        if log_path:
            err.close()  # type: ignore[union-attr]


# --------------------------------------------------------------------------- tiny WS client


def _ws_get(host: str, port: int, path: str, timeout: float = 120.0) -> list[str]:
    """Open ``path`` on wstest, collect text messages until its close frame,
    answer the close. Used for /updateReports when the client under test died."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise AutobahnError(f"wstest closed the connection during the handshake for {path}")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise AutobahnError(f"wstest refused {path}: {head[:200]!r}")

        def need(n: int) -> bytes:
            nonlocal buf
            while len(buf) < n:
                chunk = s.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            out, buf = buf[:n], buf[n:]
            return out

        messages: list[str] = []
        try:
            while True:
                b0, b1 = need(2)
                n = b1 & 0x7F
                if n == 126:
                    (n,) = struct.unpack("!H", need(2))
                elif n == 127:
                    (n,) = struct.unpack("!Q", need(8))
                mask = need(4) if b1 & 0x80 else b""
                payload = need(n)
                if mask:
                    payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
                opcode = b0 & 0x0F
                if opcode == 0x1:
                    messages.append(payload.decode(errors="replace"))
                elif opcode == 0x8:
                    m = os.urandom(4)
                    body = payload[:2]
                    s.sendall(bytes([0x88, 0x80 | len(body)]) + m
                              + bytes(c ^ m[i % 4] for i, c in enumerate(body)))
                    break
        except EOFError:
            pass
        return messages


# --------------------------------------------------------------------------- results


def case_key(case_id: str) -> tuple[Any, ...]:
    """Natural order: 1.1.2 < 1.1.10 < 1.2.1."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in case_id.split("."))


def _prepare_outdir(outdir: Path | str) -> Path:
    out = Path(outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("index.json", "cases.json", "index.html"):
        (out / stale).unlink(missing_ok=True)
    for old in out.glob("*_case_*.json"):
        old.unlink()
    for old in out.glob("*_case_*.html"):
        old.unlink()
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _index_complete(outdir: Path, agent: str) -> bool:
    index = _read_json(outdir / "index.json")
    cases = _read_json(outdir / "cases.json")
    if not isinstance(index, dict) or agent not in index:
        return False
    return cases is None or set(cases) <= set(index[agent])


def parse_reports(outdir: Path | str, agent: str, missing_reason: str = "") -> Results:
    """Read ``index.json`` (and the per-case reports) from a wstest outdir."""
    out = Path(outdir)
    res = Results()
    res.outdir = out
    index = _read_json(out / "index.json") or {}
    entries: dict[str, Any] = index.get(agent, {})
    if not entries and len(index) == 1:  # agent spelled differently by wstest
        entries = next(iter(index.values()))
    for cid, e in entries.items():
        row = {
            "behavior": e.get("behavior"),
            "behaviorClose": e.get("behaviorClose"),
            "remoteCloseCode": e.get("remoteCloseCode"),
            "duration": e.get("duration"),
            "result": "",
            "resultClose": "",
            "remoteCloseReason": None,
        }
        detail = _read_json(out / e["reportfile"]) if e.get("reportfile") else None
        if isinstance(detail, dict):
            row["result"] = detail.get("result") or ""
            row["resultClose"] = detail.get("resultClose") or ""
            row["remoteCloseReason"] = detail.get("remoteCloseReason")
        res[cid] = row
    expected = _read_json(out / "cases.json") or []
    for cid in expected:
        if cid not in res:
            res[cid] = {"behavior": "MISSING", "behaviorClose": "MISSING",
                        "remoteCloseCode": None, "duration": None,
                        "result": "case produced no result"
                                  + (f" ({missing_reason})" if missing_reason else ""),
                        "resultClose": ""}
    ordered = Results(sorted(res.items(), key=lambda kv: case_key(kv[0])))
    ordered.outdir = out
    return ordered


def summarize(results: dict[str, dict[str, Any]]
              ) -> tuple[int, list[tuple[str, str, str, str]], int]:
    """``(passed, failed, unimplemented)``.

    Passed: behavior OK / NON-STRICT / INFORMATIONAL and behaviorClose OK /
    INFORMATIONAL. Unimplemented: UNIMPLEMENTED in sections 12 and 13
    (permessage-deflate); UNIMPLEMENTED anywhere else is a failure.
    ``failed`` is ``[(case_id, behavior, behaviorClose, result_text), ...]``
    in natural case order.
    """
    passed = unimplemented = 0
    failed: list[tuple[str, str, str, str]] = []
    for cid in sorted(results, key=case_key):
        r = results[cid]
        b, bc = r.get("behavior"), r.get("behaviorClose")
        if b == "UNIMPLEMENTED" and cid.split(".", 1)[0] in COMPRESSION_SECTIONS:
            unimplemented += 1
        elif b in PASS_BEHAVIOR and bc in PASS_CLOSE:
            passed += 1
        else:
            text = r.get("result") or ""
            if bc not in PASS_CLOSE and r.get("resultClose"):
                text = f"{text} | close: {r['resultClose']}" if text else f"close: {r['resultClose']}"
            code = r.get("remoteCloseCode")
            if code is not None:
                why = r.get("remoteCloseReason")
                text += f" [peer closed with {code}" + (f" {why!r}]" if why else "]")
            failed.append((cid, str(b), str(bc), text))
    return passed, failed, unimplemented


def summary_line(direction: str, results: dict[str, dict[str, Any]]) -> str:
    """``autobahn client (async): 301 passed / 0 failed / 216 unimplemented``."""
    passed, failed, unimplemented = summarize(results)
    return (f"autobahn {direction}: {passed} passed / {len(failed)} failed / "
            f"{unimplemented} unimplemented")


def format_failures(results: dict[str, dict[str, Any]], limit: int | None = None) -> str:
    """One line per failed case: ``7.5.1  behavior=FAILED close=OK  <result>``."""
    _, failed, _ = summarize(results)
    rows = failed if limit is None else failed[:limit]
    lines = [f"  {cid:<9} behavior={b:<13} close={bc:<13} {text}" for cid, b, bc, text in rows]
    if limit is not None and len(failed) > limit:
        lines.append(f"  ... and {len(failed) - limit} more")
    return "\n".join(lines)


# --------------------------------------------------------------------------- runs


def _wstest_cmd(wstest: tuple[str, str], outdir: Path, *args: str) -> list[str]:
    py2, dest = wstest
    return [py2, "-E", "-s", str(LAUNCHER), "--dest", dest,
            "--case-list", str(outdir / "cases.json"), "--", *args]


@contextlib.contextmanager
def _one_run_at_a_time(dest: str) -> Iterator[None]:
    """Serialize Autobahn runs on this machine (e.g. under pytest-xdist):
    the timing-sensitive cases get flaky when two runs share the CPUs."""
    with open(Path(dest) / ".run.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _require_wstest(wstest: tuple[str, str] | None) -> tuple[str, str]:
    found = wstest or find_wstest()
    if found is None:
        raise AutobahnError(f"Autobahn wstest is not available: {install_error}")
    return found


def run_fuzzingserver(client_cmd: Sequence[str], agent: str, outdir: Path | str,
                      cases: Sequence[str] = ("*",), exclude: Sequence[str] = (),
                      timeout: float = DEFAULT_TIMEOUT,
                      wstest: tuple[str, str] | None = None,
                      tls: tuple[str, str] | None = None) -> Results:
    """Test a **client**: start ``wstest -m fuzzingserver`` on a free port, run
    ``client_cmd + ["--url", ws://127.0.0.1:PORT, "--agent", agent]``, collect
    the reports. ``timeout`` bounds the whole run (client included).

    ``cases`` / ``exclude`` are Autobahn case patterns ("1.*", "9.1.1"). The
    spec, wstest.log and client.log are written into ``outdir`` too.
    ``tls=(cert_file, key_file)`` runs the server over wss:// (wstest -c/-k).
    """
    wst = _require_wstest(wstest)
    with _one_run_at_a_time(wst[1]):
        return _run_fuzzingserver(wst, client_cmd, agent, outdir, cases, exclude, timeout, tls)


def _run_fuzzingserver(wst: tuple[str, str], client_cmd: Sequence[str], agent: str,
                       outdir: Path | str, cases: Sequence[str], exclude: Sequence[str],
                       timeout: float, tls: tuple[str, str] | None = None) -> Results:
    out = _prepare_outdir(outdir)
    start = time.monotonic()
    deadline = start + timeout
    server_log, client_log = out / "wstest.log", out / "client.log"
    server_log.write_bytes(b"")
    client_log.write_bytes(b"")

    server: subprocess.Popen[bytes] | None = None
    client: subprocess.Popen[bytes] | None = None
    res_meta: dict[str, Any] = {"returncode": None, "timed_out": False}
    reason = ""
    try:
        for _attempt in range(3):  # the free port may be taken before wstest binds it
            port = _free_port()
            url = f"{'wss://localhost' if tls else 'ws://127.0.0.1'}:{port}"
            spec = {"url": url, "outdir": str(out), "cases": list(cases),
                    "exclude-cases": list(exclude), "exclude-agent-cases": {}}
            if tls:
                # wstest 25.10.1 does not pass -c/-k on to the fuzzing server
                # in this mode; it reads them from the spec.
                spec.update(cert=tls[0], key=tls[1])
            (out / "fuzzingserver.json").write_text(json.dumps(spec, indent=2))
            tls_args = ["-c", tls[0], "-k", tls[1]] if tls else []
            server = _spawn(_wstest_cmd(wst, out, "-m", "fuzzingserver", "-s",
                                        str(out / "fuzzingserver.json"), "-u", "0", *tls_args),
                            server_log, cwd=out)
            if _wait_port("127.0.0.1", port, server, min(deadline, time.monotonic() + 60)):
                break
            _kill_group(server)
            server = None
        if server is None:
            raise AutobahnError(f"wstest fuzzingserver did not start:\n{_tail(server_log)}")

        client = _spawn([*client_cmd, "--url", url, "--agent", agent], client_log, cwd=REPO)
        try:
            res_meta["returncode"] = client.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            res_meta["timed_out"] = True
            reason = f"client timed out after {timeout:.0f}s"
        finally:
            _kill_group(client)
        if res_meta["returncode"] not in (0, None):
            reason = f"client exited with status {res_meta['returncode']}"

        if not _index_complete(out, agent) and server.poll() is None:
            # the client did not get to /updateReports: ask for the reports ourselves
            with contextlib.suppress(OSError, AutobahnError):
                _ws_get("127.0.0.1", port, f"/updateReports?agent={quote(agent)}",
                        timeout=max(30.0, deadline - time.monotonic()))
    finally:
        if server is not None:
            _kill_group(server)

    res = parse_reports(out, agent, missing_reason=reason)
    res.returncode = res_meta["returncode"]
    res.timed_out = res_meta["timed_out"]
    res.duration = time.monotonic() - start
    res.log = client_log
    return res


def run_fuzzingclient(server_url: str, agent: str, outdir: Path | str,
                      cases: Sequence[str] = ("*",), exclude: Sequence[str] = (),
                      timeout: float = DEFAULT_TIMEOUT,
                      wstest: tuple[str, str] | None = None) -> Results:
    """Test a **server** that the caller started at ``server_url``: run
    ``wstest -m fuzzingclient`` against it and collect the reports.
    ``timeout`` bounds the wstest run; the spec and wstest.log go into ``outdir``."""
    wst = _require_wstest(wstest)
    with _one_run_at_a_time(wst[1]):
        return _run_fuzzingclient(wst, server_url, agent, outdir, cases, exclude, timeout)


def _run_fuzzingclient(wst: tuple[str, str], server_url: str, agent: str,
                       outdir: Path | str, cases: Sequence[str], exclude: Sequence[str],
                       timeout: float) -> Results:
    out = _prepare_outdir(outdir)
    parts = urlsplit(server_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if not _wait_port(host, port, None, time.monotonic() + 10):
        raise AutobahnError(f"server under test is not accepting connections at {server_url}")

    start = time.monotonic()
    log = out / "wstest.log"
    log.write_bytes(b"")
    spec = {"outdir": str(out), "servers": [{"agent": agent, "url": server_url}],
            "cases": list(cases), "exclude-cases": list(exclude), "exclude-agent-cases": {}}
    (out / "fuzzingclient.json").write_text(json.dumps(spec, indent=2))
    proc = _spawn(_wstest_cmd(wst, out, "-m", "fuzzingclient", "-s",
                              str(out / "fuzzingclient.json")),
                  log, cwd=out)
    returncode: int | None = None
    timed_out = False
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc)
    if not (out / "cases.json").exists() and returncode not in (0, None):
        raise AutobahnError(f"wstest fuzzingclient failed ({returncode}):\n{_tail(log)}")

    reason = (f"wstest timed out after {timeout:.0f}s" if timed_out
              else f"wstest exited with {returncode}" if returncode else "")
    res = parse_reports(out, agent, missing_reason=reason)
    res.returncode = returncode
    res.timed_out = timed_out
    res.duration = time.monotonic() - start
    res.log = log
    return res


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("mode", choices=["client", "server"],
                   help="client: test a client command; server: test a server command or --url")
    p.add_argument("--agent", default=None, help="agent name in the reports")
    p.add_argument("--outdir", default=None,
                   help=f"report folder (default {DEFAULT_REPORTS.relative_to(REPO)}/<mode>-<agent>)")
    p.add_argument("--cases", nargs="+", default=["*"])
    p.add_argument("--exclude", nargs="+", default=[])
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    p.add_argument("--url", default=None, help="server mode: an already running server")
    p.epilog = ("After '--': the client command, or the server command (it is run with "
                "--port 0 and must print 'READY <port>').")
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd: list[str] = []
    if "--" in argv:  # everything after "--" is the command under test
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1:]
    a = p.parse_args(argv)
    agent = a.agent or (Path(cmd[-1]).stem if cmd else "server")
    outdir = Path(a.outdir) if a.outdir else DEFAULT_REPORTS / f"{a.mode}-{agent}"

    wst = find_wstest()
    if wst is None:
        print(f"wstest unavailable: {install_error}", file=sys.stderr)
        return 2
    if a.mode == "client":
        if not cmd:
            p.error("client mode needs a command after --")
        res = run_fuzzingserver(cmd, agent, outdir, a.cases, a.exclude, a.timeout, wstest=wst)
    elif a.url:
        res = run_fuzzingclient(a.url, agent, outdir, a.cases, a.exclude, a.timeout, wstest=wst)
    else:
        if not cmd:
            p.error("server mode needs --url or a command after --")
        outdir.mkdir(parents=True, exist_ok=True)
        with running_server(cmd, log=outdir / "server.log") as port:
            res = run_fuzzingclient(f"ws://127.0.0.1:{port}", agent, outdir, a.cases,
                                    a.exclude, a.timeout, wstest=wst)
    print(summary_line(f"{a.mode} ({agent})", res) + f"  [{res.duration:.1f}s, reports: {res.outdir}]")
    failures = format_failures(res)
    if failures:
        print(failures)
    return 1 if summarize(res)[1] else 0


if __name__ == "__main__":
    sys.exit(main())
