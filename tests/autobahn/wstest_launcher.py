# -*- coding: utf-8 -*-
"""Start Autobahn's ``wstest`` from a ``pip install --target`` folder.

Runs under **Python 2.7** (autobahntestsuite is Python 2 code on Twisted).

    python2.7 -E -s wstest_launcher.py [--dest DIR] [--case-list FILE] -- <wstest arguments>

    e.g.  ... wstest_launcher.py --dest ~/.cache/autobahn-py2 -- -m fuzzingserver -s spec.json -u 0

``--dest``  the folder install.sh installed into (default: $AUTOBAHN_DEST, then
            ${XDG_CACHE_HOME:-~/.cache}/autobahn-py2). It is added with
            ``site.addsitedir`` rather than PYTHONPATH so that the ``zope``
            namespace package's ``.pth`` file is processed.

``--case-list FILE``  (for harness.py) write the case ids the spec resolves
                     to (after exclusions, in Autobahn's order) to FILE as JSON,
                     so the harness can tell a case that never ran from one
                     that passed. It does not change how cases run or are judged.

In ``fuzzingclient`` mode wstest stops by itself once the reports are written
(also when the server under test refuses a connection: the remaining cases
are then missing from the report). In ``fuzzingserver`` mode it runs until
killed; the client under test asks for the reports with ``/updateReports``.
"""

import json
import os
import site
import sys


def _default_dest():
    dest = os.environ.get("AUTOBAHN_DEST")
    if dest:
        return dest
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "autobahn-py2")


def _parse(argv):
    dest = None
    case_list = None
    rest = list(argv)
    while rest:
        arg = rest[0]
        if arg == "--":
            rest.pop(0)
            break
        if arg == "--dest":
            dest = rest[1]
            del rest[:2]
        elif arg.startswith("--dest="):
            dest = arg.split("=", 1)[1]
            rest.pop(0)
        elif arg == "--case-list":
            case_list = rest[1]
            del rest[:2]
        elif arg.startswith("--case-list="):
            case_list = arg.split("=", 1)[1]
            rest.pop(0)
        else:
            break  # first wstest argument
    return dest or _default_dest(), case_list, rest


def _install_patches(case_list):
    if case_list:
        from autobahntestsuite import caseset

        original_parse = caseset.CaseSet.parseSpecCases

        def parseSpecCases(self, spec):
            cases = original_parse(self, spec)
            tmp = case_list + ".tmp"
            with open(tmp, "w") as f:
                json.dump(cases, f)
            os.rename(tmp, case_list)
            return cases

        caseset.CaseSet.parseSpecCases = parseSpecCases


def main():
    dest, case_list, wstest_args = _parse(sys.argv[1:])
    if not os.path.isdir(os.path.join(dest, "autobahntestsuite")):
        sys.stderr.write("wstest_launcher: autobahntestsuite is not installed in %s "
                         "(run tests/autobahn/install.sh)\n" % dest)
        return 2
    # Do not let this script's own folder shadow anything.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    site.addsitedir(dest)

    # wstest.py must be imported first: it installs the reactor (choosereactor).
    from autobahntestsuite import wstest

    _install_patches(case_list)
    sys.argv = ["wstest"] + wstest_args
    wstest.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
