#!/usr/bin/env bash
# Build the debug guest kernel (KASAN, lockdep, kmemleak, fault injection,
# BTF) from Debian's linux-source-6.1: tinyconfig + kvm_guest.config +
# scripts/debug-kernel/vballoon-debug.config. The result is laid out like a
# fetch-kernel.sh folder named after the release (boot/, lib/modules/,
# usr/src/linux-headers-<release> and vmlinux pointing into the built tree),
# so the test bed and build-module.sh use it unchanged. Cached under
# .cache/debug-kernel/<hash of source version and fragment>/{src,<release>}.
# Usage: build-debug-kernel.sh [CACHE_DIR]   prints the kernel folder.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-$here/../.cache/debug-kernel}
frag=$here/debug-kernel/vballoon-debug.config
pkg=linux-source-6.1
recipe=1  # bump when the steps below change what gets built

log() { echo "debug-kernel: $*" >&2; }

version=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
	log "no $pkg in the package lists: run 'apt-get update' first"
	exit 1
fi
key=$( { echo "$pkg $version recipe $recipe"; cat "$frag"; } | sha256sum | cut -c1-16)
mkdir -p "$cache"
dest=$(cd "$cache" && pwd -P)/$key  # physical: .cache is a shared symlink
# The kernel folder is named after its release, like fetch-kernel.sh's.
if [ -f "$dest/.complete" ]; then
	echo "$dest/$(cat "$dest/release")"
	exit 0
fi

# One build at a time per cache entry; a second caller waits for it.
exec 9>"$cache/$key.lock"
flock 9
if [ -f "$dest/.complete" ]; then
	echo "$dest/$(cat "$dest/release")"
	exit 0
fi

unpack_source() {
	local dl
	dl=$(mktemp -d)
	chmod 755 "$dl"
	(cd "$dl" && apt-get download -q "$pkg=$version" >&2)
	dpkg-deb -x "$dl"/*.deb "$dl/x"
	rm -rf "$dest/src"
	mkdir -p "$dest/src"
	tar -xaf "$dl"/x/usr/src/linux-source-6.1.tar.* -C "$dest/src" --strip-components=1
	rm -rf "$dl"
}

# Every fragment line must be in the final .config as written:
# merge_config.sh silently drops what a dependency forbids.
verify_config() {
	local line name want have bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) name=${line%%=*}; want=$line ;;
		"# CONFIG_"*" is not set") name=${line#\# }; name=${name%% *}; want=unset ;;
		*) continue ;;
		esac
		have=$(grep -E "^($name=|# $name is not set)" .config || true)
		if [ "$want" = unset ]; then
			[ -z "$have" ] || [ "$have" = "# $name is not set" ] && continue
		else
			[ "$have" = "$want" ] && continue
		fi
		log "config: want '${want/unset/# $name is not set}', got '${have:-nothing}'"
		bad=1
	done <"$frag"
	[ $bad -eq 0 ] || { log "the fragment did not survive the merge"; exit 1; }
}

configure() {
	make -s tinyconfig >&2
	scripts/kconfig/merge_config.sh -m .config kernel/configs/kvm_guest.config "$frag" >&2
	make -s olddefconfig >&2
	verify_config
	cp .config .config.verified
}

if [ ! -f "$dest/src/.config.verified" ]; then
	log "unpacking $pkg $version into $dest/src"
	mkdir -p "$dest"
	unpack_source
fi
cd "$dest/src"
[ -f .config.verified ] || configure
cmp -s .config .config.verified || { log ".config changed since it was verified"; exit 1; }

log "building bzImage and modules (nice -n 10, -j2; about 15 min), log: $dest/build.log"
t0=$(date +%s)
nice -n 10 make -j2 bzImage modules >"$dest/build.log" 2>&1 ||
	{ tail -n 30 "$dest/build.log" >&2; log "build failed"; exit 1; }
rel=$(make -s kernelrelease)
out=$dest/$rel
rm -rf "$out"
make -s INSTALL_MOD_PATH="$out" modules_install >>"$dest/build.log" 2>&1
mkdir -p "$out/boot" "$out/usr/src"
cp arch/x86/boot/bzImage "$out/boot/vmlinuz-$rel"
ln -sfn ../../../src "$out/usr/src/linux-headers-$rel"
ln -sfn ../src/vmlinux "$out/vmlinux"
echo $(($(date +%s) - t0)) >"$dest/build-seconds"
echo "$rel" >"$dest/release"
log "built $rel in $(cat "$dest/build-seconds") s"
touch "$dest/.complete"
echo "$out"
