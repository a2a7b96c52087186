#!/usr/bin/env bash
# Build vballoon.ko for one unpacked guest kernel, out of the source tree
# (a folder of links per kernel, so 6.1 and 6.12 builds never mix).
# Usage: build-module.sh KERNEL_DIR OUT_DIR    -> OUT_DIR/vballoon.ko
set -euo pipefail
kdir=$1 out=$2
src=$(cd "$(dirname "$0")/../module" && pwd)
abi=$(basename "$kdir")

mkdir -p "$out/module"
find "$out/module" -maxdepth 1 -type l -delete
for f in "$src"/Kbuild "$src"/*.[ch]; do
	case "$f" in *.mod.c) continue ;; esac
	ln -s "$f" "$out/module/"
done
make -C "$kdir/usr/src/linux-headers-$abi" M="$out/module" W=1 modules
"$(dirname "$0")/add-module-btf.sh" "$out/module/vballoon.ko" "$kdir/vmlinux"
cp "$out/module/vballoon.ko" "$out/vballoon.ko"
