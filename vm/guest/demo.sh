#!/bin/sh
# The `make run` demo: compress a file through the accelerator, check it
# with the system's gunzip, and show what the device did.
set -e
cd /tmp
echo "== WarpDrive devices"
wdctl
echo
echo "== a sample file: kernel log, module list and numbers"
{ dmesg; cat /proc/modules; seq 1 200000; } > sample.txt
ls -l sample.txt
cp sample.txt original.txt
echo
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
echo
echo "== wdctl show wd_soft0"
wdctl show wd_soft0
echo
echo "== AES through the virtio-crypto device (wd_vcrypto, behind the IOMMU)"
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
