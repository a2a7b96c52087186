#!/usr/bin/env bash
# Unpack a Debian guest kernel (image, modules, headers, kbuild) into the
# project cache without installing it, so the host never boots it.
# Usage: fetch-kernel.sh [SERIES] [FLAVOUR]   prints the kernel folder.
#   SERIES   6.1 (default), 6.12, 6.1-oldest (the oldest 6.1 ABI the archive
#            still has), or debug (scripts/build-debug-kernel.sh builds it)
#   FLAVOUR  amd64 (default), cloud-amd64 or rt-amd64
# VB_KERNEL_CACHE overrides the cache folder (.cache/kernels).
set -euo pipefail

series=${1:-6.1}
flavour=${2:-amd64}
# Physical path: the cache is shared between worktrees through a symlink.
cache=$(realpath -m "${VB_KERNEL_CACHE:-$(dirname "$0")/../.cache/kernels}")

case "$flavour" in
amd64 | cloud-amd64 | rt-amd64) ;;
*) echo "unknown flavour '$flavour' (want amd64, cloud-amd64 or rt-amd64)" >&2; exit 2 ;;
esac
if [ "$series" = debug ]; then
	exec "$(dirname "$0")/build-debug-kernel.sh"
fi

# ABI names of one series and flavour in the archive, oldest first.
abis() {
	apt-cache search --names-only "^linux-image-$1-$flavour\$" |
		awk '{print $1}' | sed 's/^linux-image-//' | sort -V
}

# The ABI name the series stands for.
pick_abi() {
	case "$series" in
	6.1) apt-cache depends "linux-image-$flavour" 2>/dev/null |
		sed -n "s/.*Depends: linux-image-\(6\.1\.[0-9-]*-$flavour\)\$/\1/p" | head -n1 ;;
	6.1-oldest) abis '6\.1\.0-[0-9]+' | head -n1 ;;
	6.12) abis '6\.12\.[0-9]+\+deb12' | tail -n1 ;;
	*) echo "unknown kernel series '$series' (want 6.1, 6.12, 6.1-oldest or debug)" >&2; exit 2 ;;
	esac
}

abi=$(pick_abi)
if [ -z "$abi" ]; then
	echo "no Debian $series $flavour kernel found: run 'apt-get update' first" >&2
	exit 1
fi
dest=$cache/$abi
if [ -f "$dest/.complete" ]; then
	echo "$dest"
	exit 0
fi

common=$(apt-cache depends "linux-headers-$abi" | sed -n 's/.*Depends: \(linux-headers-.*-common\(-rt\)\{0,1\}\)$/\1/p' | head -n1)
kbuild=$(apt-cache depends "linux-headers-$abi" | sed -n 's/.*Depends: \(linux-kbuild-.*\)$/\1/p' | head -n1)
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
chmod 755 "$dl"
(cd "$dl" && apt-get download -q "linux-image-$abi" "linux-headers-$abi" "$common" "$kbuild" >&2)
rm -rf "$dest"
mkdir -p "$dest"
for deb in "$dl"/*.deb; do
	dpkg-deb -x "$deb" "$dest"
done

# The headers' Makefile includes the common tree by absolute path.
hdr=$dest/usr/src/linux-headers-$abi
sed -i "s|^include /usr/src/|include $dest/usr/src/|" "$hdr/Makefile"

# Base BTF: the ELF vmlinux inside the compressed bzImage keeps .BTF.
"$(dirname "$0")/extract-vmlinux.sh" "$dest/boot/vmlinuz-$abi" "$dest/vmlinux"
touch "$dest/.complete"
echo "$dest"
