#!/usr/bin/env bash
# Run one fuzz target against the instrumented build (see build_instrumented.sh).
set -euo pipefail
OUT="${NEXUS_NET_FUZZ_BUILD:-/tmp/nexus-net-fuzz}"
PY="${PYTHON:-python}"
LIB="$("$PY" -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so"
NEXUS_NET_FUZZ_BUILD="$OUT" ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1" LD_PRELOAD="$LIB" \
    exec "$PY" "$@" --engine atheris
