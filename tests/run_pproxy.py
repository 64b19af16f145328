"""Run pproxy (PyPI) as the tests' third-party proxy: ``python run_pproxy.py ARGS...``.

pproxy 2.7 calls ``asyncio.get_event_loop()`` after installing uvloop's
policy, which current uvloop refuses; it runs here on the stdlib loop with a
loop set beforehand (the proxy's speed is not what the tests measure).
"""

import asyncio
import sys

sys.modules["uvloop"] = None          # type: ignore[assignment]  # pproxy: stay on asyncio
asyncio.set_event_loop(asyncio.new_event_loop())

from pproxy.server import main  # noqa: E402

sys.argv = ["pproxy", *sys.argv[1:]]
main()
