#!/usr/bin/env bash
# make check-flavours: the module on every Debian kernel flavour. Builds
# vballoon with W=1 (no warnings allowed) for 6.1 and 6.12 x amd64,
# cloud-amd64, rt-amd64 and for the oldest 6.1 ABI in the archive, then
# boots the cloud and rt kernels and runs the driver, rescue and vbtrace
# tests on each. Prints the matrix and "N passed, N failed".
# Usage: check-flavours.sh [SERIES:FLAVOUR...]   (default: all seven)
set -uo pipefail
cd "$(dirname "$0")/.."
build=$PWD/build
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(6.1:amd64 6.1:cloud-amd64 6.1:rt-amd64
	6.12:amd64 6.12:cloud-amd64 6.12:rt-amd64 6.1-oldest:amd64)
subset=(test_driver.py test_oom.py::test_rescue_keeps_hog_alive
	test_oom.py::test_no_rescue_without_feature test_vbtrace.py)
passed=0 failed=0 rows=()

scripts/deps.sh debug || { echo "0 passed, 1 failed"; exit 1; }
make --no-print-directory vbtrace >/dev/null || { echo "vbtrace build failed"; echo "0 passed, 1 failed"; exit 1; }

# W=1 build; prints "yes", "warnings" or "no".
build_module() { # kdir out log
	scripts/build-module.sh "$1" "$2" >"$3" 2>&1 || { echo no; return; }
	if grep -qi 'warning' "$3"; then echo warnings; else echo yes; fi
}

for k in "${kernels[@]}"; do
	series=${k%%:*} flavour=${k#*:}
	booted=- tests=-
	if ! kdir=$(scripts/fetch-kernel.sh "$series" "$flavour"); then
		rows+=("$series $flavour - fetch-failed - -")
		failed=$((failed + 1))
		continue
	fi
	abi=$(basename "$kdir")
	mkdir -p "$build/$abi"
	built=$(build_module "$kdir" "$build/$abi" "$build/$abi/module-build.log")
	if [ "$built" = yes ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	if [ "$built" = yes ] && [ "$flavour" != amd64 ]; then
		xml=$build/e2e-$abi.xml
		VB_KERNEL_DIR=$kdir scripts/run-e2e.sh "$xml" "${subset[@]}"
		read -r p f < <(python3 scripts/junit-counts.py "$xml")
		passed=$((passed + p)); failed=$((failed + f))
		booted=no; [ "$p" -gt 0 ] && booted=yes
		tests="$p/$((p + f))"
	fi
	rows+=("$series $flavour $abi $built $booted $tests")
done

echo
printf '%-11s %-12s %-26s %-9s %-7s %s\n' series flavour abi "built W=1" booted passed
for r in "${rows[@]}"; do
	# shellcheck disable=SC2086
	printf '%-11s %-12s %-26s %-9s %-7s %s\n' $r
done
echo "check-flavours: $passed passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
