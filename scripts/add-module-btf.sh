#!/usr/bin/env bash
# Give a module a .BTF section when Kbuild could not (Debian's 6.1 headers
# ship no vmlinux). tp_btf programs and CO-RE need it.
# Usage: add-module-btf.sh MODULE.ko [BASE_BTF]   no BASE_BTF: skip, say so
set -euo pipefail
ko=$1 base=${2:-}
if readelf -S "$ko" | grep -q ' \.BTF '; then
	exit 0
fi
if [ -z "$base" ]; then
	echo "  BTF     none: no base BTF for this kernel (its vmlinux, or" \
		"/sys/kernel/btf/vmlinux when it runs); vbtrace will use raw_tp" >&2
	exit 0
fi
if [ ! -r "$base" ]; then
	echo "no base BTF at $base: cannot add BTF to $ko" >&2
	exit 1
fi
LLVM_OBJCOPY=objcopy pahole -J --btf_base "$base" "$ko"
readelf -S "$ko" | grep -q ' \.BTF ' || { echo "pahole added no .BTF to $ko" >&2; exit 1; }
echo "  BTF     $ko (base $base)"
