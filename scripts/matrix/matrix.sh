#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# matrix.sh - build kvmio_lat for every supported Debian kernel with that
# suite's own compiler, and test it on that kernel booted in the lab.
#
#   scripts/matrix/matrix.sh [--only T1,T2] [--boot T1,T2|all|none]
#                            [--light T1,T2] [--no-dkms] [--list]
#
# Targets (suite + kernel flavour; the kernel is the suite's current ABI):
#   bullseye (5.10), bookworm (6.1), bookworm-rt (6.1 PREEMPT_RT),
#   trixie (6.12), sid (7.x)
#
# Steps of each target (each logged under build/matrix/<kernel>/):
#   chroot   the suite's chroot, made once by mmdebstrap (cached in
#            $MATRIX_CACHE/chroots) with SUITE-security, the compiler, dkms
#            and linux-headers-FLAVOUR (scripts/matrix/chroot.sh)
#   build    `make -C /usr/src/linux-headers-<kernel> M=...` in the chroot
#            -> build/matrix/<kernel>/kvmio_lat.ko
#   dkms     scripts/dkms-test.sh in the chroot: add/build/install/remove
#            against that suite's headers -> build/matrix/<kernel>/dkms/
#   install  `make install KDIR=...` in the built tree, in the chroot
#            (modules_install + the reader), then removed again
#   kernel   lab.sh kernel --suite SUITE --flavour FLAVOUR: the suite's
#            current kernel, which must be the one the headers are for
#   protos   every probe's prototype against the kernel's tracepoints (BTF)
#   lab      boot it: selftests, real QEMU native+threads, the DKMS module
#            (scripts/matrix/guest.sh)
# The first five run in background jobs: one per suite (chroot, then build,
# dkms, install of its targets) and one that fetches the kernels: mostly
# network and dpkg, so they overlap well even on 2 CPUs.  protos and lab
# run in the foreground, one target after the other (one lab guest at a
# time), each as soon as its target is ready: the first boots while later
# suites are still being made.  Every boot's real-QEMU test uses the same
# inner guest (6.1, the lab's default kernel: guest.sh says why), built
# once here.
#
# --only limits the targets; --boot limits which of them are booted (the
# lab step, the long one: default all); --light T1,T2 boots those only for
# the vermagic and DKMS-module checks (make check does this for bookworm,
# whose kernel its own lab steps test).  A summary table goes to
# build/matrix/summary.txt; exit status 1 if any step failed.
#
# Environment: MATRIX_CACHE (default <repo>/.cache/matrix, not under /tmp:
# the lab guest hides /tmp), LAB_CACHE (the lab's), MATRIX_LAB_TIMEOUT
# (seconds per boot, default 1500), MATRIX_QEMU_IOS (reads and writes per
# aio mode in the real-QEMU test, default "400 100").
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$(pwd -P)
export MATRIX_CACHE=${MATRIX_CACHE:-$REPO/.cache/matrix}
export LAB_CACHE=${LAB_CACHE:-$REPO/.cache/lab}
OUT=build/matrix
LAB=selftests/lab/lab.sh
CHROOT=scripts/matrix/chroot.sh
LAB_TIMEOUT=${MATRIX_LAB_TIMEOUT:-1500}
QEMU_IOS=${MATRIX_QEMU_IOS:-400 100}

ALL_TARGETS=(bullseye bookworm bookworm-rt trixie sid)

target_suite() { echo "${1%-rt}"; }
target_flavour() { case $1 in *-rt) echo rt-amd64 ;; *) echo amd64 ;; esac; }

usage() {
	awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"
}

# check_targets LIST: every name in the comma-separated LIST is a target
check_targets() {
	local t ts
	IFS=, read -r -a ts <<<"$1"
	for t in "${ts[@]}"; do
		[[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "matrix: unknown target $t (--list)" >&2; exit 2; }
	done
}

only='' boot=all light='' do_dkms=1
while (($#)); do
	case $1 in
	--only) only=${2:?--only needs T1,T2,...}; check_targets "$only"; shift 2 ;;
	--boot) boot=${2:?--boot needs T1,T2,... or all or none}; shift 2 ;;
	--light) light=${2:?--light needs T1,T2,...}; check_targets "$light"; shift 2 ;;
	--no-lab) boot=none; shift ;;
	--no-dkms) do_dkms=0; shift ;;
	--list) printf '%s\n' "${ALL_TARGETS[@]}"; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "matrix: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
