#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab.sh - boot Debian kernels under QEMU/TCG (with nested KVM) to test kvmio_lat.
#
# The development machine cannot load modules.  Every module test runs inside a
# QEMU TCG guest (AMD SVM + NPT emulated, so `modprobe kvm_amd` gives a working
# /dev/kvm inside).  The guest sees the machine's root read-only over 9p and runs
# the test COMMAND in a chroot of it, with the booted kernel's modules in place.
#
# Run `lab.sh help` for the interface; see README.md beside this file.

set -eEuo pipefail

LAB_SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
LAB_DIR=${LAB_SELF%/*}
LAB_REPO=$(cd -- "$LAB_DIR/../.." && pwd -P)
LAB_REPO_SHARE=''
LAB_CACHE=${LAB_CACHE:-$LAB_REPO/.cache/lab}
LAB_QEMU=${LAB_QEMU:-qemu-system-x86_64}
LAB_BUSYBOX=${LAB_BUSYBOX:-/bin/busybox}
LAB_CPU=${LAB_CPU:-EPYC,+svm,+npt}
LAB_ACCEL=${LAB_ACCEL:-tcg}
LAB_QEMU_ARGS=${LAB_QEMU_ARGS:-}
LAB_DISK_SIZE=${LAB_DISK_SIZE:-256M}
LAB_9P_CACHE=${LAB_9P_CACHE:-loose}
LAB_PRINTK=${LAB_PRINTK:-5}
LAB_SYMDUMP=${LAB_SYMDUMP:-1}
LAB_APPEND=${LAB_APPEND:-}
LAB_DMESG_IGNORE=${LAB_DMESG_IGNORE:-}
LAB_SUITE=${LAB_SUITE:-}
LAB_FLAVOUR=${LAB_FLAVOUR:-amd64}

# Bump when the layout of cached kernels or initramfs changes.
LAB_FORMAT=2

# Modules the outer guest's initramfs loads (with their dependencies).
LAB_INITRD_MODULES=(virtio_pci virtio_blk 9pnet_virtio 9p overlay)
# Modules an inner (nested) guest's initramfs loads by default.
LAB_INNER_MODULES=(virtio_pci virtio_blk)

# Guest paths (inside the chroot).
LAB_GUEST_OUT=/run/lab-out
LAB_GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Exit statuses of `run` besides COMMAND's own.
EX_DMESG=122   # COMMAND passed but the kernel log shows a problem
EX_CRASH=123   # the guest died (panic, triple fault) before COMMAND finished
EX_TIMEOUT=124 # --timeout expired, QEMU killed
EX_LAB=125     # the lab itself failed (bad usage, download, boot setup)

# dmesg lines that fail a run (extended regex).
LAB_DMESG_BAD='Oops|BUG:|WARNING:|Call Trace|general protection fault|KASAN|kernel BUG|UBSAN|suspected memory leak|possible circular locking|possible recursive locking|inconsistent lock state|sleeping function called from invalid context|RCU stall|rcu.*detected stall|stall on CPU|soft lockup|hard LOCKUP|hung task|blocked for more than [0-9]+ seconds|Kernel panic|stack-protector|stack overflow|list_(add|del) corruption|refcount_t: '
# Lines that match the above but are known to be harmless (extended regex).
LAB_DMESG_BENIGN='RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable|Spectre V2 : WARNING: Unprivileged eBPF|Speculative Return Stack Overflow: WARNING: See'
# Taint bits that fail a run: M(4) machine check, B(5) bad page, D(7) died,
# W(9) warning, L(14) soft lockup.
LAB_TAINT_BAD=$(((1 << 4) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))

# Unexpected failures: say where, exit with the lab's own status.
lab_err() {
	if [[ $BASHPID == "$$" ]]; then
		printf 'lab: error: unexpected failure (status %s) at lab.sh line %s: %s\n' "$1" "$2" "$3" >&2
	fi
	exit "$EX_LAB"
}
trap 'lab_err $? $LINENO "$BASH_COMMAND"' ERR

die() {
	printf 'lab: error: %s\n' "$*" >&2
	exit "$EX_LAB"
}

note() {
	printf 'lab: %s\n' "$*" >&2
}

usage() {
	cat <<EOF
Usage: lab.sh COMMAND [ARGS]

  kernel [--suite SUITE] [--flavour F] [--from ROOT] [VERSION]
      Make sure the Debian kernel VERSION (vmlinuz + modules) is unpacked in the
      cache and print its directory DIR: DIR/vmlinuz (bzImage), DIR/vmlinux
      (uncompressed, PVH-bootable: what the lab boots), DIR/config,
      DIR/modules -> DIR/root/lib/modules/VERSION (depmod-ed, .ko.xz/.zst
      decompressed).
      VERSION defaults to \$LAB_KVER, else to the release of the headers at
      \$KDIR (default: the newest /lib/modules/*/build).  Packages come from
      'apt-get download' (never installed); --suite bookworm|trixie|sid|...
      uses a private apt list for that suite (and, without VERSION, takes
      that suite's current linux-image-FLAVOUR).  .deb files dropped into
      \$LAB_CACHE/debs/ are used first.
      --from ROOT takes a locally built kernel instead of packages: ROOT
      holds boot/vmlinuz-VERSION, boot/config-VERSION and lib/modules/VERSION
      (what 'make modules_install INSTALL_MOD_PATH=ROOT' and a copy of the
      bzImage give, or dpkg -x of an image package).  It is copied into the
      cache again whenever ROOT has changed; 'run --kernel VERSION' then
      boots it (scripts/debug-kernel/build.sh does this).

  run [OPTIONS] -- COMMAND [ARGS...]
      Boot the kernel under QEMU/TCG ($LAB_CPU), chroot into the machine's
      root (shared read-only) and run COMMAND there, in the caller's current
      directory (read-only there), stdin /dev/null.  Its stdout+stderr are
      streamed between two marker lines
      ("# lab: ==== BEGIN ..." / "# lab: ==== END ... rc=N ====").
      The exit status is COMMAND's; the kernel log is then scanned for Oops,
      BUG, WARNING, lockdep, KASAN, ... reports and a run whose COMMAND passed
      still fails if one is found.
        --kernel VERSION   kernel to boot (default as for 'kernel')
        --suite SUITE      apt suite to fetch VERSION from (see 'kernel')
        --smp N            vCPUs (default 2)
        --mem MB           guest memory (default 2048)
        --timeout SEC      kill QEMU after SEC seconds (default 600)
        --out HOSTDIR      share HOSTDIR read-write at $LAB_GUEST_OUT (\$LAB_OUT)
        --log FILE         where to write the guest's dmesg
                           (default \$LAB_CACHE/last-dmesg.log)
        --env NAME=VALUE   export NAME=VALUE to COMMAND (repeatable)
      Exit status: COMMAND's own; $EX_DMESG if COMMAND passed but the kernel log
      or taint flags show a problem; $EX_CRASH if the guest crashed before
      COMMAND finished; $EX_TIMEOUT on timeout; $EX_LAB if the lab itself failed.

  shell [OPTIONS]
      Boot like 'run' (same options, no COMMAND) and give an interactive bash
      in the chroot on the serial console.  Leave with 'exit' (or Ctrl-a x).

  inner-initrd [--kernel VERSION] [--module NAME]... [--file SRC:/DST]... OUT.gz SCRIPT
      Build a busybox initramfs for a nested guest (real QEMU with -enable-kvm
      inside the lab guest).  Its /init mounts proc/sys/dev, loads
      ${LAB_INNER_MODULES[*]} (+ --module NAMEs, with dependencies) from the
      kernel's module tree, runs SCRIPT with busybox sh, prints
      "lab-inner: rc=N" and powers off.  Works on the machine and inside the
      lab guest (write OUT.gz to /tmp there).

  check-log FILE
      Scan a kernel log the way 'run' does; exit 1 if it shows a problem.

What COMMAND sees inside the guest:
  /                  the machine's root over 9p, read-only (cwd = caller's cwd)
  /proc /sys /dev    the guest's own (devtmpfs, devpts, /dev/shm)
  /tmp /run /var/tmp tmpfs (the machine's /tmp is NOT visible, except this
                     checkout when it is under one of them: a clone in /tmp
                     is shared on its own, read-only, at its path)
  /sys/kernel/debug  debugfs;  /sys/kernel/tracing: tracefs
  /lib/modules/VER   the booted kernel's modules (writable overlay on tmpfs):
                     'modprobe kvm_amd' gives /dev/kvm, 'rmmod kvm_amd kvm'
                     works, 'modprobe configfs; modprobe null_blk' too.
                     kvm/kvm_amd are NOT loaded by the lab: tests decide.
  /dev/vda           a scratch ${LAB_DISK_SIZE} raw virtio disk (O_DIRECT works)
  $LAB_GUEST_OUT       --out HOSTDIR, read-write (only with --out)
  env: PATH HOME=/root TERM=dumb LAB_KVER=<version> KVMIO_LAB=1
       LAB_KERNEL_DIR=<kernel cache dir> LAB_VMLINUZ=<its bzImage>
       LAB_VMLINUX=<its PVH vmlinux, boots faster nested> LAB_DISK=/dev/vda
       LAB_SH=<this script> [LAB_OUT=$LAB_GUEST_OUT] LANG=C.UTF-8

