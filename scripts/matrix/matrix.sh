#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# matrix.sh - build kvmio_lat for every supported Debian kernel with that
# suite's own compiler, and test it on that kernel booted in the lab.
#
#   scripts/matrix/matrix.sh [--only T1,T2] [--boot T1,T2|all|none] [--no-dkms] [--list]
#
# Targets (suite + kernel flavour; the kernel is the suite's current ABI):
#   bullseye (5.10), bookworm (6.1), bookworm-rt (6.1 PREEMPT_RT),
#   trixie (6.12), sid (7.x)
#
# For each target, steps (each logged under build/matrix/<kernel>/):
#   chroot   debootstrap the suite once (cached in $MATRIX_CACHE/chroots),
#            add SUITE-security, install linux-headers-FLAVOUR and dkms
#   build    `make -C /usr/src/linux-headers-<kernel> M=...` in the chroot
#            -> build/matrix/<kernel>/kvmio_lat.ko
#   dkms     scripts/dkms-test.sh in the chroot: add/build/install/remove
#            against that suite's headers -> build/matrix/<kernel>/dkms/
#   install  `make install KDIR=...` in the chroot (modules_install + reader)
#   kernel   lab.sh kernel --suite SUITE --flavour FLAVOUR <kernel>
#   protos   every probe's prototype against the kernel's tracepoints (BTF)
#   lab      boot it: selftests, real QEMU native+threads, the DKMS module
#            (scripts/matrix/guest.sh)
# --only limits the targets; --boot limits which of them are booted (the
# lab step, the long one: default all).  A summary table goes to
# build/matrix/summary.txt; exit status 1 if any step failed.
#
# Environment: MATRIX_CACHE (default <repo>/.cache/matrix, not under /tmp:
# the lab guest hides /tmp), LAB_CACHE (the lab's), MATRIX_LAB_TIMEOUT
# (seconds per boot, default 1500).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$(pwd -P)
export MATRIX_CACHE=${MATRIX_CACHE:-$REPO/.cache/matrix}
OUT=build/matrix
LAB=selftests/lab/lab.sh
CHROOT=scripts/matrix/chroot.sh
LAB_TIMEOUT=${MATRIX_LAB_TIMEOUT:-1500}

ALL_TARGETS=(bullseye bookworm bookworm-rt trixie sid)

target_suite() { echo "${1%-rt}"; }
target_flavour() { case $1 in *-rt) echo rt-amd64 ;; *) echo amd64 ;; esac; }

usage() {
	awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"
}

only='' boot=all do_dkms=1
while (($#)); do
	case $1 in
	--only) only=${2:?--only needs T1,T2,...}; shift 2 ;;
	--boot) boot=${2:?--boot needs T1,T2,... or all or none}; shift 2 ;;
	--no-lab) boot=none; shift ;;
	--no-dkms) do_dkms=0; shift ;;
	--list) printf '%s\n' "${ALL_TARGETS[@]}"; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "matrix: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
