#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A kernel kvmio_lat does not support must fail at build time with a clear
# message (module/Kbuild), not at load time.  Each case overrides one fact
# of KDIR's headers on the make command line (command-line variables beat
# include/config/auto.conf and the kernel Makefile's VERSION/PATCHLEVEL),
# builds a scratch copy of the module and expects its message.
# Usage: scripts/kbuild-guard-test.sh [KDIR]
set -uo pipefail
cd "$(dirname "$0")/.."
kdir=${1:-${KDIR:-/lib/modules/$(scripts/lab-kver.sh)/build}}
tmp=$(mktemp -d "$PWD/build/kbuild-guard.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
git ls-files -co --exclude-standard -z -- Kbuild Makefile module include |
	grep -zv '\.d$' | xargs -0 cp --parents -t "$tmp"

cases=(
	"CONFIG_TRACEPOINTS=|needs CONFIG_TRACEPOINTS=y"
	"CONFIG_FTRACE_SYSCALLS=|needs CONFIG_FTRACE_SYSCALLS=y"
	"CONFIG_DEBUG_FS=|needs CONFIG_DEBUG_FS"
	"CONFIG_KVM=|needs CONFIG_KVM"
	"CONFIG_X86_64=|x86-64 KVM hosts only"
	"VERSION=5 PATCHLEVEL=4|needs Linux 5.10 or later; these headers are 5.4"
	"VERSION=4 PATCHLEVEL=19|needs Linux 5.10 or later; these headers are 4.19"
	"LINUXINCLUDE=-I/nonexistent|the compile probe module/compat/kvm_x86_ops_member.c fails"
)
n=0 fail=0
echo "TAP version 13"
echo "1..$((${#cases[@]} + 4))"
for c in "${cases[@]}"; do
	n=$((n + 1))
	read -r -a over <<<"${c%%|*}"
	want=${c#*|}
	out=$(make -C "$kdir" M="$tmp" "${over[@]}" modules 2>&1)
	rc=$?
	if ((rc != 0)) && grep -q "module/Kbuild:[0-9]*: \*\*\* kvmio_lat.*$want" <<<"$out" &&
		[[ ! -e $tmp/module/kvmio_lat.ko ]]; then
		echo "ok $n - ${c%%|*}: fails at build time: $want"
	else
		echo "not ok $n - ${c%%|*}: want a build error saying '$want' (make exit $rc)"
		grep -E 'Kbuild|rror' <<<"$out" | head -n 5 | sed 's/^/# /'
		fail=1
	fi
done
n=$((n + 1))
if make -C "$kdir" M="$tmp" modules >"$tmp/build.log" 2>&1 && [[ -f $tmp/module/kvmio_lat.ko ]]; then
	echo "ok $n - the headers as they are: builds"
else
	echo "not ok $n - the headers as they are: does not build"; tail -n 5 "$tmp/build.log" | sed 's/^/# /'; fail=1
fi
# A warning: the shipped build (DKMS's) still builds, KVL_WERROR=1 (make
# check's) fails.  Planted in a copy: a variable nothing uses.
echo 'static int kvl_planted_warning;' >>"$tmp/module/main.c"
n=$((n + 1))
make -C "$kdir" M="$tmp" clean >/dev/null 2>&1
if make -C "$kdir" M="$tmp" modules >"$tmp/warn.log" 2>&1 && [[ -f $tmp/module/kvmio_lat.ko ]] &&
	grep -q "kvl_planted_warning.*Wunused" "$tmp/warn.log"; then
	echo "ok $n - a warning: the shipped build warns and builds"
else
	echo "not ok $n - a warning: the shipped build should warn and build"; tail -n 5 "$tmp/warn.log" | sed 's/^/# /'; fail=1
fi
n=$((n + 1))
make -C "$kdir" M="$tmp" clean >/dev/null 2>&1
if ! make -C "$kdir" M="$tmp" KVL_WERROR=1 modules >"$tmp/werror.log" 2>&1 &&
	grep -q "kvl_planted_warning" "$tmp/werror.log" && [[ ! -e $tmp/module/kvmio_lat.ko ]]; then
	echo "ok $n - a warning: KVL_WERROR=1 (make check) fails"
else
	echo "not ok $n - a warning: KVL_WERROR=1 should fail"; tail -n 5 "$tmp/werror.log" | sed 's/^/# /'; fail=1
fi
n=$((n + 1))
if make -C "$kdir" M="$tmp" clean >"$tmp/clean.log" 2>&1 && [[ ! -e $tmp/module/kvmio_lat.ko ]]; then
	echo "ok $n - make clean (no kernel config) cleans"
else
	echo "not ok $n - make clean"; tail -n 5 "$tmp/clean.log" | sed 's/^/# /'; fail=1
fi
exit "$fail"