Environment (machine side):
  LAB_CACHE   cache directory (default <repo>/.cache/lab; not under /tmp
              unless under this checkout)
  KDIR        kernel headers used to pick the default version
  LAB_KVER    default kernel version (set inside the guest, too)
  LAB_QEMU    QEMU binary (default qemu-system-x86_64)
  LAB_CPU     -cpu model (default $LAB_CPU)
  LAB_ACCEL   -accel option (default $LAB_ACCEL)
  LAB_QEMU_ARGS  more QEMU options, split at spaces (make bench's
              --icount: "-icount shift=0,sleep=on")
  LAB_APPEND  extra kernel command line
  LAB_SYMDUMP 0: no background copy of /proc/kallsyms for the hang report
              (its reread after each module load or unload is CPU time
              that make bench --icount would count as the tools')
  LAB_PRINTK  console loglevel once booted (default 5: warnings and worse
              reach the serial console log)
  LAB_9P_CACHE  9p cache mode of the read-only root (default loose)
  LAB_DISK_SIZE size of /dev/vda (default 256M)
  LAB_DMESG_IGNORE  extra regex of dmesg lines to accept
  LAB_KEEP=1  keep the per-run directory (console log, disk) under LAB_CACHE/runs
  LAB_BOOT=bzimage  boot DIR/vmlinuz instead of the PVH vmlinux (2 s slower)
  LAB_SUITE, LAB_FLAVOUR  defaults of --suite and --flavour (amd64, rt-amd64,
              cloud-amd64)
  LAB_APT_MIRROR, LAB_APT_SECURITY_MIRROR  archive URIs for --suite (default:
              those of this machine's apt sources)
  LAB_BUSYBOX static busybox for the initramfs (default /bin/busybox)
Files: LAB_CACHE/last-dmesg.log (kernel log of the last run without --log),
  LAB_CACHE/last-console.log (its serial console), LAB_CACHE/kernels/VERSION,
  LAB_CACHE/initrd/VERSION.cpio.gz, LAB_CACHE/debs/ (hand-provided .debs).
EOF
}

# ---------------------------------------------------------------- helpers

now_ns() {
	date +%s%N
}

# fmt_secs NS -> "1.23"
fmt_secs() {
	local ns=$1
	printf '%d.%02d' $((ns / 1000000000)) $((ns % 1000000000 / 10000000))
}

need_tool() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || die "'$t' not found; install it (see selftests/lab/README.md)"
	done
}

