#!/usr/bin/env bash
# Build a copy of nexus_net whose Cython extensions are compiled by clang with
# AddressSanitizer and libFuzzer coverage (-fsanitize=address,fuzzer-no-link),
# so atheris is guided by the coverage of the C parsers and any out-of-bounds
# access in them is caught. Needs clang (apt-get install clang) and atheris.
#
#   fuzz/build_instrumented.sh [build-dir]          (default /tmp/nexus-net-fuzz)
#   fuzz/run_instrumented.sh fuzz/fuzz_response_reader.py --seconds 300
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/nexus-net-fuzz}"
PY="${PYTHON:-python}"
rm -rf "$OUT"
mkdir -p "$OUT"
cp setup.py pyproject.toml README.md "$OUT"/
tar --exclude='*.so' --exclude='*.c' --exclude='*.html' --exclude='__pycache__' -cf - nexus_net | tar -xf - -C "$OUT"
cd "$OUT"
CC=clang LDSHARED="clang -shared" CFLAGS="-fsanitize=address,fuzzer-no-link -g -O1" \
    "$PY" setup.py -q build_ext --inplace
echo "instrumented build in $OUT"
