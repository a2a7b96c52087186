#!/usr/bin/env bash
# make check: build for the guest kernel, run the host unit tests and the
# guest end-to-end tests, and print one "N passed, N failed" line for all.
# With the default 6.1 guest, the driver, OOM, vbtrace, robustness, free
# memory and host-view tests run again on Debian 6.12 with the same vbtrace
# binary (built once, CO-RE).
# Usage: check.sh [KSERIES]
set -uo pipefail
cd "$(dirname "$0")/.."
series=${1:-6.1}
build=$PWD/build
passed=0 failed=0
summary=()

count() { # label junit.xml
	local p f
	read -r p f < <(python3 scripts/junit-counts.py "$2")
	passed=$((passed + p)); failed=$((failed + f))
	summary+=("$1: $p passed, $f failed")
}

make --no-print-directory guest KSERIES="$series" || {
	echo "check: build failed"; echo "0 passed, 1 failed"; exit 1; }

# Host unit tests: the runner's last line is "N passed, N failed".
unit_out=$(make --no-print-directory -s unit 2>&1); unit_rc=$?
echo "$unit_out"
read -r up uf < <(echo "$unit_out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n1)
up=${up:-0} uf=${uf:-1}
[ $unit_rc -eq 0 ] || [ "$uf" -gt 0 ] || uf=1
passed=$((passed + up)); failed=$((failed + uf))
summary+=("unit: $up passed, $uf failed")

# The same unit tests under ASan and UBSan.
asan_out=$(make --no-print-directory -s -C tests/unit asan 2>&1); asan_rc=$?
echo "$asan_out" | tail -n 20
read -r ap af < <(echo "$asan_out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n1)
ap=${ap:-0} af=${af:-1}
[ $asan_rc -eq 0 ] || [ "$af" -gt 0 ] || af=1
passed=$((passed + ap)); failed=$((failed + af))
summary+=("unit asan+ubsan: $ap passed, $af failed")

# libFuzzer, briefly: one result per target ("<target>: ok N runs").
fuzz_out=$(make --no-print-directory -s -C tests/fuzz run 2>&1)
echo "$fuzz_out"
fp=$(echo "$fuzz_out" | grep -c '^fuzz_[a-z]*: ok ')
ff=$(echo "$fuzz_out" | grep -c '^fuzz_[a-z]*: FAILED')
[ "$fp" -gt 0 ] || ff=$((ff + 1))
passed=$((passed + fp)); failed=$((failed + ff))
summary+=("fuzz: $fp passed, $ff failed")

# The guest suites run side by side, one TCG guest per host core; each
# writes its own log, printed whole when both are done.
e2e() { # series junit.xml log [tests...]
	local series=$1 xml=$2 log=$3
	shift 3
	VB_KSERIES=$series scripts/run-e2e.sh "$xml" "$@" >"$log" 2>&1
}
rm -f "$build/e2e-$series".{xml,log} "$build"/e2e-6.12.{xml,log}
echo "check: e2e running; logs in $build/e2e-*.log"
e2e "$series" "$build/e2e-$series.xml" "$build/e2e-$series.log" &
pids=($!)
if [ "$series" = 6.1 ]; then
	if make --no-print-directory guest-module KSERIES=6.12; then
		e2e 6.12 "$build/e2e-6.12.xml" "$build/e2e-6.12.log" \
			test_driver.py test_oom.py test_vbtrace.py test_vbtrace_freemem.py \
			test_robust.py test_freemem.py test_freehint.py test_hostview.py &
		pids+=($!)
	fi
fi
wait "${pids[@]}"
cat "$build/e2e-$series.log"
count "e2e $series" "$build/e2e-$series.xml"
if [ "$series" = 6.1 ]; then
	cat "$build/e2e-6.12.log" 2>/dev/null
	count "e2e 6.12" "$build/e2e-6.12.xml"
fi

echo
printf '%s\n' "${summary[@]}"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
