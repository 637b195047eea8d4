#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# compare.sh WDZIP MANPAGE: run each case below with GNU gzip and with
# WDZIP (built against libwd-stub.c: `make wdzip-compat`) on copies of one
# set of files, and compare exit status, stderr (gzip's empty lines left
# out, its name replaced), stdout for -c/-l (list dates and CRCs of members
# left out), and the names, sizes (of uncompressed files), times and link
# counts of the files left. Then check that --help and the man page list
# the same options; with NOTMP (no-tmpfile.so), that the named temporary
# file used where there is no O_TMPFILE is removed on errors and SIGTERM.
# Prints one line per case; fails if any differs.
W=$(realpath "$1"); MAN=$2; NOTMP=${3:+$(realpath "$3")}; fail=0
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
setup() {
	mkdir -p "$1"; cd "$1"
	seq 1000 > a; echo hello > h; touch -d '2020-01-02 03:04:05' a h
	gzip -kn a; cp a.gz n.gz; gzip -c h > h.gz; mv a.gz ag.gz; touch -d '2020-01-02 03:04:05' ag.gz h.gz
	printf 'junk\n' | cat h.gz - > g.gz; cat h.gz h.gz > mm.gz; head -c 10 /dev/zero | cat h.gz - > z.gz
	head -c 5 h.gz > t.gz; : > e0.gz
	cp h.gz m.gz; printf '\x07' | dd of=m.gz bs=1 seek=2 conv=notrunc 2>/dev/null
	cp h.gz enc.gz; printf '\x28' | dd of=enc.gz bs=1 seek=3 conv=notrunc 2>/dev/null
	cp h.gz res.gz; printf '\x48' | dd of=res.gz bs=1 seek=3 conv=notrunc 2>/dev/null
	cp h.gz crc.gz; printf '\x00' | dd of=crc.gz bs=1 seek=$(( $(stat -c %s h.gz) - 8 )) conv=notrunc 2>/dev/null
	cp h.gz len.gz; printf '\x09' | dd of=len.gz bs=1 seek=$(( $(stat -c %s h.gz) - 4 )) conv=notrunc 2>/dev/null
	python3 -c '
import zlib,struct
d=b"hello\n"; c=zlib.compressobj(6,8,-15); body=c.compress(d)+c.flush()
h=bytes([0x1f,0x8b,8,2|8,0,0,0,0,0,3])+b"stored\0"; crc=zlib.crc32(h)&0xffff
t=struct.pack("<II",zlib.crc32(d),len(d))
open("hc.gz","wb").write(h+struct.pack("<H",crc^1)+body+t)
open("hok.gz","wb").write(h+struct.pack("<H",crc)+body+t)
open("bad.gz","wb").write(h+struct.pack("<H",crc)+b"\xff\xff\xff"+body+t)'
	ln h hl; mkdir -p d/e; echo x > d/1; echo y > d/e/2; ln -s h sl
	cp h.gz q.gz2
	cd - >/dev/null
}
setup "$T/ref"
run() { # run DIR PROG ARGS...
	local d=$1 p=$2; shift 2
	(cd $d && $p "$@" < "${IN:-/dev/null}" > $T/out.$p 2> $T/err.$p; echo $? > $T/rc.$p)
	(cd $d && find . -mindepth 1 -printf '%p %s %TY%Tm%Td%TH%TM %n\n' | sort) > $T/ls.$p
}
case_() {
	rm -rf "$T/G" "$T/W"; cp -a "$T/ref" "$T/G"; cp -a "$T/ref" "$T/W"
	run $T/G gzip "$@"; run $T/W wdzip "$@"
	sed -i -e 's/^gzip: /wdzip: /' -e "s/\`gzip --help'/\`wdzip --help'/" $T/err.gzip
	sed -i 's/^defla [0-9a-f]* .\{12\}/defla/' $T/out.gzip $T/out.wdzip
	local bad=
	cmp -s $T/rc.gzip $T/rc.wdzip || bad="$bad rc($(cat $T/rc.gzip) vs $(cat $T/rc.wdzip))"
	diff -q <(grep -v '^$' $T/err.gzip) $T/err.wdzip >/dev/null || bad="$bad stderr"
	case "$*" in *-c*|*-l*|*-d*) cmp -s $T/out.gzip $T/out.wdzip || bad="$bad stdout";; esac
	# compressed sizes differ between implementations: compare names, times, links only
	diff -q <(awk '{print $1, ($1 ~ /gz$|\.z$/ ? "" : $2), $3, $4}' $T/ls.gzip) <(awk '{print $1, ($1 ~ /gz$|\.z$/ ? "" : $2), $3, $4}' $T/ls.wdzip) >/dev/null || bad="$bad files"
	if [ -n "$bad" ]; then echo "DIFF [${IN:+<$IN }$*]:$bad"; fail=1
		[ -n "$V" ] && { head -5 $T/err.gzip $T/err.wdzip; diff <(awk '{print $1, $3, $4}' $T/ls.gzip) <(awk '{print $1, $3, $4}' $T/ls.wdzip); }
	else echo "same [${IN:+<$IN }$*]"; fi
}
mkdir -p "$T/bin"; ln -s "$(realpath "$W")" "$T/bin/wdzip"; export PATH=$T/bin:$PATH
# A case is gzip's arguments, after IN=FILE for standard input from FILE.
while read -r line; do
	[ -z "$line" ] && continue
	IN=; case "$line" in IN=*) IN=${line%% *}; IN=${IN#IN=}; line=${line#* };; esac
	eval "case_ $line"
done <<'CASES'
a
-k a
-c a
-v a
-kv a
-cv a
-n a
-N a
hl
-f hl
-c hl
a h
-d h.gz
-dN hok.gz
-dn hok.gz
-dv h.gz
-dc h.gz
-d m.gz
-d enc.gz
-d res.gz
-d hc.gz
-d t.gz
-d e0.gz
-d crc.gz
-d len.gz
-d bad.gz
-d g.gz
-dq g.gz
-dc g.gz
-d z.gz
-d mm.gz
-t h.gz
-tv h.gz mm.gz
-t a
-l a
-S '' a
-t g.gz
-t bad.gz
-l ag.gz
-lv h.gz
-lN hok.gz
h.gz
-f h.gz
-d a
d
-r d
-S .z -k a
-d -S .z q.gz2
-y a
--bogus a
-S
-q d
sl
-c sl
-f sl
nonexist
-d nonexist.gz
-k -d ag.gz
-d ag.gz
-1 -k a
-9 -k a
--fast -k a
-dr d
IN=h.gz -l
IN=h.gz -tv
IN=h.gz -dv
IN=a -v
IN=g.gz -dc
IN=a -t
CASES

# --help and the man page: the same options.
help=$("$W" --help | grep -o '^  -[^ ,]*, --[a-z-]*' | sed 's/^ *//' | sort)
man=$(grep -A0 '^\.BR \\-' "$MAN" | sed -n 's/^\.BR \\\(-[^ ]*\) ", " \\-\\-\([a-z\\-]*\).*/\1, --\2/p' | sed 's/\\//g' | sort)
if [ "$help" = "$man" ] && [ -n "$help" ]; then echo "same options in --help and $MAN"
else echo "DIFF options: --help vs $MAN"; diff <(echo "$help") <(echo "$man"); fail=1; fi
# No O_TMPFILE: the named temporary file, never left behind.
if [ -n "$NOTMP" ]; then
	F=$T/fb; rm -rf "$F"; mkdir "$F"; seq 3000000 > "$F/big"; cp "$T/ref/bad.gz" "$T/ref/a" "$F/"
	nt() { LD_PRELOAD=$NOTMP "$W" "$@"; }
	ok=1
	(cd "$F" && nt -k a && gzip -t a.gz && nt -dfk a.gz && cmp a "$T/ref/a") || ok=0
	(cd "$F" && ! nt -d bad.gz 2>/dev/null && test ! -e bad) || ok=0
	(cd "$F" && LD_PRELOAD=$NOTMP exec "$W" -9 big) & p=$!
	sleep 0.3; kill -TERM $p; wait $p
	[ -e "$F/big.gz" ] && rm "$F/big.gz" && : > "$F/big"
	[ "$(cd "$F" && ls -A | sort | tr '\n' ' ')" = "a a.gz bad.gz big " ] || ok=0
	if [ $ok = 1 ]; then echo "same fallback without O_TMPFILE: nothing left"
	else echo "DIFF fallback without O_TMPFILE: $(ls -A "$F")"; fail=1; fi
fi
exit $fail
