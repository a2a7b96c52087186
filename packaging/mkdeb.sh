#!/usr/bin/env bash
# make deb: build vballoon-dkms and vbtrace with dpkg-buildpackage from a
# clean copy of the tree, then lint them (lintian, mandoc). check-distro
# runs systemd-analyze verify on the installed unit in the guest.
# Usage: mkdeb.sh OUT_DIR VMLINUX    VMLINUX: the BTF that vbtrace's
# vmlinux.h comes from.   Prints nothing else on stdout than the .deb paths.
set -euo pipefail
out=$(realpath -m "$1") vmlinux=$(realpath "$2")
top=$(cd "$(dirname "$0")/.." && pwd)
ver=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/vballoon-$ver

rm -rf "$out"
mkdir -p "$src"
# Tracked and new files, without build output, caches or ignored files.
(cd "$top" && git ls-files -co --exclude-standard -z | xargs -0 cp -a --parents -t "$src")
(cd "$src" && VB_VMLINUX=$vmlinux dpkg-buildpackage -us -uc -b >&2)

lint_debs() {
	local tmp=$out/unpacked
	echo "== lintian" >&2
	lintian --info --display-info --pedantic "$out"/*.changes >&2 || {
		echo "lintian reported errors" >&2; return 1; }
	mkdir -p "$tmp"
	for d in "$out"/*.deb; do dpkg-deb -x "$d" "$tmp"; done
	echo "== mandoc -T lint" >&2
	gunzip "$tmp"/usr/share/man/man*/*.gz
	makewhatis "$tmp/usr/share/man"	# so vbtrace(8) and vballoon(4) resolve
	local msgs rest
	msgs=$(MANPATH=$tmp/usr/share/man:/usr/share/man \
		mandoc -T lint -W style "$tmp"/usr/share/man/man*/*.[48] 2>&1) || true
	echo "$msgs" >&2
	# Other packages' pages (dkms(8), modprobe.d(5)) resolve only where
	# those packages and their man pages are installed, and system
	# mandoc.db state varies by machine; everything else must be clean,
	# including the references between our own two pages.
	rest=$(echo "$msgs" | grep -v -e '^$' \
		-e 'outdated mandoc.db lacks .* entry' \
		-e 'STYLE: referenced manual not found: Xr \(modprobe\.d 5\|dkms 8\|systemd\.exec 5\)\( (.*)\)\{0,1\}$') || true
	[ -z "$rest" ] || { echo "mandoc reported the lines above" >&2; return 1; }
}
lint_debs
ls "$out"/*.deb
