#!/bin/bash
# Build everything one guest flavour boots: kernel (cached), modules and
# initramfs. User-space programs must already be built by the Makefile.
#
#   vm/build.sh FLAVOUR BUILD_DIR
#
# FLAVOUR is debug or release (our own 6.1 kernels, vm/kernel.sh) or
# stock-6.1 / stock-6.12: Debian's own kernel image, with the modules built
# against Debian's headers for it (vm/stock.sh; nothing is installed).
set -euo pipefail

flavour=${1:?flavour}
build=${2:?build directory}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build"
build=$(cd "$build" && pwd)
# Our own kernels of another series than 6.1 (WD_KERNEL) build apart, with
# that series' own HMM selftest (built by the Makefile).
series=${WD_KERNEL:-6.1}
user=$build/user
out=$build/$flavour
hmm_tests=$user/tests/hmm-tests
case "$flavour" in
stock-*) ;;
*)
	if [ "$series" != 6.1 ]; then
		out=$build/$series-$flavour
		hmm_tests=$user/tests-$series/hmm-tests
	fi
	;;
esac

mkdir -p "$out"
case "$flavour" in
stock-*)
	series=${flavour#stock-}
	kobj=$("$root/vm/stock.sh" headers "$series")
	img=$("$root/vm/stock.sh" image "$series")
	cmp -s "$(ls "$img"/boot/vmlinuz-* | head -n 1)" "$out/bzImage" || cp "$(ls "$img"/boot/vmlinuz-* | head -n 1)" "$out/bzImage"
	# Debian ships no test_hmm.ko (it needs CONFIG_DEVICE_PRIVATE); take
	# it if a kernel ever does.
	extra=$(find "$img/lib/modules" -name test_hmm.ko | head -n 1)
	# The headers have no gen_init_cpio: build it from the kernel source.
	cpio_gen=$out/gen_init_cpio
	src=${WD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/warpdrive}/linux-source-6.1
	[ -x "$cpio_gen" ] || cc -O2 -o "$cpio_gen" "$src/usr/gen_init_cpio.c"
	;;
*)
	kobj=$("$root/vm/kernel.sh" "$flavour")
	# Not cp -u: going back to an older cached kernel must replace a newer copy.
	cmp -s "$kobj/arch/x86/boot/bzImage" "$out/bzImage" || cp "$kobj/arch/x86/boot/bzImage" "$out/bzImage"
	# The kernel's own modules: test_hmm and the baseline virtio_crypto
	# driver with what it needs (guest /wd/modules/kernel/).
	kmods=$(find "$kobj" -path "$kobj/source" -prune -o -name '*.ko' -print | sort)
	extra=$kobj/lib/test_hmm.ko
	cpio_gen=$kobj/usr/gen_init_cpio
	;;
esac

# Kbuild writes objects next to the sources; build in a mirror of module/
# made of symlinks so the source tree stays clean.
mods=$out/modules
mkdir -p "$mods"
(cd "$root/module" && find . -type d) | (cd "$mods" && xargs mkdir -p)
(cd "$root/module" && find . -type f) | while read -r f; do
	[ -L "$mods/$f" ] || ln -sf "$root/module/$f" "$mods/$f"
done
# Drop links whose source is gone.
find "$mods" -xtype l -delete
make -s -C "$kobj" M="$mods" WD_ROOT="$root" WD_SELFTEST=m -j"$(nproc)" modules >&2

# Initramfs, described as a gen_init_cpio list (no root needed).
list=$out/initramfs.list
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	for d in /bin /sbin /proc /sys /tmp /root /etc /wd /wd/bin /wd/modules /wd/modules/kernel /wd/tests /usr /usr/bin /usr/sbin; do
		echo "dir $d 0755 0 0"
	done
	echo "file /bin/busybox $(command -v busybox || echo /bin/busybox) 0755 0 0"
	echo "file /init $root/vm/guest/init 0755 0 0"
	echo "file /wd/demo.sh $root/vm/guest/demo.sh 0755 0 0"
	for f in "$root"/vm/guest/wd-*; do
		echo "file /wd/bin/$(basename "$f") $f 0755 0 0"
	done
	for f in "$mods"/*.ko $extra; do
		[ -f "$f" ] && echo "file /wd/modules/$(basename "$f") $f 0644 0 0"
	done
	for f in ${kmods:-}; do
		echo "file /wd/modules/kernel/$(basename "$f") $f 0644 0 0"
	done
	for f in "$user"/tools/*; do
		[ -f "$f" ] && [ -x "$f" ] && echo "file /wd/bin/$(basename "$f") $f 0755 0 0"
	done
	for f in "$user"/guest/*; do
		[ -f "$f" ] && [ -x "$f" ] && echo "file /wd/bin/$(basename "$f") $f 0755 0 0"
	done
	for f in "$user"/tests/*; do
		[ "$(basename "$f")" = hmm-tests ] && f=$hmm_tests
		[ -f "$f" ] && [ -x "$f" ] && echo "file /wd/tests/$(basename "$f") $f 0755 0 0"
	done
	echo "file /wd/tests/list $root/tests/list 0644 0 0"
	# Dynamically linked programs (libwd-zlib's test program, pigz) with
	# the dynamic loader and the shared libraries they need, from the host;
	# libwd-zlib itself in /wd/lib.
	dyn=""
	for f in "$user"/dyn/*; do
		[ -f "$f" ] && [ -x "$f" ] && dyn="$dyn $f" &&
			echo "file /wd/bin/$(basename "$f") $f 0755 0 0"
	done
	if pigz=$(command -v pigz); then
		dyn="$dyn $pigz"
		echo "file /usr/bin/pigz $pigz 0755 0 0"
	fi
	# The programs wdbench's gzip scenario sets wdzip against: GNU gzip
	# (in /usr/bin, which is not on the guest's PATH: busybox's gzip stays
	# the one the tests call) and libdeflate-gzip.
	for p in gzip libdeflate-gzip; do
		if f=$(command -v $p) && [ -f "$f" ]; then
			dyn="$dyn $f"
			echo "file /usr/bin/$p $(readlink -f "$f") 0755 0 0"
		fi
	done
	if [ -f "$user/lib/libwd-zlib.so.1" ]; then
		echo "dir /wd/lib 0755 0 0"
		echo "file /wd/lib/libwd-zlib.so.1 $user/lib/libwd-zlib.so.1 0755 0 0"
		dyn="$dyn $user/lib/libwd-zlib.so.1"
	fi
	# shellcheck disable=SC2086
	[ -n "$dyn" ] && ldd $dyn 2>/dev/null |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' |
		sort -u | while read -r lib; do
		d=$(dirname "$lib")
		p=""
		for c in $(echo "$d" | tr / ' '); do
			p="$p/$c"
			echo "dir $p 0755 0 0"
		done
		echo "file $lib $(readlink -f "$lib") 0755 0 0"
	done | awk '!seen[$0]++'
	[ -d "$root/vm/guest/data" ] && for f in "$root"/vm/guest/data/*; do
		echo "file /wd/$(basename "$f") $f 0644 0 0"
	done
	true
} > "$list"
"$cpio_gen" "$list" | gzip -1 > "$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