targets=("${ALL_TARGETS[@]}")
[[ -z $only ]] || IFS=, read -r -a targets <<<"$only"
read -r qemu_reads qemu_writes <<<"$QEMU_IOS"
[[ $qemu_reads =~ ^[1-9][0-9]*$ && $qemu_writes =~ ^[0-9]+$ ]] ||
	{ echo "matrix: MATRIX_QEMU_IOS must be \"READS WRITES\" (got '$QEMU_IOS')" >&2; exit 2; }

# ---------------------------------------------------------------- tools

[[ $(id -u) == 0 ]] || { echo "matrix: needs root (mmdebstrap, chroot, mount)" >&2; exit 1; }
scripts/deps.sh || exit 1
scripts/deps.sh mmdebstrap bpftool gdb || exit 1

T0=$SECONDS
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf -- "$OUT/status"
mkdir -p "$OUT/status" "$OUT/logs"
summary=$OUT/summary.txt

# step TARGET NAME LOG CMD...: run CMD with its output in LOG; its status
# and seconds go to $OUT/status/TARGET.NAME (steps run in several jobs)
step() {
	local t=$1 name=$2 log=$3 t0=$SECONDS rc=0 s
	shift 3
	mkdir -p "$(dirname "$log")"
	"$@" >"$log" 2>&1 || rc=$?
	s=$((SECONDS - t0))
	if ((rc == 0)); then
		echo "ok $s" >"$OUT/status/$t.$name"
		printf '  %-12s %-8s ok      %4d s  %s\n' "$t" "$name" "$s" "$log"
	else
		echo "FAIL $s" >"$OUT/status/$t.$name"
		# (one write: other jobs print too)
		printf '  %-12s %-8s FAILED  %4d s  %s\n%s\n' "$t" "$name" "$s" "$log" \
			"$(tail -n 15 "$log" | sed 's/^/    | /')"
	fi
	return "$rc"
}

# copy_src DIR: the module's sources (and what `make install` and DKMS
# need), as a release tarball would have them
copy_src() {
	rm -rf -- "$1" && mkdir -p "$1" &&
		git ls-files -co --exclude-standard -z -- Kbuild Makefile dkms.conf module include \
			userspace scripts/dkms-test.sh | grep -zv '\.d$' |
		xargs -0 cp --parents -t "$1"
}

do_build() {
	local suite=$1 kver=$2 cdir=$3
	copy_src "$cdir/build/kvmio_lat-$kver" || return 1
	"$CHROOT" run "$suite" sh -c "gcc --version | head -n 1; make -C /usr/src/linux-headers-$kver M=/build/kvmio_lat-$kver KVL_WERROR=1 modules" || return 1
	cp "$cdir/build/kvmio_lat-$kver/module/kvmio_lat.ko" "$OUT/$kver/kvmio_lat.ko"
	# PREEMPT_RT's kvm wants a constant TSC, which TCG cannot show: the
	# lab's helper (selftests/lab/constant_tsc/) says it has one
	if grep -q '^CONFIG_PREEMPT_RT=y' "$cdir/usr/src/linux-headers-$kver/.config"; then
		rm -rf "$cdir/build/constant_tsc-$kver" &&
			cp -r selftests/lab/constant_tsc "$cdir/build/constant_tsc-$kver" &&
			"$CHROOT" run "$suite" make -C "/usr/src/linux-headers-$kver" \
				M="/build/constant_tsc-$kver" modules &&
			cp "$cdir/build/constant_tsc-$kver/lab_constant_tsc.ko" "$OUT/$kver/" || return 1
	fi
}

