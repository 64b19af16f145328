"""One command for every benchmark: ``python -m bench`` (from the repository root).

    python -m bench [--quick] [--only codec,loopback,...] [--out bench/RESULTS.md]
                    [--plots bench/plots] [--list]

Runs each benchmark script of ``bench/`` in turn (never two at once: they
share the cores), side by side with whichever peers are installed (``pip
install -e '.[bench]'``), printing progress and each one's time. Then it
rewrites the generated part of ``bench/RESULTS.md`` (between the markers
``<!-- bench:generated:start -->`` and ``<!-- bench:generated:end -->``; the
curated analyses below them stay) with every table of this run under its
command, and draws one PNG per table into ``--plots`` (matplotlib, in the
``bench`` extra): ns per message per library for the codec tables, latency
percentiles and throughput per library for the loopback ones.

How long: ``--quick`` took 3 min 29 s here (2026-12-02, 2 cores); the full
settings are each script's defaults, several times longer (not timed yet).
Numbers depend on the machine; ratios within one run hold.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
START, END = "<!-- bench:generated:start -->", "<!-- bench:generated:end -->"


@dataclass
class Bench:
    name: str
    script: str
    full: list[str]
    quick: list[str]
    what: str


BENCHES = [
    Bench("codec", "perf_ws_codec.py", ["--only", "parse"], ["--only", "parse", "--reps", "5", "--calls", "20000"],
          "in-memory WebSocket parse/encode, ns per message"),
    Bench("loopback", "perf_loopback.py", [], ["--reps", "3", "--round-trips", "3000", "--messages", "200000"],
          "WebSocket echo round trip and one-way throughput over 127.0.0.1"),
    Bench("tls", "perf_tls.py", [], ["--reps", "3", "--round-trips", "2000", "--messages", "100000"],
          "the same over TLS 1.3"),
    Bench("rest", "perf_rest.py", [], ["--reps", "3", "--requests", "3000"],
          "REST order-entry round trip; gzip JSON; client overhead"),
    Bench("deflate", "perf_deflate.py", [], ["--reps", "5", "--count", "5000", "--calls", "20000",
                                             "--connections", "100"],
          "permessage-deflate: inflate + JSON, compress on send, memory per connection"),
    Bench("server", "perf_server.py", ["--only", "push"], ["--only", "push", "--reps", "3"],
          "server push, one await send per 40 B message"),
    Bench("proxy", "perf_proxy.py", [], ["--reps", "3", "--round-trips", "2000"],
          "round trip direct and through proxies"),
]


def run_one(bench: Bench, quick: bool) -> tuple[str, str, float, int]:
    args = [sys.executable, os.path.join(HERE, bench.script), *(bench.quick if quick else bench.full), "--markdown"]
    command = "python bench/" + " ".join([bench.script, *args[2:]])
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=os.path.dirname(HERE))
    return command, proc.stdout + (f"\n\n(stderr)\n```\n{proc.stderr[-2000:]}\n```\n" if proc.returncode else ""), \
        time.perf_counter() - t0, proc.returncode


# ---- markdown tables -> plots --------------------------------------------------------------

# a table and the line above it (its title: bold in most scripts, plain in some)
TABLE = re.compile(r"(?m)^(?P<title>[^|\n][^\n]*)\n[ \t]*\n(?P<table>\|.+\|\n\|[-:| ]+\|\n(?:\|.*\|\n?)+)")


def number(cell: str) -> float | None:
    m = re.search(r"-?[\d,]+(?:\.\d+)?", cell.replace("**", ""))
    if not m:
        return None
    text = m.group().replace(",", "")
    value = float(text)
    rest = cell[m.end():].strip().lower()
    if rest.startswith("m") and "msg" not in rest[:2]:
        value *= 1e6                           # "7.33 M"
    return value


def tables(markdown: str) -> list[tuple[str, list[str], list[list[str]]]]:
    found = []
    for m in TABLE.finditer(markdown):
        lines = [line.strip() for line in m.group("table").strip().splitlines()]
        head = [c.strip() for c in lines[0].strip("|").split("|")]
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
        found.append((m.group("title").strip().strip("*").strip(), head, rows))
    return found


def plot(title: str, head: list[str], rows: list[list[str]], path: str) -> bool:
    """A horizontal bar chart of the first numeric column (and the second, if
    it is a percentile), one bar per row. False when nothing is numeric."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [i for i in range(1, len(head)) if all(number(r[i]) is not None for r in rows if len(r) > i)]
    columns = [i for i in columns if not head[i].lower().startswith("vs") and "ratio" not in head[i].lower()
               and " vs " not in head[i].lower() and head[i].lower() not in ("size", "per rep")]
    if not columns or len(rows) < 2:
        return False
    shown = columns[:2] if len(columns) > 1 and "p99" in head[columns[1]].lower() else columns[:1]
    size = head.index("size") if "size" in head else None
    labels = [(r[0].replace("**", "") + (f" ({r[size]})" if size is not None else ""))[:56] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.4))
    height = 0.8 / len(shown)
    for k, col in enumerate(shown):
        values = [number(r[col]) or 0.0 for r in rows]
        ax.barh([i + k * height for i in range(len(rows))], values, height=height, label=head[col])
    ax.set_yticks([i + (len(shown) - 1) * height / 2 for i in range(len(rows))], labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title[:90], fontsize=9)
    ax.set_xlabel(head[shown[0]], fontsize=8)
    if len(shown) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and messages (~4 min)")
    ap.add_argument("--only", help="comma-separated names: " + ",".join(b.name for b in BENCHES))
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--plots", default=os.path.join(HERE, "plots"))
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--replot", action="store_true",
                    help="only redraw the plots from the generated part of --out (no benchmark runs)")
    args = ap.parse_args()
    chosen = BENCHES
    if args.list:
        for b in BENCHES:
            print(f"{b.name:<10} bench/{b.script:<20} {b.what}")
        return 0
    if args.replot:
        text = open(args.out).read()
        generated = text[text.index(START):text.index(END)]
        os.makedirs(args.plots, exist_ok=True)
        drawn = []
        for part in generated.split("\n### ")[1:]:
            name = part.split(":", 1)[0]
            for title, head, rows in tables(part):
                path = os.path.join(args.plots, f"{name}-{slug(title)}.png")
                if plot(title, head, rows, path):
                    drawn.append(path)
        listing = "### Plots\n\n" + "\n".join(
            f"![{os.path.basename(p)}]({os.path.relpath(p, os.path.dirname(args.out))})" for p in drawn) + "\n\n"
        if "### Plots\n" in generated:
            generated = generated[:generated.index("### Plots\n")] + listing
        else:
            generated = generated.rstrip("\n") + "\n\n" + listing
        with open(args.out, "w") as f:
            f.write(text[:text.index(START)] + generated + text[text.index(END):])
        print(f"{len(drawn)} plots in {os.path.relpath(args.plots)}; the list in {os.path.relpath(args.out)} redrawn")
        return 0
    if args.only:
        names = set(args.only.split(","))
        unknown = names - {b.name for b in BENCHES}
        if unknown:
            ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        chosen = [b for b in BENCHES if b.name in names]

    sections = []
    failed = []
    t_all = time.perf_counter()
    for i, bench in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {bench.name}: {bench.what} ...", flush=True)
        command, output, seconds, rc = run_one(bench, args.quick)
        print(f"        {seconds:.0f} s{'' if rc == 0 else f', FAILED (exit {rc})'}", flush=True)
        if rc:
            failed.append(bench.name)
        sections.append((bench, command, output, seconds))

    plots: list[str] = []
    if not args.no_plots:
        os.makedirs(args.plots, exist_ok=True)
        for bench, _, output, _ in sections:
            for title, head, rows in tables(output):
                path = os.path.join(args.plots, f"{bench.name}-{slug(title)}.png")
                if plot(title, head, rows, path):
                    plots.append(path)
        print(f"{len(plots)} plots in {os.path.relpath(args.plots)}")

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body = [START, "", f"## One-command report (`python -m bench{' --quick' if args.quick else ''}`, {stamp})",
            "", f"{len(chosen)} benchmarks in {time.perf_counter() - t_all:.0f} s"
            + (f"; failed: {', '.join(failed)}" if failed else "") + ". Generated: rerunning replaces this part.", ""]
    for bench, command, output, seconds in sections:
        body += [f"### {bench.name}: {bench.what}", "", f"Command: `{command}` ({seconds:.0f} s)", "",
                 output.strip(), ""]
    if plots:
        body += ["### Plots", ""] + [f"![{os.path.basename(p)}]({os.path.relpath(p, os.path.dirname(args.out))})"
                                     for p in plots] + [""]
    body.append(END)
    generated = "\n".join(body)

    old = open(args.out).read() if os.path.exists(args.out) else "# Benchmark results\n"
    if START in old and END in old:
        new = old[:old.index(START)] + generated + old[old.index(END) + len(END):]
    else:                                   # first run: after the title and introduction
        cut = old.find("\n## ")
        new = (old + "\n" + generated + "\n") if cut < 0 else old[:cut + 1] + generated + "\n\n" + old[cut + 1:]
    with open(args.out, "w") as f:
        f.write(new)
    print(f"rewrote the generated part of {os.path.relpath(args.out)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
