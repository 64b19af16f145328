"""``python -m bench`` (the one-command report) works: it runs a benchmark,
rewrites only the generated part of the results file and draws plots. It
asserts nothing about speed (benchmarks are never tests)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_bench(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_report_rewrites_only_the_generated_part(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\nintro\n\n## Curated\n\nkept as it is\n")
    args = ["--quick", "--only", "deflate", "--out", str(out), "--no-plots"]
    assert "[1/1] deflate" in run_bench(*args)
    first = out.read_text()
    assert first.index("<!-- bench:generated:start -->") < first.index("## Curated")
    assert "perf_deflate.py --reps 5" in first and "| nexus-net |" in first
    assert first.endswith("kept as it is\n")
    run_bench(*args)                                   # again: replaced, not appended
    assert out.read_text().count("<!-- bench:generated:start -->") == 1


def test_report_plots_every_table(tmp_path):
    pytest.importorskip("matplotlib")
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_report", os.path.join(ROOT, "bench", "__main__.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_report"] = module
    spec.loader.exec_module(module)
    found = module.tables("**t**\n\n| library | median ns/msg | p99 ns/msg | vs x |\n|---|---:|---:|---:|\n"
                          "| a | 1,000 | 2,000 | 1.0x |\n| b | 7.33 M | 9 M | 2.0x |\n")
    assert found == [("t", ["library", "median ns/msg", "p99 ns/msg", "vs x"],
                      [["a", "1,000", "2,000", "1.0x"], ["b", "7.33 M", "9 M", "2.0x"]])]
    assert module.number("7.33 M") == 7.33e6 and module.number("**737**") == 737
    png = tmp_path / "t.png"
    assert module.plot(*found[0], str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
