#!/usr/bin/env bash
# Build (once) a bootable Debian 12 disk image for make check-distro:
# debootstrap from this machine's apt source, then systemd, udev, kmod, the
# Debian 6.1 kernel of .cache/kernels with its headers, gcc, make, dkms,
# pahole and prometheus-node-exporter, plus the test bed's serial agent.
# Usage: mkimage.sh [CACHE_DIR]   prints the image folder:
#   disk.img, vmlinuz, initrd.img, lib/modules/<abi>/ (for tests/vm/guest.py)
# The folder is keyed on every input, so a change rebuilds it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${1:-$top/.cache/distro}
sources=/etc/apt/sources.list.d/debian.sources
agent=$top/tests/vm/guest/agent

abi=$(basename "$("$top/scripts/fetch-kernel.sh" 6.1)")
pkgs="linux-image-$abi linux-headers-$abi gcc make libc6-dev dkms pahole
prometheus-node-exporter curl"
mirror=$(awk '/^URIs:/ {print $2; exit}' "$sources")
[ -n "$mirror" ] || { echo "mkimage: no URIs: line in $sources" >&2; exit 1; }

key=$(cat "$0" "$agent" "$sources" <(echo "$pkgs") | sha256sum | cut -c1-12)
out=$cache/bookworm-$abi-$key
# One build at a time: CI starts one in the background, and check-distro
# then waits here for it instead of building a second.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$out/.complete" ]; then
	echo "$out"
	exit 0
fi

log() { echo "mkimage: $*" >&2; }
# The folder's name is the one line on stdout: every tool's chatter (mke2fs
# -d prints "Creating regular file ..." even with -q) goes to stderr.
exec 3>&1 1>&2

# Root without password, no network, the agent on the second serial port,
# and no timers that would compete with the tests for the one vCPU.
configure_guest() {
	local r=$1
	echo vbguest >"$r/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 vbguest\n' >"$r/etc/hosts"
	echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$r/etc/fstab"
	chroot "$r" passwd -dq root
	install -m 755 "$agent" "$r/usr/local/sbin/vb-agent"
	cat >"$r/etc/systemd/system/vb-agent.service" <<-EOF
	[Unit]
	Description=vballoon test bed command agent on ttyS1
	After=local-fs.target

	[Service]
	ExecStart=/usr/local/sbin/vb-agent /dev/ttyS1
	Restart=always

	[Install]
	WantedBy=multi-user.target
	EOF
	chroot "$r" systemctl enable -q vb-agent.service
	chroot "$r" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer \
		e2scrub_all.timer fstrim.timer dpkg-db-backup.timer \
		e2scrub_reap.service getty-static.service
}

# An ext4 image filled straight from the folder (no loop mount), plus the
# kernel and the initramfs Debian generated for it.
make_disk() {
	local r=$1 dst=$2 mib
	mib=$(( $(du -sm "$r" | cut -f1) + 1536 ))
	rm -rf "$dst"
	mkdir -p "$dst/lib/modules/$abi"
	cp "$r/boot/vmlinuz-$abi" "$dst/vmlinuz-$abi"
	cp "$r/boot/initrd.img-$abi" "$dst/initrd.img-$abi"
	mkfs.ext4 -q -L vbroot -d "$r" "$dst/disk.img" "${mib}M"
}
root=$(mktemp -d /var/tmp/vb-distro.XXXXXX)
unmount() { umount "$root/proc" "$root/sys" 2>/dev/null || true; }
# Never remove a tree that still has the host's proc or sys mounted in it.
cleanup() {
	unmount
	if findmnt -rn -o TARGET | grep -q "^$root/"; then
		echo "mkimage: $root still has mounts; not removing it" >&2
	else
		rm -rf "$root"
	fi
}
trap cleanup EXIT

log "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=systemd-sysv,udev,kmod bookworm \
	"$root" "$mirror" >&2

# The guest's apt uses the same sources (security carries the kernel).
rm -f "$root/etc/apt/sources.list"
cp "$sources" "$root/etc/apt/sources.list.d/debian.sources"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"	# start no services
chmod 755 "$root/usr/sbin/policy-rc.d"
# debootstrap made /dev's nodes; the kernel's postinst wants proc and sys.
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"

log "installing ${pkgs//$'\n'/ }"
chroot "$root" apt-get update -q >&2
# shellcheck disable=SC2086
chroot "$root" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends $pkgs >&2
chroot "$root" apt-get clean
unmount
rm -f "$root/usr/sbin/policy-rc.d"

configure_guest "$root"
make_disk "$root" "$out"
touch "$out/.complete"
log "image ready in $out"
echo "$out" >&3
