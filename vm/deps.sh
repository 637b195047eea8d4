#!/bin/bash
# Install the Debian packages the build and the guest need, if any is missing.
#
#   vm/deps.sh         what `make test`, `make run` and `make bench` need
#                      (gnuplot-nox: make bench's charts; pigz, gzip and
#                      libdeflate-tools: the programs make bench sets
#                      wdzip against, put in the guest)
#   vm/deps.sh deb     what `make deb` and `make dkms-check` need
#   vm/deps.sh stock   what `make test-stock` needs besides the first set
#                      (pahole: Debian's 6.12 headers build module BTF)
set -euo pipefail

pkgs="build-essential gcc make bc bison flex libelf-dev libssl-dev cpio kmod
xz-utils gzip python3 pkg-config zlib1g-dev busybox-static qemu-system-x86 pigz
libdeflate-tools linux-source-6.1 gnuplot-nox"
# Guest kernels of another series (make test KERNEL=6.12) need its source.
[ "${WD_KERNEL:-6.1}" = 6.1 ] || pkgs="$pkgs linux-source-$WD_KERNEL"
if [ "${1:-}" = stock ]; then
	pkgs="$pkgs pahole"
elif [ "${1:-}" = deb ]; then
	pkgs="build-essential debhelper dh-dkms dkms lintian zlib1g-dev git
libelf-dev pahole"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
