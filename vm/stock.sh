#!/bin/bash
# Debian's stock kernels, unpacked (never installed) into the kernel cache.
#
#   vm/stock.sh headers SERIES    print the directory to build modules against
#   vm/stock.sh image SERIES      print the directory holding vmlinuz and modules
#
# SERIES is 6.1 (linux-image-amd64 of Debian 12) or 6.12 (the newest 6.12
# of bookworm-security). Packages are taken with `apt-get download` and
# unpacked with `dpkg -x` under $WD_CACHE/stock/<kernel release>.
set -euo pipefail

what=${1:?headers or image}
series=${2:?6.1 or 6.12}
cache=${WD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/warpdrive}
log() { echo "stock.sh: $*" >&2; }

# The kernel release (uname -r) of the newest stock amd64 kernel of a series.
case "$series" in
6.1)
	rel=$(apt-cache depends linux-headers-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-headers-\(6\.1\.[0-9.-]*-amd64\)$/\1/p' | head -n 1)
	;;
6.12)
	rel=$(apt-cache pkgnames linux-headers-6.12. 2>/dev/null |
		sed -n 's/^linux-headers-\(6\.12\.[0-9]*+deb12-amd64\)$/\1/p' | sort -V | tail -n 1)
	;;
*) log "unknown series $series"; exit 2 ;;
esac
[ -n "$rel" ] || { log "no stock $series kernel known to apt (run apt-get update)"; exit 1; }

dir=$cache/stock/$rel
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

fetch() {	# unpack the named packages into $dir/root once
	local stamp=$dir/.$1 pkgs=$2 p
	[ -f "$stamp" ] && return 0
	log "downloading $pkgs"
	mkdir -p "$dir/debs" "$dir/root"
	(cd "$dir/debs" && apt-get download -o APT::Sandbox::User=root $pkgs >&2)
	for p in $pkgs; do
		dpkg -x "$(ls "$dir/debs/${p}"_*.deb | head -n 1)" "$dir/root"
	done
	touch "$stamp"
}

if [ "$what" = headers ]; then
	common=$(apt-cache depends "linux-headers-$rel" | sed -n 's/.*Depends: \(linux-headers-.*-common\)$/\1/p' | head -n 1)
	kbuild=$(apt-cache depends "linux-headers-$rel" | sed -n 's/.*Depends: \(linux-kbuild-.*\)$/\1/p' | head -n 1)
	fetch headers "linux-headers-$rel $common $kbuild"
	hdr=$dir/root/usr/src/linux-headers-$rel
	# The headers include their common part by absolute path: point it here.
	sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" "$hdr/Makefile"
	echo "$hdr"
else
	img=$(apt-cache pkgnames "linux-image-$rel" | grep -x "linux-image-$rel-unsigned\|linux-image-$rel" | sort | tail -n 1)
	fetch image "$img"
	echo "$dir/root"
fi
