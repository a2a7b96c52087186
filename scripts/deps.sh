#!/usr/bin/env bash
# Install the Debian packages the project needs, only those missing, and
# without recommends (which would pull a desktop stack for QEMU).
# Usage: deps.sh [debug]. Not root: print the apt-get line instead. Guest
# kernels are not installed here: fetch-kernel.sh unpacks them into .cache/.
set -euo pipefail

pkgs=(
	make gcc gcc-12 libc6-dev binutils libelf1 libssl3 zlib1g	# kbuild
	pahole xz-utils zstd cpio					# module BTF, images
	clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libzstd-dev	# vbtrace
	qemu-system-x86 qemu-utils busybox-static python3 python3-pytest	# guest tests
	gnuplot-nox fonts-liberation					# make bench
	dpkg-dev debhelper dh-dkms fakeroot lintian mandoc systemd	# make deb
	debootstrap debian-archive-keyring e2fsprogs			# check-distro
	prometheus prometheus-node-exporter libclang-rt-14-dev		# --prom, fuzzing
)
# `deps.sh debug`: also what check-debug and check-flavours need (building
# a kernel; lz4 for the cloud-amd64 image).
if [ "${1:-}" = debug ]; then
	pkgs+=(flex bison bc libssl-dev lz4)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

# fetch-kernel.sh needs package lists even when nothing is missing.
lists_empty() { ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; }

if [ ${#missing[@]} -eq 0 ]; then
	if lists_empty && [ "$(id -u)" -eq 0 ]; then
		apt-get update -q
	fi
	echo "deps: all ${#pkgs[@]} packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