# Refuse paths the guest cannot see as they are (tmpfs over them) or that the
# kernel command line / guest shell scripts cannot carry.
check_cache_path() {
	case $LAB_CACHE in
	/*) ;;
	*) die "LAB_CACHE must be an absolute path (got '$LAB_CACHE')" ;;
	esac
	if [[ $LAB_CACHE =~ [[:space:]\'\"\\] ]]; then
		die "LAB_CACHE must not contain spaces or quotes (got '$LAB_CACHE')"
	fi
	if guest_hidden "$LAB_CACHE"; then
		die "LAB_CACHE=$LAB_CACHE is under a directory the guest covers with its own mount (/tmp, /run, /var/tmp, /dev, /proc, /sys); use a path elsewhere"
	fi
}

# guest_hidden PATH: true if PATH is under a mount point the guest replaces.
# A checkout there (a clone in /tmp) is shared on its own (LAB_REPO_SHARE)
# and mounted again at its path inside the guest: what is under it is seen.
guest_hidden() {
	local p
	if [[ -n ${LAB_REPO_SHARE:-} && ($1 == "$LAB_REPO_SHARE" || $1 == "$LAB_REPO_SHARE"/*) ]]; then
		return 1
	fi
	for p in /tmp /run /var/tmp /dev /proc /sys /lib/modules /usr/lib/modules; do
		if [[ $1 == "$p" || $1 == "$p"/* ]]; then
			return 0
		fi
	done
	return 1
}

# A checkout under /tmp, /var/tmp or /run (a fresh clone in /tmp): shared
# with the guest as it is, read-only like the rest of the machine's root.
case $LAB_REPO in
/tmp/* | /var/tmp/* | /run/*)
	[[ $LAB_REPO =~ [[:space:],\'\"\\] ]] || LAB_REPO_SHARE=$LAB_REPO ;;
esac

lab_lock() {
	mkdir -p "$LAB_CACHE" || die "cannot create cache directory $LAB_CACHE"
	exec 9>"$LAB_CACHE/.lock" || die "cannot open $LAB_CACHE/.lock"
	flock 9 || die "cannot lock $LAB_CACHE/.lock"
}

lab_unlock() {
	exec 9>&-
}

# ---------------------------------------------------------------- versions

# default_kver: $LAB_KVER, else the release of the headers at $KDIR.
default_kver() {
	if [[ -n ${LAB_KVER:-} ]]; then
		printf '%s\n' "$LAB_KVER"
		return
	fi
	local kdir=${KDIR:-} c
	if [[ -z $kdir ]]; then
		local cands=()
		for c in /lib/modules/*/build; do
			[[ -d $c ]] && cands+=("$c")
		done
		((${#cands[@]})) || die "no kernel headers found (no /lib/modules/*/build); install linux-headers-amd64, set KDIR, or pass a VERSION"
		kdir=$(printf '%s\n' "${cands[@]}" | sort -V | tail -n 1)
	fi
	[[ -d $kdir ]] || die "KDIR=$kdir is not a directory"
	# Debian's headers say the upstream version (6.1.192) in kernel.release,
	# not the ABI name (6.1.0-56-amd64): prefer the directory names.
	if [[ $kdir =~ /lib/modules/([^/]+)/build/?$ ]]; then
		printf '%s\n' "${BASH_REMATCH[1]}"
	elif [[ $(readlink -f -- "$kdir") =~ /linux-headers-([^/]+)$ ]]; then
		printf '%s\n' "${BASH_REMATCH[1]}"
	elif [[ -r $kdir/include/config/kernel.release ]]; then
		head -n 1 "$kdir/include/config/kernel.release"
	else
		die "cannot tell the kernel release of KDIR=$kdir (no include/config/kernel.release); pass a VERSION"
	fi
}

check_kver() {
	[[ $1 =~ ^[A-Za-z0-9._+~-]+$ ]] || die "bad kernel version '$1'"
}

# ---------------------------------------------------------------- apt

APT_OPTS=()

# apt_mirror KIND: the URI this machine's apt sources use for Debian's main
# archive (KIND=main) or its security archive (KIND=security).
apt_mirror() {
	local kind=$1 codename=
	if [[ -r /etc/os-release ]]; then
		# shellcheck disable=SC1091 # the machine's file
		codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
	fi
	[[ -n $codename ]] || return 0
	local want=$codename
	[[ $kind == security ]] && want=$codename-security
	{
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true
		echo
		{ grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list || true; } |
			sed -E 's/\[[^]]*\]//' |
			awk '{ print "URIs: " $2; print "Suites: " $3; print "" }'
	} | awk -v want="$want" '
		function check() { if (uri != "" && ok && found == "") found = uri; uri = ""; ok = 0 }
		/^[[:space:]]*$/ { check(); next }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) ok = 1 }
		END { check(); if (found != "") print found }
	'
}

# apt_setup SUITE: private apt configuration for SUITE (lists kept in the cache).
apt_setup() {
	local suite=$1
	APT_OPTS=()
	[[ -z $suite ]] && return 0
	[[ $suite =~ ^[a-z0-9-]+$ ]] || die "bad suite name '$suite'"
	local main sec d=$LAB_CACHE/apt/$suite
	main=${LAB_APT_MIRROR:-$(apt_mirror main)}
	sec=${LAB_APT_SECURITY_MIRROR:-$(apt_mirror security)}
	[[ -n $main ]] || die "cannot find this machine's Debian mirror in /etc/apt/sources*; set LAB_APT_MIRROR"
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/parts"
	{
		printf 'deb %s %s main\n' "$main" "$suite"
		if [[ -n $sec && $suite != sid && $suite != unstable && $suite != experimental ]]; then
			printf 'deb %s %s-security main\n' "$sec" "$suite"
		fi
	} >"$d/sources.list"
	APT_OPTS=(-o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/parts"
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
	# A mirror serving a frozen snapshot has Release files past their
	# Valid-Until (sid's lasts a week): once seen, accept them (noted).
	if [[ -f $d/snapshot ]]; then
		APT_OPTS+=(-o Acquire::Check-Valid-Until=false)
	fi
	# Refresh the suite's lists when missing or older than a day.
	if [[ -z $(find "$d/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1) ]]; then
		note "apt-get update for suite $suite"
		if ! apt-get -q "${APT_OPTS[@]}" update >"$d/update.log" 2>&1 ||
			grep -q '^E:' "$d/update.log"; then
			grep -q 'is expired' "$d/update.log" && [[ ! -f $d/snapshot ]] ||
				die "apt-get update for suite $suite failed, see $d/update.log"
			note "suite $suite: the mirror's Release file is expired; using it anyway (Check-Valid-Until=false)"
			: >"$d/snapshot"
			APT_OPTS+=(-o Acquire::Check-Valid-Until=false)
			apt-get -q "${APT_OPTS[@]}" update >"$d/update.log" 2>&1 ||
				die "apt-get update for suite $suite failed, see $d/update.log"
		fi
	fi
}

# suite_kver: the kernel version linux-image-$LAB_FLAVOUR points to in the suite.
suite_kver() {
	local v
	v=$(apt-cache "${APT_OPTS[@]}" depends "linux-image-$LAB_FLAVOUR" 2>/dev/null |
		sed -nE 's/^ *Depends: linux-(image|binary)-([0-9][^ ]*)$/\2/p' | sed -E 's/-unsigned$//' | head -n 1)
	[[ -n $v ]] || die "cannot find linux-image-$LAB_FLAVOUR in suite ${LAB_SUITE:-(system)}"
	printf '%s\n' "$v"
}

# fetch_debs VER DIR: put the .deb files holding VER's vmlinuz and modules in DIR.
fetch_debs() {
	local ver=$1 dir=$2 p f
	local debdir=$LAB_CACHE/debs
	# 1. .deb files provided by hand
	for p in "linux-image-$ver" "linux-image-$ver-unsigned" "linux-binary-$ver" "linux-modules-$ver"; do
		for f in "$debdir/${p}_"*.deb; do
			[[ -f $f ]] && cp -- "$f" "$dir/"
		done
	done
	if compgen -G "$dir/*.deb" >/dev/null; then
		note "using .deb files from $debdir"
		return 0
	fi
	# 2. apt-get download (never installs)
	local apt_user=()
	[[ $(id -u) == 0 ]] && apt_user=(-o APT::Sandbox::User=root)
	local try
	for try in 1 2; do
		for p in "linux-image-$ver" "linux-image-$ver-unsigned"; do
			if (cd "$dir" && apt-get -q "${APT_OPTS[@]}" "${apt_user[@]}" download "$p") >"$dir/apt.log" 2>&1; then
				# sid's linux-image-VER is only a metapackage now
				# (no grep -q: with pipefail, dpkg-deb would die of SIGPIPE)
				if dpkg-deb -c "$dir/${p}_"*.deb 2>/dev/null | grep "/modules/$ver/kernel/" >/dev/null; then
					return 0
				fi
				rm -f -- "$dir/${p}_"*.deb
			fi
		done
		# sid since 7.x: linux-binary-VER (vmlinuz) + linux-modules-VER
		# (+ linux-base-VER, which holds the config, when there is one)
		if (cd "$dir" && apt-get -q "${APT_OPTS[@]}" "${apt_user[@]}" download "linux-binary-$ver" "linux-modules-$ver") >"$dir/apt.log" 2>&1; then
			(cd "$dir" && apt-get -q "${APT_OPTS[@]}" "${apt_user[@]}" download "linux-base-$ver") >>"$dir/apt.log" 2>&1 || true
			return 0
		fi
		# The machine's package lists may be missing or old: refresh once.
		[[ $try == 1 && ${#APT_OPTS[@]} == 0 && $(id -u) == 0 ]] || break
		note "kernel $ver not in the package lists: apt-get update"
		apt-get -q update >"$dir/update.log" 2>&1 || break
	done
	sed 's/^/  apt: /' "$dir/apt.log" >&2 || true
	die "cannot download a kernel package for $ver (tried linux-image-$ver, linux-image-$ver-unsigned, linux-binary-$ver); try --suite SUITE or drop the .deb files into $debdir"
}

# ---------------------------------------------------------------- kernel

# decompress_modules DIR: busybox insmod cannot load compressed modules.
decompress_modules() {
	local dir=$1 jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	if [[ -n $(find "$dir" -name '*.ko.xz' -print -quit) ]]; then
		need_tool xz
		find "$dir" -name '*.ko.xz' -print0 | xargs -0 -r -n 32 -P "$jobs" xz -d -q
	fi
	if [[ -n $(find "$dir" -name '*.ko.zst' -print -quit) ]]; then
		need_tool zstd
		find "$dir" -name '*.ko.zst' -print0 | xargs -0 -r -n 32 -P "$jobs" zstd -d -q --rm
	fi
	if [[ -n $(find "$dir" -name '*.ko.gz' -print -quit) ]]; then
		find "$dir" -name '*.ko.gz' -print0 | xargs -0 -r -n 32 -P "$jobs" gzip -d -q
	fi
}

# extract_vmlinux BZIMAGE OUT: the uncompressed ELF kernel.  QEMU boots it
# through its PVH entry point, which skips the real-mode setup and the
# decompressor: about 2 s less per boot under TCG.
extract_vmlinux() {
	local img=$1 out=$2 magic tool off
	for magic in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
		tool=${magic%%:*}
		command -v "$tool" >/dev/null 2>&1 || continue
		while read -r off; do
			tail -c "+$((off + 1))" "$img" | "$tool" -dc 2>/dev/null >"$out.tmp" || true
			if [[ $(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; then
				mv -f -- "$out.tmp" "$out"
				return 0
			fi
		done < <(LC_ALL=C grep -obUaP "${magic#*:}" "$img" 2>/dev/null | cut -d: -f1)
	done
	rm -f -- "$out.tmp"
	return 1
}

# kernel_from_stamp ROOT VER: what identifies a local kernel tree's contents.
kernel_from_stamp() {
	local root=$1 ver=$2
	[[ -f $root/boot/vmlinuz-$ver && -d $root/lib/modules/$ver ]] ||
		die "--from $root: no boot/vmlinuz-$ver and lib/modules/$ver there"
	printf 'format %s\nfrom %s\n' "$LAB_FORMAT" "$root"
	(cd -- "$root" && find boot lib -type f -printf '%P %s %T@\n' | LC_ALL=C sort) | sha256sum
}

# kernel_ready DIR: true if DIR is a prepared kernel (of KERNEL_FROM's tree
# as it is now, when set).
kernel_ready() {
	[[ -f $1/.lab-ready && $(<"$1/.lab-ready") == "$LAB_FORMAT" ]] || return 1
	# (kbuild's `make -C KDIR M=<checkout> clean` deletes every *.ko under
	# the checkout, this cache's modules too: unpack again then)
	[[ -n $(find "$1/root/lib/modules" -name '*.ko*' -print -quit 2>/dev/null) ]] || return 1
	[[ -z $KERNEL_FROM ]] && return 0
	[[ -f $1/.lab-from && $(<"$1/.lab-from") == "$KERNEL_FROM_STAMP" ]]
}

# kernel_ensure VER: sets KERNEL_DIR to the unpacked, depmod-ed kernel.
# With KERNEL_FROM=ROOT (kernel --from), the kernel is copied from ROOT.
KERNEL_DIR='' KERNEL_FROM='' KERNEL_FROM_STAMP=''
kernel_ensure() {
	local ver=$1
	check_kver "$ver"
	local dir=$LAB_CACHE/kernels/$ver
	KERNEL_DIR=$dir
	if [[ -n $KERNEL_FROM ]]; then
		KERNEL_FROM_STAMP=$(kernel_from_stamp "$KERNEL_FROM" "$ver") || exit "$EX_LAB"
	fi
	if kernel_ready "$dir"; then
		return 0
	fi
	check_cache_path
	need_tool depmod
	[[ -n $KERNEL_FROM ]] || need_tool dpkg apt-get
	lab_lock
	if kernel_ready "$dir"; then
		lab_unlock
		return 0
	fi
	local t0 tmp root
	t0=$(now_ns)
	mkdir -p "$LAB_CACHE/kernels"
	tmp=$(mktemp -d "$LAB_CACHE/kernels/.tmp.$ver.XXXXXX")
	chmod 755 "$tmp"
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf -- '$tmp'" EXIT
	root=$tmp/root
	mkdir -p "$root"
	if [[ -n $KERNEL_FROM ]]; then
		note "copying kernel $ver from $KERNEL_FROM"
		cp -a -- "$KERNEL_FROM/boot" "$KERNEL_FROM/lib" "$root/" || die "cannot copy $KERNEL_FROM"
		echo "$KERNEL_FROM_STAMP" >"$tmp/.lab-from"
	else
		apt_setup "$LAB_SUITE"
		note "fetching kernel $ver"
		fetch_debs "$ver" "$tmp"
		local deb
		for deb in "$tmp"/*.deb; do
			note "unpacking ${deb##*/}"
			dpkg -x "$deb" "$root" || die "dpkg -x $deb failed"
		done
	fi
	# Normalise to ROOT/lib/modules/VER (merged-/usr packages use usr/lib).
	if [[ ! -d $root/lib/modules/$ver && -d $root/usr/lib/modules/$ver ]]; then
		if [[ -L $root/lib || ! -e $root/lib ]]; then
			rm -f "$root/lib"
			ln -s usr/lib "$root/lib"
		else
			mkdir -p "$root/lib/modules"
			mv "$root/usr/lib/modules/$ver" "$root/lib/modules/"
		fi
	fi
	[[ -d $root/lib/modules/$ver/kernel ]] || die "no modules for $ver in ${KERNEL_FROM:-the downloaded packages}"
	local vmlinuz=
	for f in "boot/vmlinuz-$ver" "lib/modules/$ver/vmlinuz" "usr/lib/modules/$ver/vmlinuz"; do
		if [[ -f $root/$f ]]; then
			vmlinuz=$f
			break
		fi
	done
	[[ -n $vmlinuz ]] || die "no vmlinuz for $ver in the downloaded packages"
	decompress_modules "$root/lib/modules/$ver/"
	# The headers on the machine (if any) for builds inside the guest.
	[[ -e $root/lib/modules/$ver/build ]] || ln -s "/usr/src/linux-headers-$ver" "$root/lib/modules/$ver/build"
	depmod -b "$root" "$ver" || die "depmod -b $root $ver failed"
	rm -f "$tmp"/*.deb "$tmp/apt.log"
	ln -s "root/$vmlinuz" "$tmp/vmlinuz"
	for f in "boot/config-$ver" "lib/modules/$ver/config"; do
		if [[ -f $root/$f ]]; then
			ln -s "root/$f" "$tmp/config"
			break
		fi
	done
	ln -s "root/lib/modules/$ver" "$tmp/modules"
	# PVH needs CONFIG_PVH (an ELF note); else boot the bzImage.  A KASAN
	# kernel entered through PVH touches its shadow before mapping it and
	# triple-faults (6.1 debug kernel, scripts/debug-kernel): bzImage too.
	if grep -qs '^CONFIG_PVH=y' "$tmp/config" && ! grep -qs '^CONFIG_KASAN=y' "$tmp/config" &&
		extract_vmlinux "$tmp/vmlinuz" "$tmp/vmlinux"; then
		:
	else
		note "no PVH-bootable vmlinux for $ver: booting the bzImage (slower)"
	fi
	rm -rf -- "$dir"
	mv -- "$tmp" "$dir"
	trap - EXIT
	echo "$LAB_FORMAT" >"$dir/.lab-ready"
	lab_unlock
	note "kernel $ver ready in $(fmt_secs $(($(now_ns) - t0))) s"
}

# boot_image: what -kernel gets (LAB_BOOT=bzimage forces the bzImage).
boot_image() {
	if [[ ${LAB_BOOT:-pvh} != bzimage && -f $KERNEL_DIR/vmlinux ]]; then
		printf '%s\n' "$KERNEL_DIR/vmlinux"
	else
		printf '%s\n' "$KERNEL_DIR/vmlinuz"
	fi
}

# The module tree of a prepared kernel.
kernel_moddir() {
	printf '%s/root/lib/modules/%s\n' "$KERNEL_DIR" "$1"
}

cmd_kernel() {
	local ver=
	while (($#)); do
		case $1 in
		--suite) LAB_SUITE=${2:?--suite needs a value}; shift 2 ;;
		--flavour) LAB_FLAVOUR=${2:?--flavour needs a value}; shift 2 ;;
		--from) KERNEL_FROM=${2:?--from needs a directory}; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		-*) die "kernel: unknown option $1" ;;
		*) ver=$1; shift ;;
		esac
	done
	if [[ -n $KERNEL_FROM ]]; then
		[[ -n $ver ]] || die "kernel --from needs the VERSION too"
		[[ -d $KERNEL_FROM ]] || die "--from $KERNEL_FROM: no such directory"
		KERNEL_FROM=$(cd -- "$KERNEL_FROM" && pwd -P)
	fi
	ver=$(resolve_kver "$ver")
	kernel_ensure "$ver"
	printf '%s\n' "$KERNEL_DIR"
}

# resolve_kver [VER]: VER, else the suite's current kernel (with --suite), else
# the default.
resolve_kver() {
	if [[ -n $1 ]]; then
		printf '%s\n' "$1"
	elif [[ -n $LAB_SUITE ]]; then
		check_cache_path
		apt_setup "$LAB_SUITE"
		suite_kver
	else
		default_kver
	fi
}

# ---------------------------------------------------------------- initramfs

# module_files VER MODDIR MODULE...: the .ko files to insmod, in load order.
module_files() {
	local ver=$1 moddir=$2 out
	shift 2
	local base=${moddir%/lib/modules/"$ver"}
	out=$(modprobe -d "$base" -S "$ver" --show-depends -a "$@" 2>&1) ||
		die "cannot resolve modules '$*' for $ver: $out"
	printf '%s\n' "$out" | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# stage_busybox DIR: busybox and its applet links.
stage_busybox() {
	local stage=$1
	[[ -x $LAB_BUSYBOX ]] || die "$LAB_BUSYBOX not found: apt-get install busybox-static"
	if ldd "$LAB_BUSYBOX" >/dev/null 2>&1; then
		die "$LAB_BUSYBOX is dynamically linked: apt-get install busybox-static (or set LAB_BUSYBOX)"
	fi
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,lib/modules}
	# The applet links are made by /init (busybox --install -s): faster.
	cp -- "$LAB_BUSYBOX" "$stage/bin/busybox"
	ln -s busybox "$stage/bin/sh"
	if [[ $(id -u) == 0 ]]; then
		mknod -m 600 "$stage/dev/console" c 5 1
	fi
}

# stage_modules STAGE VER MODDIR MODULE...: copy the modules and write
# STAGE/etc/lab-modules (load order).
stage_modules() {
	local stage=$1 ver=$2 moddir=$3 f
	shift 3
	: >"$stage/etc/lab-modules"
	while read -r f; do
		[[ -n $f ]] || continue
		cp -- "$f" "$stage/lib/modules/"
		printf '%s\n' "${f##*/}" >>"$stage/etc/lab-modules"
	done < <(module_files "$ver" "$moddir" "$@")
}

# pack_cpio STAGE OUT: gzip-ed newc archive.
pack_cpio() {
	local stage=$1 out=$2
	need_tool cpio gzip
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --quiet | gzip -1 -n) >"$out.tmp" ||
		die "cannot write $out"
	mv -f -- "$out.tmp" "$out"
}

# The outer guest's /init.  Runs under busybox sh.
guest_init() {
	cat <<'EOF'
#!/bin/busybox sh
# lab guest /init, generated by selftests/lab/lab.sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

mode=run token=none rundir= cache9p=loose symdump=
for a in $(cat /proc/cmdline); do
	case $a in
	lab.mode=*) mode=${a#*=} ;;
	lab.token=*) token=${a#*=} ;;
	lab.run=*) rundir=${a#*=} ;;
	lab.9pcache=*) cache9p=${a#*=} ;;
	esac
done
if [ "$mode" = run ]; then
	out=/dev/ttyS1
	stty -F "$out" raw -echo 2>/dev/null
else
	out=/dev/console
fi

say() { echo "$*" >"$out"; }
finish() {
	if [ "$mode" = run ]; then
		# The kernel log goes through the run directory share (9p is
		# much faster than the serial line); the serial line is the
		# fallback.
		say "@@LAB-TAINT-$token $(cat /proc/sys/kernel/tainted)"
		if [ -d /labrun/ok ] && dmesg >/labrun/dmesg.log; then
			say "@@LAB-DMESG-FILE-$token"
		else
			say "@@LAB-DMESG-BEGIN-$token"
			dmesg >"$out"
			say "@@LAB-DMESG-END-$token"
		fi
	fi
	[ -n "$symdump" ] && kill "$symdump" 2>/dev/null
	umount /host/run/lab-out /labrun 2>/dev/null
	sync
	poweroff -f
	sleep 60
}
bail() {
	say "@@LAB-FAIL-$token $*"
	finish
}

while read -r m; do
	insmod "/lib/modules/$m" || bail "insmod $m failed"
done </etc/lab-modules
mkdir -p /labrun
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labrun /labrun && mkdir -p /labrun/ok
# Module autoloading (request_module) from the chroot's tools.
echo /sbin/lab-modprobe >/proc/sys/kernel/modprobe

mkdir -p /host
mount -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=512000,cache=$cache9p" hostroot /host ||
	bail "cannot mount the machine's root (9p hostroot)"
[ -r "/host$rundir/guest.conf" ] || bail "cannot read /host$rundir/guest.conf"
. "/host$rundir/guest.conf"

mount -t proc proc /host/proc || bail "mount /proc"
mount -t sysfs sysfs /host/sys || bail "mount /sys"
mount -t devtmpfs devtmpfs /host/dev || bail "mount /dev"
mkdir -p /host/dev/pts /host/dev/shm
ln -sf /proc/self/fd /host/dev/fd
ln -sf /proc/self/fd/0 /host/dev/stdin
ln -sf /proc/self/fd/1 /host/dev/stdout
ln -sf /proc/self/fd/2 /host/dev/stderr
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /host/tmp || bail "mount /tmp"
mount -t tmpfs -o mode=755 tmpfs /host/run || bail "mount /run"
[ -d /host/var/tmp ] && mount -t tmpfs -o mode=1777 tmpfs /host/var/tmp
# a checkout under one of them (lab.sh: LAB_REPO_SHARE), back at its path
if [ -n "$LAB_REPO_SHARE" ]; then
	mkdir -p "/host$LAB_REPO_SHARE"
	mount -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=512000,cache=$cache9p" labrepo "/host$LAB_REPO_SHARE" ||
		bail "cannot mount the checkout $LAB_REPO_SHARE (9p labrepo)"
fi
mount -t debugfs debugfs /host/sys/kernel/debug || bail "mount debugfs"
mount -t tracefs tracefs /host/sys/kernel/tracing || bail "mount tracefs"
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup 2>/dev/null

# The booted kernel's module tree at /lib/modules/VER (paths resolved inside
# the chroot: /lib is a symlink there).
mkdir -p /host/run/lab/ovl/upper /host/run/lab/ovl/work
cp /bin/busybox /host/run/lab/busybox
bb="chroot /host /run/lab/busybox"
$bb mount -t tmpfs -o mode=755 lab-modules /lib/modules || bail "mount tmpfs on /lib/modules"
$bb mkdir -p "/lib/modules/$LAB_KVER"
$bb mount -t overlay -o "lowerdir=$LAB_MODDIR,upperdir=/run/lab/ovl/upper,workdir=/run/lab/ovl/work" \
	lab-modules "/lib/modules/$LAB_KVER" 2>/dev/null ||
	$bb mount --bind "$LAB_MODDIR" "/lib/modules/$LAB_KVER" ||
	bail "cannot mount $LAB_MODDIR on /lib/modules/$LAB_KVER"

if [ "$LAB_OUT_SHARE" = 1 ]; then
	mkdir -p /host/run/lab-out
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labout /host/run/lab-out ||
		bail "cannot mount the --out directory (9p labout)"
fi
hostname lab
ip link set lo up 2>/dev/null

echo "$LAB_PRINTK" >/proc/sys/kernel/printk

if [ "$mode" = shell ]; then
	echo "lab: kernel $(uname -r); the machine's root is at / (read-only); 'exit' powers off"
	setsid cttyhack env -i /bin/busybox chroot /host /bin/bash --noprofile --norc "$rundir/cmd.sh"
	finish
fi

# For lab.sh's report on a hung guest (hangdump.py): the core kernel's
# symbols once, the modules' (list and symbols) when they change, checked
# every few seconds, at low priority.
if [ -d /labrun/ok ] && [ "$LAB_SYMDUMP" != 0 ]; then
	(
		grep -v '\[' /proc/kallsyms >/labrun/kallsyms.tmp && mv /labrun/kallsyms.tmp /labrun/kallsyms
		while :; do
			# the modules' symbols too, each time the module list changed
			if ! cmp -s /proc/modules /labrun/modules; then
				cat /proc/modules >/labrun/modules.tmp && mv /labrun/modules.tmp /labrun/modules
				grep '\[' /proc/kallsyms >/labrun/modsyms.tmp && mv /labrun/modsyms.tmp /labrun/modsyms
			fi
			sleep 5
		done
	) </dev/null >/dev/null 2>&1 &
	symdump=$!
	renice -n 19 -p "$symdump" >/dev/null 2>&1
fi
say "@@LAB-BEGIN-$token uptime=$(cut -d' ' -f1 /proc/uptime)"
env -i /bin/busybox chroot /host /bin/bash --noprofile --norc "$rundir/cmd.sh" </dev/null >"$out" 2>&1
rc=$?
say "@@LAB-END-$token rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
finish
EOF
}

# request_module() runs this in the initramfs root: use the chroot's modprobe.
guest_modprobe() {
	cat <<'EOF'
#!/bin/sh
exec /bin/busybox chroot /host /sbin/modprobe "$@"
EOF
}

# The nested guest's /init.
inner_init() {
	cat <<'EOF'
#!/bin/busybox sh
# lab inner guest /init, generated by selftests/lab/lab.sh inner-initrd
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin LAB_INNER=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
ln -sf /proc/self/fd /dev/fd
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
while read -r m; do
	insmod "/lib/modules/$m" || echo "lab-inner: insmod $m failed"
done </etc/lab-modules
sh /lab-script
rc=$?
echo "lab-inner: rc=$rc"
sync
poweroff -f
sleep 60
EOF
}

# initrd_ensure VER: sets INITRD to the (cached) outer initramfs.
INITRD=
initrd_ensure() {
	local ver=$1 moddir sum
	moddir=$(kernel_moddir "$ver")
	INITRD=$LAB_CACHE/initrd/$ver.cpio.gz
	sum=$({
		echo "format $LAB_FORMAT"
		guest_init
		guest_modprobe
		sha256sum "$LAB_BUSYBOX"
		module_files "$ver" "$moddir" "${LAB_INITRD_MODULES[@]}" | xargs -r stat -c '%n %s %Y'
	} | sha256sum | cut -d' ' -f1)
	if [[ -f $INITRD && -f $INITRD.sum && $(<"$INITRD.sum") == "$sum" ]]; then
		return 0
	fi
	lab_lock
	if [[ -f $INITRD && -f $INITRD.sum && $(<"$INITRD.sum") == "$sum" ]]; then
		lab_unlock
		return 0
	fi
	local stage
	mkdir -p "$LAB_CACHE/initrd"
	stage=$(mktemp -d "$LAB_CACHE/initrd/.stage.XXXXXX")
	# shellcheck disable=SC2064 # expand now: stage is local
	trap "rm -rf -- '$stage'" EXIT
	stage_busybox "$stage"
	stage_modules "$stage" "$ver" "$moddir" "${LAB_INITRD_MODULES[@]}"
	guest_init >"$stage/init"
	guest_modprobe >"$stage/sbin/lab-modprobe"
	chmod 755 "$stage/init" "$stage/sbin/lab-modprobe"
	pack_cpio "$stage" "$INITRD"
	echo "$sum" >"$INITRD.sum"
	rm -rf -- "$stage"
	trap - EXIT
	lab_unlock
	note "built initramfs $INITRD"
}

cmd_inner_initrd() {
	local ver='' mods=("${LAB_INNER_MODULES[@]}") files=()
	while (($#)); do
		case $1 in
		--kernel) ver=${2:?--kernel needs a value}; shift 2 ;;
		--module) mods+=("${2:?--module needs a value}"); shift 2 ;;
		--file) files+=("${2:?--file needs SRC:DST}"); shift 2 ;;
		-h | --help) usage; exit 0 ;;
		--) shift; break ;;
		-*) die "inner-initrd: unknown option $1" ;;
		*) break ;;
		esac
	done
	(($# == 2)) || die "usage: lab.sh inner-initrd [--kernel VERSION] [--module NAME]... [--file SRC:/DST]... OUT.gz SCRIPT"
	local out=$1 script=$2
	[[ -r $script ]] || die "inner-initrd: cannot read SCRIPT $script"
	ver=$(resolve_kver "$ver")
	kernel_ensure "$ver"
	local stage
	stage=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: stage is local
	trap "rm -rf -- '$stage'" EXIT
	stage_busybox "$stage"
	stage_modules "$stage" "$ver" "$(kernel_moddir "$ver")" "${mods[@]}"
	inner_init >"$stage/init"
	cp -- "$script" "$stage/lab-script"
	chmod 755 "$stage/init" "$stage/lab-script"
	local f
	for f in "${files[@]}"; do
		[[ $f == *:/* && -r ${f%%:*} ]] || die "inner-initrd: --file wants a readable SRC:/DST, got $f"
		mkdir -p -- "$stage/$(dirname -- "${f#*:}")"
		cp -- "${f%%:*}" "$stage/${f#*:}"
	done
	pack_cpio "$stage" "$out"
	rm -rf -- "$stage"
	trap - EXIT
	note "inner initramfs $out for $ver (modules: $(tr '\n' ' ' <<<"$(module_files "$ver" "$(kernel_moddir "$ver")" "${mods[@]}" | sed 's|.*/||')"))"
}

# ---------------------------------------------------------------- log scan

# scan_log FILE: print the problems found in a kernel log; false if any.
scan_log() {
	local file=$1 benign=$LAB_DMESG_BENIGN lines ours
	[[ -n $LAB_DMESG_IGNORE ]] && benign="$benign|$LAB_DMESG_IGNORE"
	# not the task dump hangdump.py's SysRq-t asked for: its Call Traces
	# (the lines stamped up to 10 s after its header)
	ours=$(mawk '{ ts = -1 } match($0, /\[ *[0-9]+\.[0-9]+\]/) { ts = substr($0, RSTART + 1, RLENGTH - 2) + 0 }
		/sysrq: Show State/ && ts >= 0 { until = ts + 10 }
		ts >= 0 && until && ts <= until { print NR }' "$file")
	lines=$(grep -naE -- "$LAB_DMESG_BAD" "$file" | grep -vaE -- "$benign" | cut -d: -f1 |
		grep -vxF -f <(printf '%s\n' "$ours") || true)
	[[ -z $lines ]] && return 0
	local n
	n=$(wc -l <<<"$lines")
	printf 'lab: FAIL: the kernel log %s has %d problem line(s):\n' "$file" "$n"
	# Matched lines and context (5 before, 20 after), at most 200 lines.
	awk -v lines="$(tr '\n' ' ' <<<"$lines")" '
		BEGIN { n = split(lines, l, " "); for (i = 1; i <= n; i++) { hit[l[i]] = 1
			for (j = l[i] - 5; j <= l[i] + 20; j++) show[j] = 1 } }
		show[NR] { if (NR != last + 1 && last) print "  ..."; last = NR
			printf "%s %s\n", (hit[NR] ? ">>" : "  "), $0; if (++out >= 200) exit }
	' "$file"
	return 1
}

cmd_check_log() {
	(($# == 1)) || die "usage: lab.sh check-log FILE"
	[[ -r $1 ]] || die "cannot read $1"
	if scan_log "$1" >&2; then
		note "no kernel problem found in $1"
		exit 0
	fi
	exit 1
}

# ---------------------------------------------------------------- run

# The filter on the guest's ttyS1: COMMAND's output to stdout, the rest to
# files.  Writes KEY=VALUE lines to the status file.
# shellcheck disable=SC2016 # awk program
LAB_FILTER='
BEGIN { state = 0; begun = 0; ended = 0; dmesg = 0; rc = ""; taint = ""; fail = ""
	mb = "@@LAB-BEGIN-" tok; me = "@@LAB-END-" tok; mf = "@@LAB-FAIL-" tok
	mt = "@@LAB-TAINT-" tok; mdb = "@@LAB-DMESG-BEGIN-" tok; mde = "@@LAB-DMESG-END-" tok
	mdf = "@@LAB-DMESG-FILE-" tok }
function field(s, key,   i, r) { i = index(s, key "="); if (!i) return ""
	r = substr(s, i + length(key) + 1); sub(/ .*/, "", r); return r }
function stamp(   t) { "date +%s%N" | getline t; close("date +%s%N"); return t }
{ sub(/\r$/, "") }
(i = index($0, mf)) { fail = substr($0, i + length(mf) + 1); next }
state == 0 {
	if (i = index($0, mb)) { begun = 1; tb = stamp(); up0 = field($0, "uptime"); state = 1
		print "# lab: ==== BEGIN " tok " kernel " kver " ===="; next }
	if ($0 != "") print "lab: guest: " $0 > "/dev/stderr"
	next
}
state == 1 {
	if (i = index($0, me)) { if (i > 1) print substr($0, 1, i - 1)
		ended = 1; te = stamp(); rc = field($0, "rc"); up1 = field($0, "uptime"); state = 2
		print "# lab: ==== END " tok " rc=" rc " ===="; next }
	print; next
}
state == 2 {
	if (i = index($0, mt)) { taint = substr($0, i + length(mt) + 1); next }
	if (index($0, mdb)) { state = 3; printf "" > dlog; next }
	if (index($0, mdf)) { dmesg = 2; state = 4; next }
	next
}
state == 3 {
	if (index($0, mde)) { dmesg = 1; state = 4; close(dlog); next }
	print > dlog; next
}
END { printf "begun=%d\nended=%d\ndmesg=%d\nrc=%s\ntaint=%s\nt_begin=%s\nt_end=%s\nup_begin=%s\nup_end=%s\nfail=%s\n",
	begun, ended, dmesg, rc, taint, tb, te, up0, up1, fail > sfile }
'

# Options shared by run and shell.
RUN_KVER='' RUN_SMP=2 RUN_MEM=2048 RUN_TIMEOUT=600 RUN_OUT='' RUN_LOG='' RUN_ENV=() RUN_ARGS=()
parse_run_opts() {
	RUN_ARGS=()
	while (($#)); do
		case $1 in
		--kernel) RUN_KVER=${2:?--kernel needs a value}; shift 2 ;;
		--suite) LAB_SUITE=${2:?--suite needs a value}; shift 2 ;;
		--smp) RUN_SMP=${2:?--smp needs a value}; shift 2 ;;
		--mem) RUN_MEM=${2:?--mem needs a value}; shift 2 ;;
		--timeout) RUN_TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
		--out) RUN_OUT=${2:?--out needs a value}; shift 2 ;;
		--log) RUN_LOG=${2:?--log needs a value}; shift 2 ;;
		--env) RUN_ENV+=("${2:?--env needs NAME=VALUE}"); shift 2 ;;
		-h | --help) usage; exit 0 ;;
		--) shift; RUN_ARGS=("$@"); return 0 ;;
		-*) die "unknown option $1 (COMMAND goes after --)" ;;
		*) RUN_ARGS=("$@"); return 0 ;;
		esac
	done
}

