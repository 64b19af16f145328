"""Build script: compiles the Cython extensions.

Release build (default): -O3, no bounds checks where the code says so.
Debug build: set NEXUS_NET_DEBUG=1 to compile with -O0 -g, line tracing
(for coverage/profilers) and an annotated HTML report next to each .pyx
(``cython -a``), so the yellow lines of hot functions can be inspected.
"""

import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("NEXUS_NET_DEBUG", "") not in ("", "0")

MODULES = [
    "nexus_net.buf",
    "nexus_net._tls",
    "nexus_net._waiter",
    "nexus_net._outbuf",
    "nexus_net._inflate",
    "nexus_net.ws._utf8",
    "nexus_net.ws._deflate",
    "nexus_net.ws._reader",
    "nexus_net.ws._writer",
    "nexus_net.ws._session",
    "nexus_net.ws._aio",
    "nexus_net.http._message",
    "nexus_net.http._chunked",
    "nexus_net.http._response",
    "nexus_net.http._request",
    "nexus_net.http._writer",
    "nexus_net.rest._request",
    "nexus_net.rest._aio",
]

if sys.platform == "win32":
    cflags = ["/O2"] if not DEBUG else ["/Od", "/Zi"]
else:
    cflags = ["-O3"] if not DEBUG else ["-O0", "-g3"]
    cflags += ["-Wno-unused-function", "-Wno-unreachable-code"]

macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []

# zlib through its C API (declared once, in nexus_net/_zlib.pxd): the HTTP
# content decoder and the permessage-deflate codec call it; the others reach
# them through cimport.
LIBRARIES = {"nexus_net._inflate": ["z"], "nexus_net.ws._deflate": ["z"]}

extensions = [
    Extension(
        name,
        [name.replace(".", "/") + ".pyx"],
        extra_compile_args=cflags,
        define_macros=macros,
        libraries=LIBRARIES.get(name, []),
    )
    for name in MODULES
]

directives = {
    "language_level": "3",
    "embedsignature": True,
    "cdivision": True,
}
if DEBUG:
    directives.update({"linetrace": True, "profile": True})

# Both steps use every core: a cold build of the 15 modules is serial
# otherwise (about 2.5 min here instead of about 1.5).
JOBS = os.cpu_count() or 1

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=DEBUG,
        nthreads=JOBS if JOBS > 1 else 0,
    ),
    options={"build_ext": {"parallel": JOBS}},
)
