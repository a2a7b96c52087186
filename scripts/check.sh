#!/usr/bin/env bash
# make check: build for the guest kernel, run the host unit tests and the
# guest end-to-end tests, and print one "N passed, N failed" line for all.
# With the default 6.1 guest, the driver, OOM, vbtrace, robustness, free
# memory and host-view tests run again on Debian 6.12 with the same vbtrace
# binary (built once, CO-RE).
# Usage: check.sh [KSERIES]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
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

# Both guest kernels' modules are built first, so the guest suites can start
# before the host tests.
make --no-print-directory guest KSERIES="$series" || {
	echo "check: build failed"; echo "0 passed, 1 failed"; exit 1; }
if [ "$series" = 6.1 ]; then
	make --no-print-directory guest-module KSERIES=6.12 || {
		echo "check: 6.12 module build failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The guest suites, two per kernel, side by side. The guests spend much of
# their time waiting (for the host, for timers, for page reporting's 2 s
# delay), so four of them keep two host cores busy. Each suite writes its
# own log, printed whole when all are done. test_layouts, test_suspend and
# test_scale run in make check-debug.
oom_side="test_oom.py test_vbtrace.py test_hostview.py"
mem_side="test_freemem.py test_vbtrace_freemem.py test_freehint.py test_driver.py test_robust.py"
only_61="test_bench_smoke.py test_harness.py test_debug.py test_splat.py"
suites=()
e2e() { # name series tests...
	local name=$1 series=$2 t=$SECONDS
	shift 2
	rm -f "$build/e2e-$name".{xml,log}
	VB_KSERIES=$series scripts/run-e2e.sh "$build/e2e-$name.xml" "$@" >"$build/e2e-$name.log" 2>&1
	echo "check: suite $name took $((SECONDS - t)) s" >>"$build/e2e-$name.log"
}
start() { # name series tests...
	suites+=("$1")
	e2e "$@" &
	pids+=($!)
}
pids=()
echo "check: e2e running; logs in $build/e2e-*.log"
# shellcheck disable=SC2086
if [ "$series" = 6.1 ]; then
	start 6.1-oom 6.1 $oom_side $only_61
	start 6.1-mem 6.1 $mem_side
	start 6.12-oom 6.12 $oom_side
	start 6.12-mem 6.12 $mem_side
else
	start "$series-oom" "$series" $oom_side $only_61
	start "$series-mem" "$series" $mem_side
fi

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

wait "${pids[@]}"
for x in "${suites[@]}"; do
	cat "$build/e2e-$x.log"
done
for x in "${suites[@]}"; do
	count "e2e $x" "$build/e2e-$x.xml"
done

echo
printf '%s\n' "${summary[@]}"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