# prepare_run MODE: checks, kernel, initramfs, run directory, QEMU command.
RUNDIR='' TOKEN='' QEMU_CMD=()
prepare_run() {
	local mode=$1 cwd e
	[[ -z ${KVMIO_LAB:-} ]] || die "already inside a lab guest (KVMIO_LAB is set): nested 'lab.sh $mode' is not supported"
	[[ $RUN_SMP =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer"
	[[ $RUN_MEM =~ ^[1-9][0-9]*$ ]] || die "--mem must be a positive integer (MiB)"
	[[ $RUN_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer (seconds)"
	for e in "${RUN_ENV[@]}"; do
		[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE (got '$e')"
	done
	need_tool "$LAB_QEMU" timeout flock mawk
	check_cache_path
	cwd=$(pwd -P)
	if guest_hidden "$cwd"; then
		die "the current directory $cwd is under /tmp, /run, /var/tmp, /dev, /proc or /sys, which the guest covers with its own mounts: run lab.sh from a directory elsewhere (e.g. the repository)"
	fi
	if [[ -n $RUN_OUT ]]; then
		mkdir -p -- "$RUN_OUT" || die "cannot create --out directory $RUN_OUT"
		RUN_OUT=$(cd -- "$RUN_OUT" && pwd -P)
		[[ $RUN_OUT != *,* ]] || die "--out path must not contain a comma (QEMU option syntax)"
	fi

	local ver
	ver=$(resolve_kver "$RUN_KVER")
	kernel_ensure "$ver"
	initrd_ensure "$ver"
	RUN_KVER=$ver

	mkdir -p "$LAB_CACHE/runs"
	# Leftovers of runs killed hard (SIGKILL) more than a day ago.
	find "$LAB_CACHE/runs" -mindepth 1 -maxdepth 1 -name 'run.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
	RUNDIR=$(mktemp -d "$LAB_CACHE/runs/run.XXXXXX")
	TOKEN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	local moddir
	moddir=$(readlink -f -- "$(kernel_moddir "$ver")")
	{
		printf "LAB_KVER='%s'\n" "$ver"
		printf "LAB_MODDIR='%s'\n" "$moddir"
		printf "LAB_OUT_SHARE=%d\n" "$([[ -n $RUN_OUT ]] && echo 1 || echo 0)"
		printf "LAB_PRINTK='%s'\n" "$LAB_PRINTK"
		printf "LAB_SYMDUMP='%s'\n" "$LAB_SYMDUMP"
		printf "LAB_REPO_SHARE='%s'\n" "$LAB_REPO_SHARE"
	} >"$RUNDIR/guest.conf"
	{
		echo '# COMMAND wrapper generated by lab.sh'
		printf 'export %s=%q\n' PATH "$LAB_GUEST_PATH" HOME /root LANG C.UTF-8 \
			LAB_KVER "$ver" KVMIO_LAB 1 LAB_KERNEL_DIR "$KERNEL_DIR" \
			LAB_VMLINUZ "$(readlink -f -- "$KERNEL_DIR/vmlinuz")" LAB_DISK /dev/vda LAB_SH "$LAB_SELF"
		[[ -f $KERNEL_DIR/vmlinux ]] && printf 'export LAB_VMLINUX=%q\n' "$KERNEL_DIR/vmlinux"
		if [[ $mode == shell ]]; then
			printf 'export TERM=%q\n' "${TERM:-vt100}"
		else
			echo 'export TERM=dumb'
		fi
		[[ -n $RUN_OUT ]] && printf 'export LAB_OUT=%q\n' "$LAB_GUEST_OUT"
		for e in "${RUN_ENV[@]}"; do
			printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
		done
		printf 'cd -- %q || { echo "lab: cannot enter %q in the guest" >&2; exit 125; }\n' "$cwd" "$cwd"
		if [[ $mode == shell ]]; then
			echo 'exec /bin/bash -i'
		else
			printf '%q ' "${RUN_ARGS[@]}"
			echo
		fi
	} >"$RUNDIR/cmd.sh"
	truncate -s "$LAB_DISK_SIZE" "$RUNDIR/disk.img" || die "cannot create the scratch disk"

	# sysrq_always_enabled: hangdump.py's SysRq-t on a hung guest
	local append="console=ttyS0 quiet loglevel=3 panic=-1 log_buf_len=4M sysrq_always_enabled"
	append+=" lab.mode=$mode lab.token=$TOKEN lab.run=$RUNDIR lab.9pcache=$LAB_9P_CACHE"
	[[ -n $LAB_APPEND ]] && append+=" $LAB_APPEND"
	# shellcheck disable=SC2054 # commas are QEMU's
	QEMU_CMD=("$LAB_QEMU" -accel "$LAB_ACCEL" -cpu "$LAB_CPU" -smp "$RUN_SMP" -m "$RUN_MEM"
		-nographic -no-reboot -nodefaults
		-kernel "$(boot_image)" -initrd "$INITRD" -append "$append"
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
		-virtfs "local,path=$RUNDIR,mount_tag=labrun,security_model=none,multidevs=remap"
		-drive "file=$RUNDIR/disk.img,if=virtio,format=raw,cache=unsafe")
	if [[ -n $LAB_QEMU_ARGS ]]; then
		local extra
		read -ra extra <<<"$LAB_QEMU_ARGS"
		QEMU_CMD+=("${extra[@]}")
	fi
	if [[ -n $RUN_OUT ]]; then
		QEMU_CMD+=(-virtfs "local,path=$RUN_OUT,mount_tag=labout,security_model=none,multidevs=remap")
	fi
	if [[ -n $LAB_REPO_SHARE ]]; then
		QEMU_CMD+=(-virtfs "local,path=$LAB_REPO_SHARE,mount_tag=labrepo,security_model=none,readonly=on,multidevs=remap")
	fi
	if [[ $mode == shell ]]; then
		QEMU_CMD+=(-serial mon:stdio)
	else
		# ttyS0: kernel console to a file; ttyS1: COMMAND's output to us
		# (about 85 KB/s under TCG; virtio-console was much slower here).
		QEMU_CMD+=(-serial "file:$RUNDIR/console.log" -serial stdio)
		# for hangdump.py, should the guest hang
		QEMU_CMD+=(-monitor "unix:$RUNDIR/mon.sock,server=on,wait=off")
	fi
}

cleanup_run() {
	if [[ -n $RUNDIR && -d $RUNDIR ]]; then
		if [[ -n ${LAB_KEEP:-} ]]; then
			note "kept $RUNDIR"
		else
			rm -rf -- "$RUNDIR"
		fi
	fi
}

# console_text: the guest's serial console without CRs and terminal escapes.
console_text() {
	[[ -r $RUNDIR/console.log ]] || return 0
	tr -d '\r' <"$RUNDIR/console.log" | sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|c)//g'
}

# show_console N: last N lines of the guest's kernel console.
show_console() {
	if [[ -s $RUNDIR/console.log ]]; then
		note "last $1 lines of the guest's serial console:"
		console_text | tail -n "$1" | sed 's/^/  | /' >&2
	fi
}

cmd_run() {
	parse_run_opts "$@"
	((${#RUN_ARGS[@]})) || die "run: missing COMMAND (usage: lab.sh run [OPTIONS] -- COMMAND [ARGS...])"
	prepare_run run
	trap cleanup_run EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	local log=${RUN_LOG:-$LAB_CACHE/last-dmesg.log}
	local status=$RUNDIR/status dlog=$RUNDIR/dmesg.log
	local t0 t1 qrc frc
	t0=$(now_ns)
	trap - ERR
	set +e
	# a few seconds before the timeout, where every vCPU is, then the
	# SysRq-t (hangdump.py: 3 s of registers, 3 s for the key)
	local dump_lead=$((RUN_TIMEOUT > 20 ? 12 : 0))
	python3 "$LAB_DIR/hangdump.py" capture "$RUNDIR/mon.sock" "$RUNDIR/hang-regs.txt" \
		$((RUN_TIMEOUT - dump_lead)) </dev/null >/dev/null 2>&1 &
	local dumper=$!
	timeout --foreground -k 5 "$RUN_TIMEOUT" "${QEMU_CMD[@]}" </dev/null 2>"$RUNDIR/qemu.err" |
		mawk -W interactive -v tok="$TOKEN" -v kver="$RUN_KVER" -v dlog="$dlog" -v sfile="$status" "$LAB_FILTER"
	local codes=("${PIPESTATUS[@]}")
	kill "$dumper" 2>/dev/null
	wait "$dumper" 2>/dev/null
	set -e
	trap 'lab_err $? $LINENO "$BASH_COMMAND"' ERR
	t1=$(now_ns)
	qrc=${codes[0]} frc=${codes[1]}
	((frc == 0)) || note "output filter failed (status $frc)"

	local begun=0 ended=0 dmesg=0 rc='' taint='' t_begin='' t_end='' up_begin='' up_end='' fail='' k v
	if [[ -r $status ]]; then
		while IFS='=' read -r k v; do
			case $k in
			begun) begun=$v ;; ended) ended=$v ;; dmesg) dmesg=$v ;; rc) rc=$v ;;
			taint) taint=$v ;; t_begin) t_begin=$v ;; t_end) t_end=$v ;;
			up_begin) up_begin=$v ;; up_end) up_end=$v ;; fail) fail=$v ;;
			esac
		done <"$status"
	fi

	# Keep a kernel log: the guest's dmesg, else its serial console.
	mkdir -p -- "$(dirname -- "$log")"
	if ((dmesg)); then
		cp -- "$dlog" "$log"
	else
		{
			echo "# lab: no dmesg from the guest; this is its serial console (loglevel $LAB_PRINTK)"
			console_text
		} >"$log"
	fi
	cp -- "$RUNDIR/console.log" "$LAB_CACHE/last-console.log" 2>/dev/null || true

	local result
	if ((qrc == 124 || qrc == 137)); then
		note "TIMEOUT: the guest did not finish within ${RUN_TIMEOUT}s (hung?); QEMU was killed"
		show_console 40
		note "where its vCPUs were just before (hangdump.py):"
		python3 "$LAB_DIR/hangdump.py" report "$RUNDIR" >&2 || true
		scan_log "$log" >&2 || true
		result=$EX_TIMEOUT
	elif [[ -n $fail ]]; then
		note "the guest's setup failed: $fail"
		show_console 40
		result=$EX_LAB
	elif ((!begun)); then
		note "the guest never started COMMAND (QEMU exit status $qrc)"
		[[ -s $RUNDIR/qemu.err ]] && sed 's/^/  qemu: /' "$RUNDIR/qemu.err" >&2
		show_console 60
		result=$EX_LAB
		grep -q 'Kernel panic' "$RUNDIR/console.log" 2>/dev/null && result=$EX_CRASH
	elif ((!ended)); then
		note "CRASH: the guest died while COMMAND was running (QEMU exit status $qrc)"
		scan_log "$log" >&2 || true
		show_console 15
		result=$EX_CRASH
	else
		result=$rc
		local bad=0
		if ((dmesg)); then
			scan_log "$log" >&2 || bad=1
		else
			note "FAIL: no dmesg received from the guest"
			bad=1
		fi
		if [[ $taint =~ ^[0-9]+$ ]] && ((taint & LAB_TAINT_BAD)); then
			note "FAIL: the kernel is tainted ($taint: warning, oops, lockup, bad page or machine check)"
			bad=1
		fi
		if ((bad)); then
			note "kernel log kept in $log"
			((result == 0)) && result=$EX_DMESG
		fi
	fi

	# The guest outlived hangdump.py's deadline and then ended: say so,
	# with what it saw (a guest that waited for an interrupt goes on
	# after the SysRq key press)
	if ((result != EX_TIMEOUT)) && [[ -s $RUNDIR/hang-regs.txt ]]; then
		note "COMMAND was still running $dump_lead s before the timeout; it ended after hangdump.py looked:"
		python3 "$LAB_DIR/hangdump.py" report "$RUNDIR" >&2 || true
	fi

	# Timing, to stderr.
	local msg="kernel $RUN_KVER, ${RUN_SMP} vCPU"
	if [[ -n $t_begin ]]; then
		msg+=": boot $(fmt_secs $((t_begin - t0))) s (guest uptime ${up_begin} s at COMMAND start)"
		[[ -n $t_end ]] && msg+=", COMMAND $(fmt_secs $((t_end - t_begin))) s (guest uptime ${up_end} s at its end)"
	fi
	msg+=", total $(fmt_secs $((t1 - t0))) s"
	note "$msg; exit status $result"
	exit "$result"
}

cmd_shell() {
	parse_run_opts "$@"
	((${#RUN_ARGS[@]} == 0)) || die "shell takes no COMMAND"
	prepare_run shell
	trap cleanup_run EXIT
	note "booting $RUN_KVER; Ctrl-a x quits QEMU"
	local rc=0
	"${QEMU_CMD[@]}" 2> >(grep -v "TCG doesn't support requested feature" >&2) || rc=$?
	exit "$rc"
}

# ---------------------------------------------------------------- main

main() {
	(($#)) || {
		usage >&2
		exit "$EX_LAB"
	}
	local sub=$1
	shift
	case $sub in
	kernel) cmd_kernel "$@" ;;
	run) cmd_run "$@" ;;
	shell) cmd_shell "$@" ;;
	inner-initrd) cmd_inner_initrd "$@" ;;
	check-log) cmd_check_log "$@" ;;
	help | -h | --help) usage ;;
	*) die "unknown command '$sub' (try: lab.sh help)" ;;
	esac
}

main "$@"
