#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: install what is needed, build, boot the lab, run a real QEMU
# guest with aio=native, aio=threads and aio=io_uring disks, show where
# the latency goes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
kver=$(scripts/lab-kver.sh)
make -s module KDIR="/lib/modules/$kver/build"
make -s reader inner-io
mkdir -p build/demo
selftests/lab/lab.sh run --kernel "$kver" --out "$PWD/build/demo" --log build/demo/dmesg.log -- \
	selftests/qemu/demo.sh module/kvmio_lat.ko build/inner-io build/kvmio-lat \
	"${DEMO_READS:-2000}" "${DEMO_WRITES:-500}"
echo
echo "(snapshot kept in build/demo/hist: kvmio-lat show --input build/demo/hist --exits)"
# the same snapshot as one page to attach to a bug (Documentation/report.rst)
build/kvmio-lat report --input build/demo/hist --stats build/demo/stats \
	-o build/demo/report.html
echo "(report: build/demo/report.html; a picture of it: scripts/report-png.sh build/demo/report.html FILE.png)"
