#!/bin/sh
# The `make run` demo: what the accelerator framework reports.
set -e
echo "== wdctl: WarpDrive devices =="
wdctl
