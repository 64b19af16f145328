"""The examples run and say what they did."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(*args):
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_selectors_example():
    out = run_example("examples/selectors_client.py", "--messages", "300")
    assert "300 messages echoed" in out
    assert "pong: b'are you there'" in out
    assert "close handshake done: 1000" in out
    assert "done: 300/300 echoed" in out


def test_demo_runs_end_to_end():
    out = run_example("examples/demo.py", "--quotes", "20000", "--round-trips", "2000")
    assert "20,000 in" in out and "none missing" in out
    assert "closed by server: 1000 'end of stream'" in out
    assert "p50" in out and "p99.9" in out


def test_in_memory_codec_example():
    out = run_example("examples/codec_in_memory.py", "--messages", "5000", "--rounds", "1")
    assert "all 5,000 quotes identical" in out


def test_rest_order_entry_example():
    out = run_example("examples/rest_order_entry.py", "--orders", "600", "--connections", "3")
    assert "600 of 600 signed orders accepted over 3 keep-alive connections" in out
    assert "'sell': 300" in out and "'buy': 300" in out
    assert "forged signature: 401 bad signature" in out