do_dkms() {
	local suite=$1 kver=$2 cdir=$3
	copy_src "$cdir/build/dkms-src-$kver" || return 1
	rm -f "$cdir/build/dkms-$kver.ko"
	# The chroot has the headers, not the kernel image: dkms >= 3.1 skips
	# depmod for a kernel without modules.dep, and modinfo -k would then
	# not find what it installed.  An empty tree's depmod makes one.
	"$CHROOT" run "$suite" sh -c "test -f /lib/modules/$kver/modules.dep || depmod -a $kver" || return 1
	"$CHROOT" run "$suite" env DKMS_KEEP_KO="/build/dkms-$kver.ko" \
		sh -c "cd /build/dkms-src-$kver && scripts/dkms-test.sh $kver" || return 1
	mkdir -p "$OUT/$kver/dkms"
	cp "$cdir/build/dkms-$kver.ko" "$OUT/$kver/dkms/kvmio_lat.ko"
}

# do_install: `make install` where the build step built the module, as a
# user runs `make && make install` (the module is not rebuilt)
do_install() {
	local suite=$1 kver=$2 reader=1
	# the reader needs libtracecmd, which not every suite has
	if ! "$CHROOT" run "$suite" pkg-config --exists libtracecmd libtraceevent; then
		echo "matrix: $suite has no libtracecmd/libtraceevent: the reader cannot be built here; module only"
		reader=0
	fi
	"$CHROOT" run "$suite" sh -c "
		set -e
		cd /build/kvmio_lat-$kver
		if [ $reader = 1 ]; then
			make install KDIR=/usr/src/linux-headers-$kver
			test -x /usr/local/bin/kvmio-lat
			echo 'installed: /usr/local/bin/kvmio-lat'
			rm -f /usr/local/bin/kvmio-lat
		else
			make module KDIR=/usr/src/linux-headers-$kver
			make -C /usr/src/linux-headers-$kver M=/build/kvmio_lat-$kver modules_install
		fi
		# kbuild skips depmod without a System.map (headers have none)
		depmod -a $kver
		m=\$(modinfo -k $kver -n kvmio_lat)
		echo \"installed: \$m\"
		rm -f \"\$m\"
		depmod -a $kver"
}

# ksrc_for SUITE KVER: a few files of the kernel's linux-source package,
# for kernels whose kvm.ko has no BTF
ksrc_for() {
	local suite=$1 kver=$2 cdir mm hver dir deb top
	cdir=$("$CHROOT" dir "$suite")
	mm=$(sed -n 's/^VERSION = //p; s/^PATCHLEVEL = //p' "$cdir/usr/src/linux-headers-${kver%-*}-common/Makefile" 2>/dev/null | paste -sd.)
	hver=$("$CHROOT" run "$suite" dpkg-query -W -f='${Version}' "linux-headers-$kver")
	dir=$MATRIX_CACHE/ksrc/$hver
	if [[ ! -f $dir/.done ]]; then
		mkdir -p "$cdir/build/dl" && rm -f "$cdir/build/dl/"linux-source-*.deb
		"$CHROOT" run "$suite" sh -c "cd /build/dl && apt-get -q download linux-source-$mm=$hver" >&2 || return 1
		deb=$(ls "$cdir/build/dl/"linux-source-*.deb) || return 1
		rm -rf "$dir" && mkdir -p "$dir"
		top=linux-source-$mm
		dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards "./usr/src/$top.tar.*" |
			tar -xJ -C "$dir" --strip-components=1 "$top/arch/x86/kvm/trace.h" \
				"$top/include/trace/events/kvm.h" "$top/include/trace/events/sched.h" \
				"$top/include/trace/events/syscalls.h" || return 1
		rm -f "$deb"
		touch "$dir/.done"
	fi
	echo "$dir"
}

# no BTF for kvm.ko in this kernel (5.10): protos reads its linux-source
needs_ksrc() {
	! grep -q '^CONFIG_DEBUG_INFO_BTF_MODULES=y' "$1/usr/src/linux-headers-$2/.config"
}

do_protos() {
	local suite=$1 kver=$2 cdir src=''
	cdir=$("$CHROOT" dir "$suite")
	if needs_ksrc "$cdir" "$kver"; then
		src=$(ksrc_for "$suite" "$kver") || return 1
	fi
	# shellcheck disable=SC2086 # no SOURCE_DIR when empty
	scripts/matrix/protos.sh "$LAB_CACHE/kernels/$kver" "$OUT/$kver/kvmio_lat.ko" $src
}

