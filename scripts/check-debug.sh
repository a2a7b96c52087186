#!/usr/bin/env bash
# make check-debug: build (or reuse) the debug guest kernel (KASAN, lockdep,
# kmemleak, fault injection; scripts/build-debug-kernel.sh), build vballoon
# against it with W=1, and run the driver, OOM, robustness and vbtrace tests
# plus the debug-only suites (kmemleak, fault injection) on it, in two
# guests side by side with the virtqueue layout, S3 and scale suites on the
# generic 6.1 kernel. Any lockdep, KASAN or kmemleak report
# fails a test (tests/vm/splat.py). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
build=$PWD/build
mkdir -p "$build"
t0=$(date +%s)

fail() { echo "check-debug: $1"; echo "0 passed, 1 failed"; exit 1; }

scripts/deps.sh debug || fail "missing packages"
rm -f "$build"/e2e-{debug-a,debug-b,generic}.{xml,log}
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

# The 6.1 module for the scale suite, built before the guests start.
make --no-print-directory guest-module KSERIES=6.1 >/dev/null || fail "6.1 module build failed"

# KASAN and lockdep under TCG make guest work several times slower.
# - A starved TCG vCPU trips RCU's stall detectors with a stack dump, not a
#   guest bug: CPU stall reports are off, and PROVE_RCU's check that a
#   requested grace period starts waits 300 s instead of 21.
# - acpi=noirq: on this slow kernel the DSDT's _PRT loop outruns ACPICA's
#   30 s AML loop timeout, PCI INTx is then never routed and the balloon
#   (INTx only) gets no config interrupt. The BIOS PIRQ table routes it.
# - The debug kernel keeps ~210 MiB more for itself: tests raise their
#   balloon floors by VB_KERNEL_EXTRA_MIB (tests/vm/guest.py).
debug_env=(VB_KSERIES=debug VB_TIMEOUT_SCALE=${VB_TIMEOUT_SCALE:-4} VB_KERNEL_EXTRA_MIB=256
	VB_KERNEL_ARGS="rcupdate.rcu_cpu_stall_suppress=1 rcupdate.rcu_cpu_stall_timeout=300 acpi=noirq no_timer_check")

# Three suites side by side, each into its own log, printed when all are
# done: the guests spend much of their time waiting (for the host, for
# hold-off and storm timers), so three keep two host cores busy.
suites=(debug-a debug-b generic)
suite() { # name env-args... -- test files...
	local name=$1 t=$SECONDS env=()
	shift
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	env "${env[@]}" VB_EXTENDED=1 scripts/run-e2e.sh "$build/e2e-$name.xml" "$@" \
		>"$build/e2e-$name.log" 2>&1
	echo "check-debug: suite $name took $((SECONDS - t)) s" >>"$build/e2e-$name.log"
}
t1=$(date +%s)
suite debug-a "${debug_env[@]}" -- test_debug.py test_driver.py test_robust.py &
pids=($!)
# Of the OOM and vbtrace suites, what runs kernel paths the checkers watch:
# the OOM notifier, storm reclaim, the tracepoints and the OOM hooks. The
# 20-hog storm, timing comparisons, parameter parsing and the CLI's own
# behaviour run in make check (6.1 and 6.12); here they would add half an
# hour.
suite debug-b "${debug_env[@]}" -- test_oom.py \
	--deselect test_oom.py::test_oom_storm \
	--deselect test_oom.py::test_rescue_timing_same_boot \
	--deselect test_oom.py::test_oom_pages_at_run_time \
	--deselect test_oom.py::test_invalid_oom_pages_refused \
	test_vbtrace.py::test_inflate_deflate_totals test_vbtrace.py::test_oom_leak_totals \
	test_vbtrace.py::test_memcg_kill_is_no_miss_global_kill_is \
	test_vbtrace.py::test_rmmod_after_tracer_exits \
	test_vbtrace.py::test_oom_hook_kprobe_and_none &
pids+=($!)
# Virtqueue layouts, S3 and scale (100 reload cycles, a storm of 50 spikes)
# on the generic 6.1 kernel: on the debug kernel scale alone would take some
# 40 minutes, and S3 under acpi=noirq has not been seen to complete.
suite generic VB_KSERIES=6.1 -- test_layouts.py test_suspend.py test_scale.py &
pids+=($!)
wait "${pids[@]}"

passed=0 failed=0
for x in "${suites[@]}"; do
	cat "$build/e2e-$x.log"
done
for x in "${suites[@]}"; do
	read -r p f < <(python3 scripts/junit-counts.py "$build/e2e-$x.xml")
	echo "check-debug: e2e $x: $p passed, $f failed"
	passed=$((passed + p)); failed=$((failed + f))
done
echo "check-debug: kernel $abi ($(cat "$(dirname "$kdir")/build-seconds") s to build once; ${t_kernel} s waited this run)"
echo "check-debug: tests $(($(date +%s) - t1)) s; total $(($(date +%s) - t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
