"""Instructions per message, counted by callgrind: figures that do not move
with this machine's fast and slow modes (seconds do, by up to 2x).

Each figure is the difference of two runs of the same program, one with
``--small`` messages and one with ``--large``, divided by the difference in
messages: start-up, imports and the handshake cancel out. User-space
instructions only (callgrind does not see the kernel): a system call counts
as the few instructions that enter it.

* ``push``: the server side of ``bench/perf_server.py``'s one-way push (40 B,
  one ``await conn.send_binary(p)`` per message) under callgrind, the client
  running natively; and the interpreter's floor for that loop shape (one C
  call + one ``await`` of a complete awaitable, nothing sent).
* ``zerocopy``: ``bench/perf_ws_codec.py``'s zero-copy section (parse, then
  take each payload as ``msg.bytes()``, ``msg.data`` or the message itself,
  kept or dropped), in process.

* ``codec`` (with ``--baseline DIR``): the uncompressed parse (40 B binary
  messages; 77 B JSON quotes through ``msg.json()``), this tree against an
  earlier one built in place (``git worktree add DIR COMMIT``, then
  ``python setup.py build_ext --inplace`` there).

    python bench/perf_instructions.py [--only push|zerocopy|codec] [--baseline DIR] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def callgrind_total(cmd: list[str], out_dir: str, tag: str) -> tuple[list[str], str]:
    # PYTHONHASHSEED fixed: with random string hashes, dict probing (orjson
    # building the quote's dict, say) moves a count by ~2 % from run to run.
    out = os.path.join(out_dir, f"callgrind.{tag}")
    return ["env", "PYTHONHASHSEED=0", "valgrind", "--tool=callgrind",
            f"--callgrind-out-file={out}", *cmd], out


def read_total(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


def per_message(runs: dict[int, int]) -> float:
    (n1, i1), (n2, i2) = sorted(runs.items())
    return (i2 - i1) / (n2 - n1)


# ---- push ----------------------------------------------------------------------

def push_server(kind: str, count: int, out_dir: str) -> int:
    import perf_loopback as L
    import perf_server as S
    prefix, out = callgrind_total([], out_dir, f"{kind}.{count}")
    S.push_once(kind, L.tput_picows if kind.startswith("picows") else L.tput_nexus, count, prefix)
    return read_total(out)


# perf_server's own floor (its await_floor), run here under callgrind.
FLOOR = """
import sys
sys.path.insert(0, {here!r})
import perf_loopback as L
import perf_server as S
L.run(S.await_floor(int(sys.argv[1])))
"""


def floor_run(count: int, out_dir: str) -> int:
    cmd, out = callgrind_total([sys.executable, "-c", FLOOR.format(here=HERE), str(count)], out_dir,
                               f"floor.{count}")
    subprocess.run(cmd, check=True, capture_output=True)
    return read_total(out)


def push_section(args: argparse.Namespace, out_dir: str) -> list[tuple[str, float]]:
    small, large = args.small, args.large
    rows = [
        ("nexus-net server, await send_binary (coalesced)",
         per_message({n: push_server("nexus-push", n, out_dir) for n in (small, large)})),
        ("nexus-net server, coalescing off (a write per message)",
         per_message({n: push_server("nexus-push-direct", n, out_dir) for n in (small, large // 4)})),
        ("floor: the loop alone (one C call + one await of a complete awaitable)",
         per_message({n: floor_run(n, out_dir) for n in (small, large)})),
    ]
    try:
        import picows  # noqa: F401
        rows.insert(2, ("picows server, transport.send (user space only)",
                        per_message({n: push_server("picows-push", n, out_dir)
                                     for n in (small, large // 4)})))
    except ImportError:
        pass
    return rows


# ---- zero-copy -----------------------------------------------------------------

ZEROCOPY = """
import gc, sys
sys.path.insert(0, {here!r})
import _frames as F
import perf_ws_codec as B
handle, keep, count, size = sys.argv[1], sys.argv[2] == "keep", int(sys.argv[3]), int(sys.argv[4])
chunks = F.chunks(F.make_stream(F.binary_payload(size), F.OP_BINARY, count, False))
run = B.nexus_handles(chunks, handle, keep)
gc.collect()
assert run() == count
"""


def zerocopy_section(args: argparse.Namespace, out_dir: str) -> list[tuple[int, str, dict[str, float]]]:
    import perf_ws_codec as B
    script = ZEROCOPY.format(here=HERE)
    rows = []
    for size in B.ZEROCOPY_SIZES:
        scale = max(1, size // 512)               # fewer messages for the big sizes
        counts = (args.small // scale, args.large // scale)
        for keep in ("dropped", "kept"):
            row = {}
            for handle in B.HANDLES:
                runs = {}
                for n in counts:
                    cmd, out = callgrind_total(
                        [sys.executable, "-c", script, handle, "keep" if keep == "kept" else "drop",
                         str(n), str(size)], out_dir, f"zc.{size}.{keep}.{n}")
                    subprocess.run(cmd, check=True, capture_output=True)
                    runs[n] = read_total(out)
                row[handle] = per_message(runs)
            rows.append((size, keep, row))
            print(f"    {size} B {keep}: " + ", ".join(f"{h} {v:,.0f}" for h, v in row.items()),
                  file=sys.stderr, flush=True)
    return rows


# ---- the uncompressed parse against an earlier build -----------------------------

# perf_ws_codec's own drivers: the Message itself for binary (nothing but
# the parse), msg.json() for the quote.
CODEC = """
import sys
sys.path.insert(0, {here!r})
import _frames as F
import perf_ws_codec as B
name, count = sys.argv[1], int(sys.argv[2])
_, payload, opcode, masked, mode = next(c for c in B.CASES if c[0] == name)
chunks = F.chunks(F.make_stream(payload, opcode, count, masked))
run = B.nexus_message_only(chunks, masked) if mode == "binary" else B.nexus_parser(chunks, mode, masked)
assert run() == count
"""
CODEC_KINDS = ["binary 40 B", "JSON quote 77 B"]


def codec_section(args: argparse.Namespace, out_dir: str) -> list[tuple[str, float, float]]:
    """The uncompressed parse, this tree against ``--baseline`` (a source
    tree with its extensions built in place): what issue 15's "messages from
    an uncompressed connection pay nothing" is checked with."""
    script = CODEC.format(here=HERE)
    rows = []
    for kind in CODEC_KINDS:
        got = {}
        for tag, root in (("now", os.path.dirname(HERE)), ("before", args.baseline)):
            env = dict(os.environ, PYTHONPATH=root)
            runs = {}
            for n in (args.small, args.large):
                cmd, out = callgrind_total([sys.executable, "-c", script, kind, str(n)], out_dir,
                                           f"codec.{tag}.{n}")
                subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=out_dir)
                runs[n] = read_total(out)
            got[tag] = per_message(runs)
        rows.append((kind, got["now"], got["before"]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["push", "zerocopy", "codec"])
    ap.add_argument("--baseline", help="codec: an earlier source tree, extensions built in place")
    ap.add_argument("--small", type=int, default=20_000, help="messages in the first run of a pair")
    ap.add_argument("--large", type=int, default=220_000, help="messages in the second run of a pair")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    from _machine import describe
    print(describe(["picows"]))
    with tempfile.TemporaryDirectory() as out_dir:
        if args.only in (None, "push"):
            rows = push_section(args, out_dir)
            base = rows[0][1]
            if args.markdown:
                print("\n**Push, instructions per 40 B message (callgrind, server process)**\n")
                print("| server | instructions/msg | vs nexus-net coalesced |\n|---|---:|---:|")
                for name, v in rows:
                    print(f"| {name} | {v:,.0f} | {v / base:.2f}x |")
            else:
                for name, v in rows:
                    print(f"  {name:<72}{v:>10,.0f}{v / base:>8.2f}x")
        if args.baseline and args.only in (None, "codec"):
            rows = codec_section(args, out_dir)
            if args.markdown:
                print(f"\n**Uncompressed parse, instructions per message, this tree vs {args.baseline}**\n")
                print("| stream | now | before | now vs before |\n|---|---:|---:|---:|")
            for kind, now, before in rows:
                print(f"| {kind} | {now:,.0f} | {before:,.0f} | {now / before:.3f}x |" if args.markdown
                      else f"  {kind:<32}{now:>9,.0f}{before:>9,.0f}{now / before:>8.3f}x")
        if args.only in (None, "zerocopy"):
            rows = zerocopy_section(args, out_dir)
            if args.markdown:
                print("\n**Zero-copy, instructions per message (callgrind, parse + take the payload)**\n")
                print("| size | payload | msg.bytes() | msg.data | msg (Message) | Message vs bytes() |")
                print("|---:|---|---:|---:|---:|---:|")
            for size, keep, row in rows:
                b, d, m = row["msg.bytes()"], row["msg.data"], row["msg (Message)"]
                if args.markdown:
                    print(f"| {size:,} B | {keep} | {b:,.0f} | {d:,.0f} | {m:,.0f} | {m / b:.2f}x |")
                else:
                    print(f"  {size:>6} B {keep:<8} bytes() {b:>9,.0f}  data {d:>9,.0f}  "
                          f"Message {m:>9,.0f}  {m / b:.2f}x")


if __name__ == "__main__":
    main()
