#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - kvmio_lat on the debug kernel (make check-debug; make check's
# lab-debug-kernel step):
#   1. the debug kernel (scripts/debug-kernel/build.sh; cached)
#   2. kvmio_lat built against it, from a copy of the sources (the tree's own
#      module/*.o stay those of the stock kernel) -> build/debug-kernel/kvmio_lat.ko
#   3. the lab's test programs (make reader selftests) and the stock lab
#      kernel, which the real-QEMU tests' inner guests boot
#   4. one lab boot of the debug kernel running scripts/debug-kernel/guest.sh:
#      selftests, I/O paths, real QEMU, hardening, kmemleak; any KASAN,
#      lockdep, sleeping-in-atomic or kmemleak report in its kernel log fails;
#      another boot, up to DEBUG_KERNEL_LAB_TRIES (3) in all, only when one
#      failed on the lab's account (selftests/lab/lab-hazard.sh: a hang, the
#      lab's panic, a test guest's fault)
# Output and the guest's dmesg in build/debug-kernel/; times per step on
# stdout.  Exit status 0 only if everything passed.
#
#   check.sh [--guest PROGRAM [ARG...]]
#
# --guest: run PROGRAM KO ARG... in the lab instead of guest.sh KO (make
# bench-irqsoff: scripts/bench/irqsoff_guest.py), the kernel log still
# scanned for reports.
#
# Environment: DEBUG_KERNEL_OUT (default build/debug-kernel), DEBUG_KERNEL_LAB_TIMEOUT (seconds, default 3600),
# DEBUG_KERNEL_LAB_TRIES (boots at most, default 3),
# DEBUG_KERNEL_APPEND (kernel command line, default build.sh's append),
# DEBUG_KERNEL_GUEST_ENV (extra NAME=VALUE words for guest.sh, e.g.
# "DK_IO_REQUESTS=20"); those of build.sh and lab.sh.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out=${DEBUG_KERNEL_OUT:-build/debug-kernel}
guest=(scripts/debug-kernel/guest.sh)
if [ "${1:-}" = --guest ]; then
	[ -n "${2:-}" ] || { echo "check.sh: --guest needs a program" >&2; exit 2; }
	shift
	guest=("$@")
elif (($#)); then
	echo "check.sh: unknown argument $1 (--guest PROGRAM [ARG...])" >&2
	exit 2
fi
lab=selftests/lab/lab.sh
t_all=$SECONDS

say() { printf 'debug-kernel: %s\n' "$*"; }
fail() { say "FAILED: $*"; say "total $((SECONDS - t_all)) s"; exit 1; }

mkdir -p "$out"

# ---- 1. the kernel
t=$SECONDS
info=$(scripts/debug-kernel/build.sh 2> >(tee "$out/build.log" >&2)) || fail "kernel build (see $out/build.log)"
release=$(sed -n 's/^release=//p' <<<"$info")
kdir=$(sed -n 's/^kdir=//p' <<<"$info")
append=${DEBUG_KERNEL_APPEND-$(sed -n 's/^append=//p' <<<"$info")}
[[ -n $release && -d $kdir ]] || fail "build.sh said nothing usable: $info"
say "kernel $release: $((SECONDS - t)) s (KDIR=$kdir)"

# ---- 2. the module, against it
t=$SECONDS
src=$out/src
rm -rf "$src"
mkdir -p "$src"
git ls-files -co --exclude-standard -z -- Kbuild Makefile module include |
	xargs -0 cp --parents -t "$src" || fail "cannot copy the module's sources"
make -s -C "$src" module KDIR="$kdir" >"$out/module.log" 2>&1 ||
	{ cat "$out/module.log"; fail "kvmio_lat does not build against $release"; }
cp "$src/module/kvmio_lat.ko" "$out/kvmio_lat.ko"
vermagic=$(modinfo -F vermagic "$out/kvmio_lat.ko")
[[ ${vermagic%% *} == "$release" ]] || fail "vermagic of $out/kvmio_lat.ko is '$vermagic', not $release"
say "module: $((SECONDS - t)) s ($out/kvmio_lat.ko, vermagic $vermagic)"

# ---- 3. test programs, inner guest kernel
t=$SECONDS
make -s ksrc reader selftests >"$out/progs.log" 2>&1 || { cat "$out/progs.log"; fail "test programs"; }
inner=$(scripts/lab-kver.sh) || fail "the lab's stock kernel version"
"$lab" kernel "$inner" >/dev/null || fail "the lab's stock kernel $inner"
say "test programs and inner kernel $inner: $((SECONDS - t)) s"

# ---- 4. the lab; again, in a fresh boot, when the lab failed rather
# than a test (selftests/lab/lab-hazard.sh), as make check's lab steps
rm -rf "$out/lab"
read -r -a genv <<<"DK_INNER_KVER=$inner ${DEBUG_KERNEL_GUEST_ENV:-}"
envargs=()
for e in "${genv[@]}"; do
	envargs+=(--env "$e")
done
tries=${DEBUG_KERNEL_LAB_TRIES:-3}
for ((try = 1; try <= tries; try++)); do
	t=$SECONDS
	mkdir -p "$out/lab"
	LAB_APPEND="${LAB_APPEND:+$LAB_APPEND }$append" \
		"$lab" run --kernel "$release" --timeout "${DEBUG_KERNEL_LAB_TIMEOUT:-3600}" \
		--out "$PWD/$out/lab" --log "$out/lab/dmesg-$try.log" "${envargs[@]}" \
		-- "${guest[0]}" "$out/kvmio_lat.ko" "${guest[@]:1}" \
		2>"$out/lab/lab-$try.err" | tee "$out/lab/out-$try.log"
	rc=${PIPESTATUS[0]}
	cat "$out/lab/lab-$try.err" >&2
	say "lab run $try on $release: $((SECONDS - t)) s, exit status $rc (dmesg: $out/lab/dmesg-$try.log)"
	((rc == 0 || try == tries)) && break
	why=$(selftests/lab/lab-hazard.sh "$rc" "$out/lab/out-$try.log" "$out/lab/lab-$try.err") ||
		break
	say "$why: boot $((try + 1)) of at most $tries"
done
((rc == 0)) || fail "the lab run (exit status $rc: 122 = a kernel report in dmesg, 123 crash, 124 timeout, 125 lab error)"
say "ok: total $((SECONDS - t_all)) s"