# prep_suite SUITE: its chroot, then build, dkms and install of each of its
# targets (one job per suite)
prep_suite() {
	local suite=$1 t u flavours=() ts=() cdir kver
	for u in "${targets[@]}"; do
		[[ $(target_suite "$u") == "$suite" ]] || continue
		ts+=("$u")
		flavours+=("$(target_flavour "$u")")
	done
	step "${ts[0]}" chroot "$OUT/logs/chroot-$suite.log" "$CHROOT" ensure "$suite" "${flavours[@]}" || {
		for t in "${ts[@]:1}"; do cp "$OUT/status/${ts[0]}.chroot" "$OUT/status/$t.chroot"; done
		return 1
	}
	cdir=$("$CHROOT" dir "$suite")
	for t in "${ts[@]}"; do
		[[ $t == "${ts[0]}" ]] || echo "ok 0" >"$OUT/status/$t.chroot"
		kver=$("$CHROOT" kver "$suite" "$(target_flavour "$t")") || { echo "FAIL 0" >"$OUT/status/$t.chroot"; continue; }
		echo "$kver" >"$OUT/status/$t.kver"
		rm -rf -- "${OUT:?}/$kver"
		mkdir -p "$OUT/$kver"
		echo "  $(printf '%-12s' "$t") headers  $kver"
		# one compiling job at a time: the downloads overlap, the
		# compilers would only share 2 CPUs (and slow the lab guest)
		{
			flock 8
			prep_target "$suite" "$t" "$kver" "$cdir"
		} 8>"$OUT/status/.compile.lock"
		: >"$OUT/status/$t.ready"
	done
}

prep_target() {
	local suite=$1 t=$2 kver=$3 cdir=$4
	step "$t" build "$OUT/$kver/build.log" do_build "$suite" "$kver" "$cdir" || return
	if ((do_dkms)); then
		step "$t" dkms "$OUT/$kver/dkms.log" do_dkms "$suite" "$kver" "$cdir"
		# what the boot needs is there: it need not wait for install
		: >"$OUT/status/$t.ready"
		step "$t" install "$OUT/$kver/install.log" do_install "$suite" "$kver"
	fi
	# fetched now, in this job, for the protos step
	if needs_ksrc "$cdir" "$kver"; then
		ksrc_for "$suite" "$kver" >"$OUT/logs/ksrc-$t.log" 2>&1 ||
			echo "  $t: linux-source download failed (log: $OUT/logs/ksrc-$t.log); protos retries"
	fi
}

# fetch_kernels: the inner guest's kernel, its initramfs, and each target's
# kernel (lab.sh serialises its downloads with a lock anyway)
fetch_kernels() {
	local t
	step host inner "$OUT/logs/inner-kernel.log" fetch_inner
	for t in "${targets[@]}"; do
		step "$t" kernel "$OUT/logs/kernel-$t.log" \
			"$LAB" kernel --suite "$(target_suite "$t")" --flavour "$(target_flavour "$t")"
	done
}

inner_kver=$(scripts/lab-kver.sh) || exit 1
inner_initrd=$REPO/$OUT/inner-$qemu_reads-$qemu_writes.gz
fetch_inner() {
	"$LAB" kernel "$inner_kver" &&
		LAB_KVER=$inner_kver selftests/qemu/qemu_test.sh --initrd "$inner_initrd" \
			build/inner-io "$qemu_reads" "$qemu_writes"
}

# ---------------------------------------------------------------- prepare

echo "=== host programs"
step host progs "$OUT/host-build.log" make -s ksrc reader selftests build/inner-io || exit 1

echo "=== chroots, builds, DKMS, make install; kernels (background jobs)"
suites=()
for t in "${targets[@]}"; do
	s=$(target_suite "$t")
	[[ " ${suites[*]} " == *" $s "* ]] || suites+=("$s")
done
declare -A job=()
for s in "${suites[@]}"; do
	prep_suite "$s" &
	job[$s]=$!
done
fetch_kernels &
kjob=$!

