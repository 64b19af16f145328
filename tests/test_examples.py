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
    out = run_example("examples/demo.py", "--quotes", "20000", "--round-trips", "2000", "--orders", "1000")
    assert "20,000 at" in out and "none missing" in out
    assert "closed by server: 1000 'end of stream'" in out
    assert "p50" in out and "p99.9" in out
    assert "(1,000 orders, every one answered 201)" in out
    # the peers of the test extra ran the same workloads against the same servers
    table = out[out.index("| library |"):]
    for name in ("nexus-net", "websockets", "aiohttp"):
        assert f"| {name} |" in table, table
    assert "| aiohttp | " in table and " - |" not in table.split("| aiohttp |")[1].split("\n")[0]


def test_demo_over_tls_without_peers():
    out = run_example("examples/demo.py", "--quotes", "5000", "--round-trips", "500", "--orders", "300",
                      "--tls", "--no-peers", "--size", "100")
    assert "servers in a separate process, TLS" in out
    assert "5,000 at" in out and "100-byte echo round trip" in out
    assert "| library |" not in out


def test_in_memory_codec_example():
    out = run_example("examples/codec_in_memory.py", "--messages", "5000", "--rounds", "1")
    assert "all 5,000 quotes identical" in out


def test_rest_order_entry_example():
    out = run_example("examples/rest_order_entry.py", "--orders", "600", "--connections", "3")
    assert "600 of 600 signed orders accepted over 3 keep-alive connections" in out
    assert "'sell': 300" in out and "'buy': 300" in out
    assert "forged signature: 401 bad signature" in out


# ---- exchange-style examples (issue 16, part 3), each against its local stand-in ----------

def test_binance_style_example():
    out = run_example("examples/exchange_binance.py", "--trades", "200", "--keepalive", "0.1")
    assert "market stream: 200 trades, ids 1..200, 0 gaps, 1 reconnect(s) after close code 1012" in out
    assert "subscribed 2 times" in out
    assert "user data: execution report FILLED; listenKey kept alive with 3 PUTs" in out


def test_okx_style_example():
    out = run_example("examples/exchange_okx.py", "--updates", "4", "--gap", "0.25", "--heartbeat", "0.08")
    assert "login: ok; order updates: 3000, 3001, 3002, 3003" in out
    pings, pongs = [int(w) for w in out.split("heartbeats: ")[1].split() if w.isdigit()][:2]
    assert pings >= 3 and pongs == pings, out          # every quiet gap got a ping, every pong taken


def test_htx_style_example():
    out = run_example("examples/exchange_htx.py", "--ticks", "200", "--ping-every", "40")
    assert "200 gzip ticks decoded" in out
    assert "5 application pings answered, every pong echoing its ping" in out


def test_order_entry_pool_with_a_lost_response():
    out = run_example("examples/exchange_orders_pool.py", "--orders", "30", "--connections", "3", "--lose", "7")
    assert "30 orders on the exchange for 30 sent, no duplicate; 29 confirmed at once, " \
           "1 outcome unknown, 1 reconciled by client order id" in out


def test_blocking_script_example():
    out = run_example("examples/exchange_blocking.py", "--quotes", "300")
    assert "order FILLED" in out
    assert "300 quotes, in order: True; closed by the server: 1000 'end of stream'" in out


def test_coinbase_style_example():
    out = run_example("examples/exchange_coinbase.py", "--requests", "4", "--updates", "10")
    assert "4 REST requests, each with its own ES256 JWT: accepted" in out
    assert "a token for another uri: 401 uri 'POST " in out
    assert "level2 subscription with a JWT: 10 updates; 5 distinct nonces seen" in out


def test_sans_io_codecs_on_trio():
    out = run_example("examples/sansio_trio.py", "--messages", "300")
    assert "300 messages echoed through the sans-IO codecs, closed with 1000" in out
