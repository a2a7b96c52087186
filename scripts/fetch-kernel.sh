#!/usr/bin/env bash
# Unpack a Debian guest kernel (image, modules, headers, kbuild) into the
# project cache without installing it, so the host never boots it.
# Usage: fetch-kernel.sh [6.1|6.12] [CACHE_DIR]   prints the kernel folder.
set -euo pipefail

series=${1:-6.1}
cache=${2:-$(cd "$(dirname "$0")/.." && pwd)/.cache/kernels}

# Newest ABI name of the series that the archive offers.
latest_abi() {
	case "$series" in
	6.1) apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-image-\(6\.1\.[0-9-]*-amd64\)$/\1/p' | head -n1 ;;
	6.12) apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
		awk '{print $1}' | sed 's/^linux-image-//' | sort -V | tail -n1 ;;
	*) echo "unknown kernel series '$series' (want 6.1 or 6.12)" >&2; exit 2 ;;
	esac
}

abi=$(latest_abi)
if [ -z "$abi" ]; then
	echo "no Debian $series kernel found: run 'apt-get update' first" >&2
	exit 1
fi
dest=$cache/$abi
if [ -f "$dest/.complete" ]; then
	echo "$dest"
	exit 0
fi

common=$(apt-cache depends "linux-headers-$abi" | sed -n 's/.*Depends: \(linux-headers-.*-common\)$/\1/p' | head -n1)
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