targets=("${ALL_TARGETS[@]}")
if [[ -n $only ]]; then
	IFS=, read -r -a targets <<<"$only"
	for t in "${targets[@]}"; do
		[[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "matrix: unknown target $t (--list)" >&2; exit 2; }
	done
fi

# ---------------------------------------------------------------- tools

need_pkgs() {
	local p missing=()
	for p in "$@"; do
		[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	if [[ $(id -u) != 0 ]]; then
		echo "matrix: missing packages: ${missing[*]} (run as root)" >&2
		return 1
	fi
	echo "matrix: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

[[ $(id -u) == 0 ]] || { echo "matrix: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
scripts/deps.sh || exit 1
need_pkgs debootstrap bpftool gdb || exit 1

T0=$SECONDS
mkdir -p "$OUT"
summary=$OUT/summary.txt
declare -A st=() tm=()
failed=0

# step TARGET NAME LOG CMD...: run CMD with its output in LOG
step() {
	local t=$1 name=$2 log=$3 t0=$SECONDS rc=0
	shift 3
	mkdir -p "$(dirname "$log")"
	"$@" >"$log" 2>&1 || rc=$?
	tm[$t.$name]=$((SECONDS - t0))
	if ((rc == 0)); then
		st[$t.$name]=ok
		printf '  %-8s ok      %4d s  %s\n' "$name" "${tm[$t.$name]}" "$log"
	else
		st[$t.$name]=FAIL
		failed=1
		printf '  %-8s FAILED  %4d s  %s\n' "$name" "${tm[$t.$name]}" "$log"
		tail -n 15 "$log" | sed 's/^/    | /'
	fi
	return "$rc"
}

# The host-side programs the lab runs (the guest uses the machine's libc).
echo "=== host programs"
step host progs "$OUT/host-build.log" make -s ksrc reader selftests build/inner-io || exit 1

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
	"$CHROOT" run "$suite" sh -c "gcc --version | head -n 1; make -C /usr/src/linux-headers-$kver M=/build/kvmio_lat-$kver modules" || return 1
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
	copy_src "$cdir/build/dkms-src" || return 1
	rm -f "$cdir/build/dkms.ko"
	# The chroot has the headers, not the kernel image: dkms >= 3.1 skips
	# depmod for a kernel without modules.dep, and modinfo -k would then
	# not find what it installed.  An empty tree's depmod makes one.
	"$CHROOT" run "$suite" sh -c "test -f /lib/modules/$kver/modules.dep || depmod -a $kver" || return 1
	"$CHROOT" run "$suite" env DKMS_KEEP_KO=/build/dkms.ko sh -c "cd /build/dkms-src && scripts/dkms-test.sh $kver" || return 1
	mkdir -p "$OUT/$kver/dkms"
	cp "$cdir/build/dkms.ko" "$OUT/$kver/dkms/kvmio_lat.ko"
}

do_install() {
	local suite=$1 kver=$2 cdir=$3 reader=1
	copy_src "$cdir/build/install-src" || return 1
	# the reader needs libtracecmd, which not every suite has
	if ! "$CHROOT" run "$suite" pkg-config --exists libtracecmd libtraceevent; then
		echo "matrix: $suite has no libtracecmd/libtraceevent: the reader cannot be built here; module only"
		reader=0
	fi
	"$CHROOT" run "$suite" sh -c "
		set -e
		cd /build/install-src
		if [ $reader = 1 ]; then
			make install KDIR=/usr/src/linux-headers-$kver
			test -x /usr/local/bin/kvmio-lat
			echo 'installed: /usr/local/bin/kvmio-lat'
			rm -f /usr/local/bin/kvmio-lat
		else
			make -C /usr/src/linux-headers-$kver M=/build/install-src modules_install
		fi
		# kbuild skips depmod without a System.map (headers have none)
		depmod -a $kver
		m=\$(modinfo -k $kver -n kvmio_lat)
		echo \"installed: \$m\"
		rm -f \"\$m\"
		depmod -a $kver"
}

do_protos() {
	local kdir=$1 kver=$2 src=''
	# no BTF for modules in this kernel (5.10): read its linux-source
	if ! readelf -S "$(find -L "$kdir/modules/kernel/arch/x86/kvm" -name kvm.ko -print -quit)" | grep -q '\.BTF '; then
		src=$(ksrc_for "$3" "$kver") || return 1
	fi
	# shellcheck disable=SC2086 # no SOURCE_DIR when empty
	scripts/matrix/protos.sh "$kdir" "$OUT/$kver/kvmio_lat.ko" $src
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

# ---------------------------------------------------------------- targets

declare -A kv=()
for t in "${targets[@]}"; do
	suite=$(target_suite "$t") flavour=$(target_flavour "$t")
	echo "=== $t ($suite, linux-image-$flavour)"
	# every flavour of the suite the run needs, in one go
	flavours=()
	for u in "${targets[@]}"; do
		[[ $(target_suite "$u") == "$suite" ]] && flavours+=("$(target_flavour "$u")")
	done
	mkdir -p "$OUT/logs"
	step "$t" chroot "$OUT/logs/chroot-$t.log" "$CHROOT" ensure "$suite" "${flavours[@]}" || continue
	kver=$("$CHROOT" kver "$suite" "$flavour") || { st[$t.chroot]=FAIL; failed=1; continue; }
	kv[$t]=$kver
	cdir=$("$CHROOT" dir "$suite")
	rm -rf -- "${OUT:?}/$kver"
	mkdir -p "$OUT/$kver"
	echo "  kernel   $kver"
	step "$t" build "$OUT/$kver/build.log" do_build "$suite" "$kver" "$cdir" || continue
	if ((do_dkms)); then
		step "$t" dkms "$OUT/$kver/dkms.log" do_dkms "$suite" "$kver" "$cdir"
		step "$t" install "$OUT/$kver/install.log" do_install "$suite" "$kver" "$cdir"
	fi
	step "$t" kernel "$OUT/$kver/kernel.log" "$LAB" kernel --suite "$suite" --flavour "$flavour" "$kver" || continue
	kdir=$(tail -n 1 "$OUT/$kver/kernel.log")
	step "$t" protos "$OUT/$kver/protos.log" do_protos "$kdir" "$kver" "$suite"
	[[ $boot == all || ,$boot, == *",$t,"* ]] || continue
	step "$t" lab "$OUT/$kver/lab.log" "$LAB" run --kernel "$kver" --suite "$suite" \
		--timeout "$LAB_TIMEOUT" --out "$OUT/$kver/out" --log "$OUT/$kver/dmesg.log" \
		-- scripts/matrix/guest.sh "$OUT/$kver"
	grep -E '^(not )?ok [0-9]+ - ' "$OUT/$kver/lab.log" | sed 's/^/    /'
done

# ---------------------------------------------------------------- summary

{
	echo "kvmio_lat matrix, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $((SECONDS - T0)) s in all"
	printf '%-12s %-22s %-8s %-8s %-8s %-8s %-8s %-8s %-8s\n' target kernel chroot build dkms install kernel protos lab
	for t in "${targets[@]}"; do
		printf '%-12s %-22s' "$t" "${kv[$t]:--}"
		for s in chroot build dkms install kernel protos lab; do
			if [[ -n ${st[$t.$s]:-} ]]; then
				printf ' %-8s' "${st[$t.$s]}/${tm[$t.$s]}s"
			else
				printf ' %-8s' -
			fi
		done
		echo
	done
} | tee "$summary"
exit "$failed"
