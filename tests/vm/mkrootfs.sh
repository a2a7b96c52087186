#!/usr/bin/env bash
# Build the busybox test initramfs for one unpacked Debian kernel.
# Usage: mkrootfs.sh KERNEL_DIR OUT.cpio.gz [EXTRA_FILE...]
# EXTRA_FILEs land in /bin. vballoon.ko and vbtrace are picked up from
# VB_BUILD_DIR (default build/<abi>) and build/ when they exist.
set -euo pipefail

kdir=$(realpath "$1")
out=$(realpath -m "$2")
shift 2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
abi=$(basename "$(ls -d "$kdir"/lib/modules/*/ | head -n1)")
mods=$kdir/lib/modules/$abi/kernel
bdir=${VB_BUILD_DIR:-$top/build/$abi}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib/vb}

cp /bin/busybox "$root/bin/busybox"
for app in $(/bin/busybox --list); do
	[ "$app" = busybox ] || ln -s busybox "$root/bin/$app"
done

# Copy one in-tree module, decompressed: busybox insmod reads plain ELF only.
# Prints nothing and returns 1 when the module is absent (built in).
copy_mod() {
	local rel=$1 name src
	name=$(basename "$rel")
	for src in "$mods/$rel.ko" "$mods/$rel.ko.xz" "$mods/$rel.ko.zst" "$mods/$rel.ko.gz"; do
		[ -f "$src" ] || continue
		case "$src" in
		*.xz) xz -dc "$src" >"$root/lib/vb/$name.ko" ;;
		*.zst) zstd -qdc "$src" >"$root/lib/vb/$name.ko" ;;
		*.gz) gzip -dc "$src" >"$root/lib/vb/$name.ko" ;;
		*) cp "$src" "$root/lib/vb/$name.ko" ;;
		esac
		return 0
	done
	return 1
}

: >"$root/lib/vb/transport.list"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci; do
	copy_mod "drivers/virtio/$m" && echo "$m" >>"$root/lib/vb/transport.list"
done
copy_mod drivers/virtio/virtio_balloon || echo "warning: no in-tree virtio_balloon module" >&2
# Not loaded at boot: the bench's page cache shape reads a disk through it.
copy_mod drivers/block/virtio_blk || true

[ -f "$bdir/vballoon.ko" ] && cp "$bdir/vballoon.ko" "$root/lib/vb/"
for t in "$bdir/vbtrace" "$top/build/vbtrace"; do
	if [ -f "$t" ]; then
		cp "$t" "$root/lib/vb/vbtrace"
		cp "$t" "$root/bin/vbtrace"
		break
	fi
done

for c in "$here"/guest/*.c; do
	gcc -static -O2 -Wall -o "$root/bin/$(basename "$c" .c)" "$c"
done
install -m 755 "$here/guest/init" "$root/init"
install -m 755 "$here/guest/agent" "$root/bin/agent"
for f in "$@"; do
	install -m 755 "$f" "$root/bin/$(basename "$f")"
done

mkdir -p "$(dirname "$out")"
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$out.tmp.$$"
mv "$out.tmp.$$" "$out"  # atomic: parallel sessions may share $out
echo "$out"
