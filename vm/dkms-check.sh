#!/bin/bash
# Build the warpdrive-dkms package's modules with dkms against Debian's stock
# kernel headers for 6.1 and 6.12 (unpacked by vm/stock.sh, not installed),
# in a private DKMS tree: nothing is installed on this machine.
#
#   vm/dkms-check.sh DEB_DIR VERSION [SERIES...]
set -euo pipefail

debs=${1:?directory of the packages}
version=${2:?version}
shift 2
[ $# -gt 0 ] || set -- 6.1 6.12
root=$(cd "$(dirname "$0")/.." && pwd)
debs=$(cd "$debs" && pwd)

work=$debs/dkms
rm -rf "$work"
mkdir -p "$work/tree" "$work/pkg"
dpkg -x "$debs/warpdrive-dkms_${version}_all.deb" "$work/pkg"
src=$work/pkg/usr/src

status=0
for series in "$@"; do
	hdr=$("$root/vm/stock.sh" headers "$series")
	rel=$(basename "$hdr")
	rel=${rel#linux-headers-}
	dkms=(dkms --dkmstree "$work/tree" --sourcetree "$src" -m warpdrive -v "$version")
	if [ ! -d "$work/tree/warpdrive/$version" ]; then
		"${dkms[@]}" add >"$work/add.log" 2>&1 ||
			{ cat "$work/add.log" >&2; exit 1; }
	fi
	if "${dkms[@]}" build -k "$rel" --kernelsourcedir "$hdr" >"$work/build-$rel.log" 2>&1; then
		mods=$(cd "$work/tree/warpdrive/$version/$rel/x86_64/module" && ls)
		echo "dkms build $rel: ok ($(echo $mods))"
	else
		echo "dkms build $rel: FAILED" >&2
		cat "$work/tree/warpdrive/$version/build/make.log" >&2 2>/dev/null ||
			cat "$work/build-$rel.log" >&2
		status=1
	fi
done
exit $status
