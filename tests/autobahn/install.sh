#!/usr/bin/env bash
# Install the Autobahn TestSuite (wstest, Python 2.7 code on Twisted) into a
# cache folder outside the repository, and print that folder.
#
#   tests/autobahn/install.sh            -> prints e.g. /home/me/.cache/autobahn-py2
#
# Environment:
#   AUTOBAHN_PY2    Python 2.7 interpreter to use (default: pyenv's 2.7.18,
#                   then python2.7 / python2 on PATH)
#   AUTOBAHN_DEST   install folder (default: ${XDG_CACHE_HOME:-$HOME/.cache}/autobahn-py2)
#
# Idempotent: a marker file records a finished install; a second call only
# prints the path. Exit status 2: no Python 2.7 found; 3: it has no pip;
# anything else: pip failed (e.g. no network).
set -euo pipefail
# (files written here: the packages, $DEST/.python2 with the interpreter path,
#  and the marker $DEST/.nexus-autobahn-installed holding the pin list)

DEST="${AUTOBAHN_DEST:-${XDG_CACHE_HOME:-$HOME/.cache}/autobahn-py2}"
MARKER="$DEST/.nexus-autobahn-installed"

PINS=(
  setuptools==44.0.0 txaio==2.1.0 incremental==16.10.1 pyOpenSSL==19.1.0
  cryptography==3.3.2 Twisted==19.10.0 zope.interface==4.6.0 jinja2==2.11.3
  markupsafe==1.1.1 Werkzeug==1.0.1 klein==17.10.0 service_identity==18.1.0
  unittest2==1.1.0 six==1.16.0 "autobahn[twisted]==0.10.9" autobahntestsuite==25.10.1
  wsaccel==0.6.3
)
# wsaccel: Autobahn's C masking and UTF-8 validation. Without it wstest unmasks
# and validates in pure Python 2, and cases 12.*/13.* (1,000 messages of up to
# 128 KiB each, per case) took ~12 s each, wstest at 100 % of a core.
# The marker holds the pin list, so changing a pin triggers a reinstall.
STAMP="$(printf '%s\n' "${PINS[@]}")"

find_py2() {
  local cand
  if [[ -n "${AUTOBAHN_PY2:-}" ]]; then
    printf '%s\n' "$AUTOBAHN_PY2"; return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    cand="$(pyenv root)/versions/2.7.18/bin/python"
    if [[ -x "$cand" ]]; then printf '%s\n' "$cand"; return 0; fi
  fi
  for cand in "${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.18/bin/python" python2.7 python2; do
    if command -v "$cand" >/dev/null 2>&1; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}

if ! PY2="$(find_py2)"; then
  echo "install.sh: no Python 2.7 interpreter found (tried \$AUTOBAHN_PY2, pyenv's 2.7.18, python2.7, python2)." >&2
  echo "install.sh: Autobahn's wstest needs Python 2.7; install it with 'pyenv install 2.7.18'." >&2
  exit 2
fi
if ! "$PY2" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)' 2>/dev/null; then
  echo "install.sh: $PY2 is not a working Python 2.7 interpreter." >&2
  exit 2
fi

if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$STAMP" && -x "$(cat "$DEST/.python2" 2>/dev/null)" ]]; then
  printf '%s\n' "$DEST"
  exit 0
fi

if ! "$PY2" -m pip --version >/dev/null 2>&1; then
  echo "install.sh: $PY2 has no pip; run '$PY2 -m ensurepip' (pyenv's 2.7.18 ships pip)." >&2
  exit 3
fi

mkdir -p "$DEST"
echo "install.sh: installing autobahntestsuite into $DEST with $PY2 (about a minute) ..." >&2
"$PY2" -m pip install -q --disable-pip-version-check --no-warn-script-location \
  --upgrade --target "$DEST" "${PINS[@]}" >&2

# Smoke test: the package imports through the launcher's path setup.
"$PY2" - "$DEST" <<'PYEOF' >&2
import site, sys
site.addsitedir(sys.argv[1])
import autobahntestsuite.wstest  # noqa
PYEOF

# harness.py reads the interpreter from here
command -v "$PY2" > "$DEST/.python2" 2>/dev/null || printf '%s\n' "$PY2" > "$DEST/.python2"
printf '%s\n' "$STAMP" > "$MARKER"
printf '%s\n' "$DEST"