# wait_for FILE PID: until FILE exists (true) or the job PID is gone (false)
wait_for() {
	while [[ ! -e $1 ]]; do
		kill -0 "$2" 2>/dev/null || { [[ -e $1 ]]; return; }
		sleep 1
	done
}

# ---------------------------------------------------------------- boot

declare -A kv=()
for t in "${targets[@]}"; do
	suite=$(target_suite "$t")
	wait_for "$OUT/status/$t.ready" "${job[$suite]}"
	kv[$t]=$(cat "$OUT/status/$t.kver" 2>/dev/null) || continue
	kver=${kv[$t]}
	[[ $(cut -d' ' -f1 "$OUT/status/$t.build" 2>/dev/null) == ok ]] || continue
	wait_for "$OUT/status/$t.kernel" "$kjob"
	[[ $(cut -d' ' -f1 "$OUT/status/$t.kernel" 2>/dev/null) == ok ]] || continue
	echo "=== $t ($kver)"
	# the headers and the kernel come from two downloads: the same ABI?
	kdir=$(tail -n 1 "$OUT/logs/kernel-$t.log")
	if [[ ${kdir##*/} != "$kver" ]]; then
		echo "matrix: the suite's kernel is ${kdir##*/}, its headers are for $kver (the archive moved between the two downloads? rerun)" >>"$OUT/logs/kernel-$t.log"
		echo "FAIL 0" >"$OUT/status/$t.kernel"
		printf '  %-12s %-8s FAILED  kernel %s, headers %s\n' "$t" kernel "${kdir##*/}" "$kver"
		continue
	fi
	cp "$OUT/logs/kernel-$t.log" "$OUT/$kver/kernel.log"
	step "$t" protos "$OUT/$kver/protos.log" do_protos "$suite" "$kver"
	[[ $boot == all || ,$boot, == *",$t,"* ]] || continue
	wait_for "$OUT/status/host.inner" "$kjob"
	[[ $(cut -d' ' -f1 "$OUT/status/host.inner" 2>/dev/null) == ok ]] || { echo "  no inner guest (log: $OUT/logs/inner-kernel.log): $t not booted"; continue; }
	env=(--env MATRIX_INNER_KVER="$inner_kver" --env LAB_CACHE="$LAB_CACHE"
		--env MATRIX_QEMU_IOS="$qemu_reads $qemu_writes" --env INNER_INITRD="$inner_initrd")
	[[ ,$light, == *",$t,"* ]] && env+=(--env MATRIX_LIGHT=1)
	step "$t" lab "$OUT/$kver/lab.log" "$LAB" run --kernel "$kver" --suite "$suite" \
		--timeout "$LAB_TIMEOUT" --out "$REPO/$OUT/$kver/out" --log "$OUT/$kver/dmesg.log" \
		"${env[@]}" -- scripts/matrix/guest.sh "$OUT/$kver"
	grep -E '^(not )?ok [0-9]+ - ' "$OUT/$kver/lab.log" | sed 's/^/    /'
done
wait

# ---------------------------------------------------------------- summary

failed=0
grep -l '^FAIL' "$OUT"/status/* >/dev/null 2>&1 && failed=1
{
	echo "kvmio_lat matrix, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $((SECONDS - T0)) s in all"
	echo "load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end;" \
		"chroot to kernel ran in background jobs: each step's own wall time"
	printf '%-12s %-22s %-9s %-9s %-9s %-9s %-9s %-9s %-9s\n' target kernel chroot build dkms install kernel protos lab
	for t in "${targets[@]}"; do
		printf '%-12s %-22s' "$t" "${kv[$t]:--}"
		for s in chroot build dkms install kernel protos lab; do
			if [[ -f $OUT/status/$t.$s ]]; then
				read -r a b <"$OUT/status/$t.$s"
				[[ $s == lab && ,$light, == *",$t,"* ]] && a="$a*"
				printf ' %-9s' "$a/${b}s"
			else
				printf ' %-9s' -
			fi
		done
		echo
	done
	[[ -z $light ]] || echo "*: booted for the vermagic and DKMS-module checks only (--light)"
} | tee "$summary"
exit "$failed"
