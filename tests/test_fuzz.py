"""Runs each fuzz target in fuzz/ briefly: a few hundred Hypothesis-generated
inputs in process, and (where atheris is installed) a short libFuzzer run in a
subprocess. Longer runs on demand: see fuzz/README.md."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

FUZZ = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fuzz")
TARGETS = ["fuzz_response_reader", "fuzz_request_reader", "fuzz_request_writer", "fuzz_keepalive"]


def load(name: str):
    sys.path.insert(0, FUZZ)
    try:
        spec = importlib.util.spec_from_file_location(name, os.path.join(FUZZ, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        engine = importlib.import_module("_engine")
    finally:
        sys.path.remove(FUZZ)
    return module, engine


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_target_with_hypothesis(name):
    module, engine = load(name)
    engine.run_hypothesis(module.TestOneInput, getattr(module, "SEEDS", []), examples=300)


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_target_with_atheris(name):
    pytest.importorskip("atheris")
    proc = subprocess.run([sys.executable, os.path.join(FUZZ, name + ".py"), "--engine", "atheris",
                           "--seconds", "3", "--runs", "30000"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "Done" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("name,reader", [("fuzz_response_reader", "ResponseReader"),
                                         ("fuzz_request_reader", "RequestReader")])
def test_reader_seeds_are_valid_streams(name, reader):
    """Each seed must reach the parser as a well-formed stream under the limits
    its own settings bytes choose (else mutations start from garbage)."""
    import nexus_net.http as http
    module, _ = load(name)
    common = sys.modules["_common"]
    for seed in module.SEEDS:
        kwargs, _, _, stream = common.reader_settings(seed)
        messages, error = common.parse_all(lambda: getattr(http, reader)(256, **kwargs), [stream],
                                           lambda m: None, (http.HttpError,))
        assert error is None and len(messages) >= 1, (seed, messages, error)


def test_a_broken_parser_is_caught():
    """The chunking-invariance check really fails when a parser's output
    depends on where the stream is cut."""
    module, _ = load("fuzz_response_reader")
    common = sys.modules["_common"]

    class Flaky:
        def __init__(self):
            self.chunks = 0

        def feed(self, data):
            self.chunks += 1

        def next(self):
            return None

        def feed_eof(self):
            if self.chunks > 1:
                raise ValueError("cut streams fail")

    with pytest.raises(AssertionError):
        common.check_chunking_invariance(Flaky, b"ab", [b"a", b"b"], lambda m: None, (ValueError,))
