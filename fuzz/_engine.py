"""Runs a fuzz target with atheris (libFuzzer) when it is installed, or with a
Hypothesis-driven random search otherwise.

    python fuzz/fuzz_response_reader.py [--seconds 60] [--engine atheris|hypothesis]

atheris mutates inputs guided by the coverage of the Python code it
instruments; the Cython parsers themselves are compiled by gcc without
libFuzzer's instrumentation, so for them atheris is a fast random mutator over
the seed corpus. The Hypothesis engine mutates the same seeds and also draws
structure-free bytes; it is what the test suite runs briefly on every CI run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

Target = Callable[[bytes], None]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 2))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(st.binary(max_size=12))
        else:
            del data[pos:pos + draw(st.integers(0, 12))]
    return bytes(data)


def run_hypothesis(target: Target, seeds: list[bytes], examples: int) -> None:
    """Run ``examples`` generated inputs through ``target`` (raises on the
    first failure, shrunk by Hypothesis)."""
    inputs = st.one_of(mutated(seeds), st.binary(max_size=2048)) if seeds else st.binary(max_size=2048)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def run(data: bytes) -> None:
        target(data)

    run()


def run_atheris(target: Target, seeds: list[bytes], seconds: float, runs: int | None = None) -> None:
    import atheris
    corpus = tempfile.mkdtemp(prefix="nexus-fuzz-")
    for i, seed in enumerate(seeds):
        with open(os.path.join(corpus, f"seed{i}"), "wb") as f:
            f.write(seed)
    args = [sys.argv[0], f"-max_total_time={int(seconds)}", "-max_len=4096", corpus]
    if runs is not None:
        args.insert(1, f"-runs={runs}")
    atheris.Setup(args, target)
    atheris.Fuzz()


def main(target: Target, seeds: list[bytes]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=None, help="atheris: stop after this many inputs")
    ap.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    args = ap.parse_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    print(f"fuzzing {sys.argv[0]} with {engine} for {args.seconds:g}s", flush=True)
    if engine == "atheris":
        run_atheris(target, seeds, args.seconds, args.runs)
        return
    deadline = time.monotonic() + args.seconds
    total = 0
    while time.monotonic() < deadline:
        run_hypothesis(target, seeds, 200)
        total += 200
    print(f"{total} inputs, no failure", flush=True)
