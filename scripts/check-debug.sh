#!/usr/bin/env bash
# make check-debug: build (or reuse) the debug guest kernel (KASAN, lockdep,
# kmemleak, fault injection; scripts/build-debug-kernel.sh), build vballoon
# against it with W=1, and run the driver, OOM, robustness and vbtrace tests
# plus the debug-only and extended suites (kmemleak, fault injection,
# virtqueue layouts, S3, scale) on it. Any lockdep, KASAN or kmemleak
# report fails a test (tests/vm/splat.py). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
build=$PWD/build
mkdir -p "$build"
t0=$(date +%s)

fail() { echo "check-debug: $1"; echo "0 passed, 1 failed"; exit 1; }

scripts/deps.sh debug || fail "missing packages"
kdir=$(scripts/fetch-kernel.sh debug) || fail "debug kernel build failed"
t_kernel=$(($(date +%s) - t0))
abi=$(basename "$(ls -d "$kdir"/lib/modules/*/)")

log=$build/$abi/module-build.log
mkdir -p "$build/$abi"
make --no-print-directory vbtrace >/dev/null || fail "vbtrace build failed"
scripts/build-module.sh "$kdir" "$build/$abi" >"$log" 2>&1 || { tail -n 30 "$log"; fail "module build failed"; }
if grep -qi 'warning' "$log"; then
	grep -i 'warning' "$log"
	fail "module build for $abi has warnings (W=1)"
fi

# KASAN and lockdep under TCG make guest work several times slower.
export VB_KSERIES=debug VB_EXTENDED=1 VB_TIMEOUT_SCALE=${VB_TIMEOUT_SCALE:-4}
t1=$(date +%s)
scripts/run-e2e.sh "$build/e2e-debug.xml" test_driver.py test_oom.py test_robust.py \
	test_vbtrace.py test_debug.py test_layouts.py test_suspend.py test_scale.py
t_tests=$(($(date +%s) - t1))

read -r passed failed < <(python3 scripts/junit-counts.py "$build/e2e-debug.xml")
echo
echo "check-debug: kernel $abi ($(cat "$kdir/build-seconds") s to build; ${t_kernel} s this run)"
echo "check-debug: tests ${t_tests} s, total $(($(date +%s) - t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
