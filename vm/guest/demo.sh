#!/bin/sh
# The `make run` demo: the whole system, one short paragraph per step. Each
# step checks its result; the first that does not hold stops the demo with
# "DEMO FAILED" (set -e and the EXIT trap) and a non-zero status.
set -e
cd /tmp
step="start"
trap 'rc=$?; [ $rc = 0 ] && echo "== demo complete: every step checked" || echo "DEMO FAILED in step: $step (status $rc)"' EXIT
para() { echo; echo "== $1"; shift; for l in "$@"; do echo "$l"; done; }

step="devices"
para "WarpDrive devices" \
	"Each accelerator registered with the framework, from sysfs (wdctl never opens a device)."
wdctl

step="device memory"
para "1. Device memory" \
	"A region is a file descriptor for part of the device's memory. Mapped plainly, its" \
	"pages arrive on fault (a window at a time); MAP_POPULATE and the populate ioctl map" \
	"them up front, so the first touch takes no fault at all."
wddemo devmem

step="rings"
para "2. Queue rings mapped in advance" \
	"A queue's submission and completion rings are mapped when the queue is bound, so the" \
	"process submits and reaps with plain loads and stores: no page fault, and a system" \
	"call only when the engine went to sleep."
wddemo rings

step="sva and pinned"
para "3. Shared virtual addressing, and pinned shares" \
	"In SVA mode the engine works on any address of the process (here plain malloc'd" \
	"memory), faulting pages in through its own mirror of the page table. In pinned mode" \
	"it may only use ranges the process shared (and pinned) first."
wddemo sva

step="migration"
para "4. Migration to device-private memory" \
	"Anonymous pages move into device memory the CPU cannot address; their addresses stay" \
	"valid, the device works on them there, and a CPU touch brings each page back."
rc=0
wddemo migrate || rc=$?
case $rc in
0) ;;
3) echo "  (skipped: this kernel has no CONFIG_DEVICE_PRIVATE)" ;;
*) exit "$rc" ;;
esac

step="compression"
para "5. Compression" \
	"wdzip runs DEFLATE on the device with gzip framing; the system's gunzip must read it."
echo "a sample file: kernel log, module list and numbers"
{ dmesg; cat /proc/modules; seq 1 200000; } > sample.txt
ls -l sample.txt
cp sample.txt original.txt
echo "== wdzip -9 sample.txt (DEFLATE on wd_soft0, gzip framing)"
wdzip -9 sample.txt
ls -l sample.txt.gz
echo
echo "== gunzip -c sample.txt.gz | cmp - original.txt"
gunzip -c sample.txt.gz | cmp - original.txt
echo "identical: the accelerator's output is valid gzip"
echo
echo "== wdzip -d on gzip's own output"
gzip -c original.txt > busybox.gz
wdzip -d -c busybox.gz | cmp - original.txt
echo "identical"

step="zlib programs"
para "6. Unmodified zlib programs" \
	"libwd-zlib.so.1 has zlib's ABI: preloaded, pigz (linked against the system zlib) runs" \
	"its deflate streams on the device; the system's gunzip checks the result."
if [ -x /usr/bin/pigz ] && [ -f /wd/lib/libwd-zlib.so.1 ]; then
	before=$(cat /sys/class/warpdrive/wd_soft0/stats/bytes_read)
	LD_PRELOAD=/wd/lib/libwd-zlib.so.1 WD_ZLIB_STATS=1 /usr/bin/pigz -c original.txt > pigz.gz
	after=$(cat /sys/class/warpdrive/wd_soft0/stats/bytes_read)
	gunzip -c pigz.gz | cmp - original.txt
	ls -l pigz.gz
	echo "the device read $((after - before)) bytes for it; gunzip: identical"
	[ $((after - before)) -ge "$(wc -c < original.txt)" ]
else
	echo "no pigz or libwd-zlib in this guest: skipped"
fi

step="live view"
para "7. The live view: wdctl top" \
	"Rates per second from the device counters in sysfs (and per-process rows from debugfs)," \
	"here while wdzip compresses in the background."
cat original.txt original.txt original.txt original.txt > load.txt
( for i in 1 2 3 4 5 6; do wdzip -1 -c load.txt > /dev/null; done ) &
load=$!
wdctl top -n 2 -d 0.5 | tee top.txt
wait $load
grep -q '^wd_soft0 ' top.txt
rate=$(wdctl top -n 1 -d 0.2 --json | sed 's/.*"commands_per_s": \([0-9.]*\).*/\1/')
echo "(idle again: $rate commands/s)"

step="encryption"
para "8. Encryption through the PCI device" \
	"AES through the virtio-crypto device (wd_vcrypto, behind the IOMMU)."
# The guest has a virtio-crypto function for WarpDrive at 0000:01:00.0:
# when it is there, the step must work (set -e stops the demo otherwise).
if [ -e /sys/bus/pci/devices/0000:01:00.0 ]; then
	wd-vcrypto load
	vc=$(wdctl | awk '/^wd_vcrypto/ { print $1; exit }')
	[ -n "$vc" ]
	wdctl show "$vc"
	key=000102030405060708090a0b0c0d0e0f
	iv=f0e0d0c0b0a090807060504030201000
	echo "== wdcrypt: encrypt original.txt (AES-128-CBC, PKCS#7) and decrypt it back"
	wdcrypt -D "$vc" "$key" "$iv" original.txt original.enc
	wdcrypt -D "$vc" -d "$key" "$iv" original.enc original.dec
	cmp original.txt original.dec
	ls -l original.txt original.enc
	echo "round trip identical"
	echo "== known answer: NIST SP 800-38A F.2.1 (CBC-AES128), first block"
	printf '\153\301\276\342\056\100\237\226\351\075\176\021\163\223\027\052' > kat.in
	wdcrypt -D "$vc" 2b7e151628aed2a6abf7158809cf4f3c 000102030405060708090a0b0c0d0e0f kat.in kat.out
	# The first 16 bytes are the vector's ciphertext block (the rest is
	# the PKCS#7 padding block).
	got=$(head -c 16 kat.out | od -An -tx1 | tr -d ' \n')
	echo "ciphertext $got"
	[ "$got" = 7649abac8119b246cee98e9b12e9197d ]
	echo "matches the vector"
	wd-vcrypto unload
else
	echo "no virtio-crypto device for WarpDrive here: skipped"
fi

step="totals"
para "What wd_soft0 did in this demo (its counters)"
wdctl show wd_soft0
