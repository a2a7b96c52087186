#!/usr/bin/env bash
# make check: build for the guest kernel, run the host unit tests and the
# guest end-to-end tests, and print one "N passed, N failed" line for all.
# Usage: check.sh [KSERIES]
set -uo pipefail
cd "$(dirname "$0")/.."
series=${1:-6.1}
build=$PWD/build
passed=0 failed=0

make --no-print-directory guest KSERIES="$series" || { echo "check: build failed"; echo "0 passed, 1 failed"; exit 1; }

# Host unit tests: the runner's last line is "N passed, N failed".
unit_out=$(make --no-print-directory -s unit 2>&1); unit_rc=$?
echo "$unit_out"
read -r up uf < <(echo "$unit_out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n1)
passed=$((passed + ${up:-0})); failed=$((failed + ${uf:-1}))
[ $unit_rc -eq 0 ] || [ "${uf:-1}" -gt 0 ] || failed=$((failed + 1))

# Guest tests (and the host-side tests of the harness itself).
VB_KSERIES=$series scripts/run-e2e.sh "$build/e2e-$series.xml"
read -r ep ef < <(python3 scripts/junit-counts.py "$build/e2e-$series.xml")
passed=$((passed + ep)); failed=$((failed + ef))

echo
echo "unit: ${up:-0} passed, ${uf:-?} failed"
echo "e2e: $ep passed, $ef failed"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
