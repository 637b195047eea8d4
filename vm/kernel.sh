#!/bin/bash
# Build (once) the guest kernel of one flavour from Debian's linux-source.
#
#   vm/kernel.sh FLAVOUR     build (or find) the kernel of that flavour
#   vm/kernel.sh unpack      only unpack the source
#
# The kernel series is WD_KERNEL (6.1, the default, or 6.12), built from
# Debian's linux-source-SERIES. 6.12 adds its own fragment,
# vm/config/series-6.12.config, to the flavour's; its kernels are cached as
# kernel/6.12-FLAVOUR-KEY (6.1 keeps the names and keys it always had).
#
# Prints the kernel's object directory (or the source directory) on stdout.
# Kernels are cached outside the clone, in WD_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/warpdrive), as kernel/FLAVOUR-KEY, where
# KEY hashes the linux-source package version and the config fragments: a
# fresh clone on a machine that built them before does not build them again.
# Several clones may build at once: a lock file serialises them.
set -euo pipefail

flavour=${1:?flavour (release or debug)}
build=${WD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/warpdrive}
mkdir -p "$build"
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
frag_dir=$here/config

[ "$flavour" = unpack ] || [ -f "$frag_dir/$flavour.config" ] || { echo "kernel.sh: no such flavour: $flavour" >&2; exit 2; }

series=${WD_KERNEL:-6.1}
case "$series" in
6.1) frags="$frag_dir/base.config $frag_dir/$flavour.config" prefix= ;;
6.12) frags="$frag_dir/base.config $frag_dir/$flavour.config $frag_dir/series-6.12.config" prefix=6.12- ;;
*) echo "kernel.sh: unknown kernel series $series (6.1 or 6.12)" >&2; exit 2 ;;
esac
tarball=$(ls /usr/src/linux-source-$series.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || { echo "kernel.sh: /usr/src/linux-source-$series.tar.* missing (apt-get install linux-source-$series)" >&2; exit 1; }
version=$(dpkg-query -W -f '${Version}' linux-source-$series 2>/dev/null || stat -c %Y "$tarball")

src=$build/linux-source-$series
# One build at a time per series (6.1 keeps the lock it always had, so a
# 6.12 build never holds up the 6.1 kernels other clones wait for).
exec 9>"$build/.lock${prefix:+-$series}"
flock 9
if [ "$flavour" != unpack ]; then
	# shellcheck disable=SC2086
	key=$( { echo "$version"; cat $frags; } | sha256sum | cut -c1-12)
	out=$build/kernel/$prefix$flavour-$key
fi

if [ "$flavour" != unpack ] && [ -f "$out/.wd-done" ]; then
	echo "$out"
	exit 0
fi

log() { echo "kernel.sh: $*" >&2; }

# Unpack the source once per package version.
if [ "$(cat "$src/.wd-version" 2>/dev/null)" != "$version" ]; then
	log "unpacking $tarball ($version)"
	rm -rf "$src"
	mkdir -p "$build"
	tar -C "$build" -xf "$tarball"
	echo "$version" > "$src/.wd-version"
fi
if [ "$flavour" = unpack ]; then
	echo "$src"
	exit 0
fi

log "configuring $flavour kernel in $out"
rm -rf "$out"
mkdir -p "$out"
make -s -C "$src" O="$out" ARCH=x86_64 tinyconfig >"$out/tinyconfig.log" 2>&1
# shellcheck disable=SC2086
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" $frags >"$out/merge.log"
make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >&2

# Every option the fragments ask for must have stuck; for an option named
# more than once, the last word (the series fragment's) counts.
wd_wanted() {
	awk '/^CONFIG_[A-Za-z0-9_]+=|^# CONFIG_[A-Za-z0-9_]+ is not set$/ {
		match($0, /CONFIG_[A-Za-z0-9_]+/); k = substr($0, RSTART, RLENGTH)
		if (!(k in v)) n[++c] = k; v[k] = $0 }
	     END { for (i = 1; i <= c; i++) print v[n[i]] }'
}
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qx "$line" "$out/.config" ||
			{ log "$line did not stick (got: $(grep "^${line%%=*}=" "$out/.config" || echo unset))"; bad=1; }
		;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		! grep -q "^$opt=" "$out/.config" || { log "$opt should be off"; bad=1; }
		;;
	esac
done < <(cat $frags | wd_wanted)
[ "$bad" = 0 ] || { log "config fragment not satisfied"; exit 1; }

log "building $flavour kernel ($(nproc) jobs; a few minutes)"
make -s -C "$src" O="$out" ARCH=x86_64 -j"$(nproc)" bzImage modules >&2
touch "$out/.wd-done"
echo "$out"
