#!/bin/sh
# Print the base BTF for the kernel whose build tree is KDIR, or nothing
# when none is at hand. The base must be that kernel's own BTF: the running
# kernel's /sys/kernel/btf/vmlinux only when KDIR is the running kernel.
# Usage: btf-base.sh KDIR
kdir=${1:?usage: btf-base.sh KDIR}
# uname -r of that kernel (Debian's include/config/kernel.release is not).
rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' \
	"$kdir/include/generated/utsrelease.h" 2>/dev/null)
if [ -r "$kdir/vmlinux" ]; then
	echo "$kdir/vmlinux"
elif [ -n "$rel" ] && [ "$rel" = "$(uname -r)" ] && [ -r /sys/kernel/btf/vmlinux ]; then
	echo /sys/kernel/btf/vmlinux
elif [ -n "$rel" ] && [ -r "/usr/lib/debug/boot/vmlinux-$rel" ]; then
	echo "/usr/lib/debug/boot/vmlinux-$rel"	# Debian's -dbg package
fi
