#!/bin/bash
# Build WarpDrive's Debian packages with dpkg-buildpackage from a copy of the
# files git tracks (the work tree as it is, build outputs left out).
#
#   vm/deb.sh OUT_DIR VERSION
#
# The packages (warpdrive-dkms, libwd0, libwd-dev, warpdrive-tools), the
# .changes file and lintian's report (lintian.txt) land in OUT_DIR.
set -euo pipefail

out=${1:?output directory}
version=${2:?version}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The versions the packaging states must be the Makefile's.
grep -q "^warpdrive ($version)" "$root/debian/changelog" ||
	{ echo "deb.sh: debian/changelog is not at $version" >&2; exit 1; }
grep -qx "PACKAGE_VERSION=\"$version\"" "$root/dkms.conf" ||
	{ echo "deb.sh: dkms.conf is not at $version" >&2; exit 1; }

src=$out/warpdrive-$version
rm -rf "$src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' |
	tar --null -T - -cf -) | tar -C "$src" -xf -

(cd "$src" && dpkg-buildpackage -b -us -uc >"$out/build.log" 2>&1) ||
	{ tail -n 40 "$out/build.log" >&2; echo "deb.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2; exit 1; }
changes=$(ls "$out"/warpdrive_"$version"_*.changes)
# lintian exits non-zero on errors; warnings are listed for the reader.
lintian --fail-on error --info "$changes" >"$out/lintian.txt" 2>&1 ||
	{ cat "$out/lintian.txt" >&2; echo "deb.sh: lintian reports errors" >&2; exit 1; }
echo "deb.sh: packages in $out:"
ls "$out"/*.deb
echo "deb.sh: lintian: $(grep -c '^[WIE]:' "$out/lintian.txt" || true) tags, see $out/lintian.txt"
