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
