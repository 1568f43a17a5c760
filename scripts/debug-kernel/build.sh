#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build.sh - build the kvmio_lat debug kernel: Debian's linux-source-6.1 (the
# bookworm kernel's source) with KASAN, lockdep (PROVE_LOCKING), kmemleak and
# DEBUG_ATOMIC_SLEEP, trimmed to what the lab needs (scripts/debug-kernel/
# debug.config), and hand it to the lab (selftests/lab/lab.sh kernel --from).
#
#   build.sh [--config-only]     build (or find in the cache) and print KEY=VALUE
#                                lines: release, kdir, dir, lab_dir, append
#   build.sh --print VAR         only that value
#
# append is the kernel command line the lab boots it with: preempt=full
# (Debian's voluntary model switched to full, the harder case for the
# module's locking) and acpi=noirq (under KASAN and lockdep, QEMU's ACPI
# _PRT method runs into the AML interpreter's 30 s loop timeout four times:
# two minutes of boot, or a boot that never ends; virtio uses MSI).
#
# Cached in $DEBUG_KERNEL_CACHE/<key> (default <repo>/.cache/debug-kernel), the
# key a hash of debug.config, the source package's version, the compiler and
# this script's recipe version: any change builds anew, and older builds are
# removed once the new one is done.  In <key>/:
#   obj/   the build tree (O=): KDIR for `make module KDIR=...`
#   root/  boot/vmlinuz-REL, boot/config-REL, lib/modules/REL (modules_install)
# and the source tree in $DEBUG_KERNEL_CACHE/src-<hash of the source package>.
# obj/ keeps what `make -C obj M=DIR modules` needs (headers, scripts,
# Module.symvers, .config); the kernel's own .o files are removed after the
# build (about 2 GB).
#
# Environment: DEBUG_KERNEL_CACHE, DEBUG_KERNEL_JOBS (default: nproc),
# DEBUG_KERNEL_NICE (default 10), DEBUG_KERNEL_TARBALL (default
# /usr/src/linux-source-6.1.tar.xz), LAB_CACHE (the lab's).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
frag=$here/debug.config
cache=${DEBUG_KERNEL_CACHE:-$repo/.cache/debug-kernel}
jobs=${DEBUG_KERNEL_JOBS:-$(nproc)}
nice_level=${DEBUG_KERNEL_NICE:-10}
tarball=${DEBUG_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
srcpkg=linux-source-6.1
append="preempt=full acpi=noirq"
# Bump when the way the tree is configured or built changes.
recipe=1

t_start=$SECONDS
say() { printf 'debug-kernel: %s\n' "$*" >&2; }
die() { printf 'debug-kernel: error: %s\n' "$*" >&2; exit 1; }

config_only=0 print=
while (($#)); do
	case $1 in
	--config-only) config_only=1; shift ;;
	--print) print=${2:?--print needs release, kdir, dir or lab_dir}; shift 2 ;;
	-h | --help) sed -n '3,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
case $print in '' | release | kdir | dir | lab_dir | append) ;; *) die "--print: unknown value $print" ;; esac

# ---------------------------------------------------------------- deps

"$repo/scripts/deps.sh" "$srcpkg" gcc make bc bison flex libelf-dev libssl-dev cpio xz-utils kmod ||
	die "cannot install what the build needs"
[[ -r $tarball ]] || die "$tarball missing (apt-get install $srcpkg)"

# ---------------------------------------------------------------- key

srcver=$(dpkg-query -W -f='${Version}' "$srcpkg" 2>/dev/null || true)
srckey=$(echo "source $srcpkg $srcver $(stat -c '%s %Y' "$tarball")" | sha256sum | cut -c1-16)
key=$({
	echo "recipe $recipe"
	echo "source $srckey"
	gcc --version | head -n 1
	# the settings only: comments do not change the kernel
	grep -E '^(CONFIG_|# CONFIG_[A-Za-z0-9_]+ is not set$)' "$frag"
} | sha256sum | cut -c1-16)
dir=$cache/$key
src=$cache/src-$srckey obj=$dir/obj root=$dir/root

