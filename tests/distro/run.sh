#!/usr/bin/env bash
# make check-distro: the cached Debian 12 image, the packages from make deb
# and the static hog in a 9p share, then the in-guest tests. Prints each
# stage's time and one "N passed, N failed" line.
# Usage: run.sh DEB_DIR
set -uo pipefail
debs=$(realpath "${1:?usage: run.sh DEB_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/distro
rm -rf "$out"
mkdir -p "$out/share"

t0=$(date +%s)
image=$("$here/mkimage.sh")
if [ $? -ne 0 ] || [ ! -f "$image/disk.img" ]; then
	echo "check-distro: mkimage.sh gave no image folder (stdout: '$image')"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "check-distro: image $image ready after $(( $(date +%s) - t0 )) s"
cp "$debs"/vballoon-dkms_*.deb "$debs"/vbtrace_*.deb "$out/share/"
gcc -static -O2 -Wall -o "$out/share/hog" "$top/tests/vm/guest/hog.c"

cd "$here" || exit 1
VB_DISTRO_IMAGE=$image VB_DISTRO_SHARE=$out/share VB_DISTRO_OUT=$out \
	/usr/bin/python3 -m pytest -p no:cacheprovider -rfE --durations=0 \
	--junitxml="$out/distro.xml" .
python3 - "$out/timings.json" <<'PY'
import json, sys
try:
    t = json.load(open(sys.argv[1]))
except OSError:
    sys.exit(0)
for label, s in t["stages"]:
    print("check-distro: %-34s %6.1f s" % (label, s))
PY
read -r p f < <(python3 "$top/scripts/junit-counts.py" "$out/distro.xml")
echo "check-distro: $(( $(date +%s) - t0 )) s in all; transcript: $out/transcript.txt"
echo "check-distro: $p passed, $f failed"
[ "$f" -eq 0 ]
