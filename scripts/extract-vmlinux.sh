#!/usr/bin/env bash
# Pull the ELF vmlinux out of a bzImage (xz, zstd or lz4 payload: Debian's
# cloud-amd64 6.1 uses lz4). Its .BTF section is the kernel's base BTF,
# needed for module BTF and vmlinux.h.
# Usage: extract-vmlinux.sh BZIMAGE OUT
set -euo pipefail
img=$1 out=$2

try() { # $1 magic (hex), $2 decompressor
	local off
	for off in $(LC_ALL=C grep -obUaP "$1" "$img" | cut -d: -f1); do
		if tail -c +$((off + 1)) "$img" | $2 >"$out.tmp" 2>/dev/null ||
			[ -s "$out.tmp" ]; then
			if readelf -h "$out.tmp" >/dev/null 2>&1; then
				mv "$out.tmp" "$out"
				return 0
			fi
		fi
	done
	return 1
}

try '\xFD\x37\x7A\x58\x5A\x00' 'xz -dc' ||
	try '\x28\xB5\x2F\xFD' 'zstd -dc' ||
	try '\x02\x21\x4C\x18' 'lz4 -dc' || {
	rm -f "$out.tmp"
	echo "no ELF payload found in $img" >&2
	exit 1
}