# Paths the guest sees as they are (the lab covers /tmp, /run, ... with its own).
case $cache in
/tmp/* | /run/* | /var/tmp/* | /dev/* | /proc/* | /sys/*)
	die "DEBUG_KERNEL_CACHE=$cache is hidden inside the lab guest; use a path elsewhere" ;;
esac

report() {
	local rel lab_dir
	rel=$(<"$dir/release")
	lab_dir=$("$repo/selftests/lab/lab.sh" kernel --from "$root" "$rel")
	if [[ -n $print ]]; then
		case $print in
		release) echo "$rel" ;;
		kdir) echo "$obj" ;;
		dir) echo "$dir" ;;
		lab_dir) echo "$lab_dir" ;;
		append) echo "$append" ;;
		esac
	else
		printf 'release=%s\nkdir=%s\ndir=%s\nlab_dir=%s\nappend=%s\n' \
			"$rel" "$obj" "$dir" "$lab_dir" "$append"
	fi
}

if [[ -f $dir/.done && $config_only == 0 ]]; then
	report
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ -f $dir/.done && $config_only == 0 ]]; then
	report
	exit 0
fi

# ---------------------------------------------------------------- source

kmake() {
	nice -n "$nice_level" make -s -C "$src" O="$obj" -j"$jobs" \
		KBUILD_BUILD_USER=kvmio KBUILD_BUILD_HOST=debug-kernel "$@"
}

step_t=$SECONDS
step() {
	say "$1 ($((SECONDS - step_t)) s for the last step, $((SECONDS - t_start)) s in all)"
	step_t=$SECONDS
}

if [[ ! -f $src/.extracted ]]; then
	rm -rf -- "$src"
	mkdir -p "$src"
	step "extracting $tarball ($srcpkg $srcver) into $src"
	nice -n "$nice_level" tar -xJf "$tarball" -C "$src" --strip-components=1
	touch "$src/.extracted"
fi

# ---------------------------------------------------------------- config

# (an obj/ left by an interrupted build is kept: make resumes it)
step "configuring: x86_64_defconfig + kvm_guest.config + ${frag#"$repo"/}"
rm -rf -- "$root" "$dir/.done"
mkdir -p "$obj"
kmake x86_64_defconfig kvm_guest.config >/dev/null
(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" "$frag") >"$dir/merge.log" 2>&1 ||
	{ cat "$dir/merge.log" >&2; die "merge_config.sh failed"; }
kmake olddefconfig >/dev/null

# Every line of the fragment must have survived: a dependency that is not
# met would silently drop a detector (or keep what was to be trimmed).
bad=0
while IFS= read -r line; do
	if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
		sym=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
	elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
		sym=${BASH_REMATCH[1]} want=n
	else
		continue
	fi
	got=$(sed -n "s/^$sym=//p" "$obj/.config")
	[[ -n $got ]] || got=n
	if [[ $got != "$want" ]]; then
		say "config: $sym is ${got} in the result, debug.config wants $want"
		bad=1
	fi
done <"$frag"
((bad == 0)) || die "the configuration does not have what ${frag#"$repo"/} asks (see above)"
if ((config_only)); then
	step "configuration in $obj/.config (--config-only)"
	exit 0
fi

# ---------------------------------------------------------------- build

step "building bzImage and modules (make -j$jobs, nice $nice_level)"
kmake bzImage modules
rel=$(cat "$obj/include/config/kernel.release")

step "installing $rel into $root"
rm -rf -- "$root"
mkdir -p "$root/boot"
kmake INSTALL_MOD_PATH="$root" modules_install >/dev/null
cp -- "$obj/arch/x86/boot/bzImage" "$root/boot/vmlinuz-$rel"
cp -- "$obj/.config" "$root/boot/config-$rel"
cp -- "$obj/System.map" "$root/boot/System.map-$rel"
# modules_install points build and source at the trees: keep them (KDIR in
# the guest is /lib/modules/$rel/build, which resolves there).

# The kernel's objects are no longer needed: external modules need the
# headers, scripts, Module.symvers and .config only.
find "$obj" -name '*.o' ! -path "$obj/scripts/*" ! -path "$obj/tools/*" -delete
rm -f -- "$obj/vmlinux.o"
echo "$rel" >"$dir/release"
touch "$dir/.done"

# Older builds and sources (other keys) go.
for d in "$cache"/*/; do
	d=${d%/}
	[[ $d != "$dir" && $d != "$src" && ${d##*/} =~ ^(src-)?[0-9a-f]{16}$ ]] || continue
	say "removing the older ${d##*/}"
	rm -rf -- "$d"
done
step "built $rel in $dir"

report
