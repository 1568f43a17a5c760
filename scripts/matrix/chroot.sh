#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# chroot.sh - one debootstrapped Debian chroot per suite, cached, to build
# kvmio_lat for that suite's kernels with that suite's compiler.
#
#   chroot.sh ensure SUITE [FLAVOUR...]   create/refresh it, install the
#                                        headers of each FLAVOUR (amd64,
#                                        rt-amd64, ...) and dkms; print DIR
#   chroot.sh kver SUITE FLAVOUR          the ABI name the headers are for
#   chroot.sh run SUITE CMD [ARGS...]     run CMD in it (with /proc mounted,
#                                        in a private mount namespace)
#
# Chroots live in $MATRIX_CACHE/chroots/SUITE (default
# <repo>/.cache/matrix): not under /tmp, which the lab guest hides.  Their
# apt lists are refreshed when older than a day.  A new chroot is made by
# mmdebstrap (minbase), which downloads in parallel and installs the
# compiler, dkms and the headers in the same apt run, with dpkg's
# force-unsafe-io (nothing here needs to survive a power cut): about half of
# what debootstrap and a second apt-get install took.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd -P)
MATRIX_CACHE=${MATRIX_CACHE:-$REPO/.cache/matrix}
MIRROR=${LAB_APT_MIRROR:-http://deb.debian.org/debian}
SEC_MIRROR=${LAB_APT_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# What every chroot gets (LAB-NOTES §8), plus dkms (and openssl, with which
# it makes its signing key) for the DKMS round trip, and what the reader
# needs for `make install` where the suite has it (bullseye has no
# libtracecmd-dev).
BASE_PKGS=gcc,make,libc6-dev,libelf-dev,bc,kmod,dkms,openssl,pkg-config
EXTRA_PKGS=(libtraceevent-dev libtracefs-dev libtracecmd-dev)

die() {
	echo "chroot: $*" >&2
	exit 1
}

suite_dir() {
	[[ $1 =~ ^[a-z]+$ ]] || die "bad suite '$1'"
	printf '%s/chroots/%s\n' "$MATRIX_CACHE" "$1"
}

# in_chroot DIR CMD...: /proc mounted in a private mount namespace, so the
# mount goes away with the command (objtool on 7.x reads /proc).
in_chroot() {
	local dir=$1
	shift
	unshare --mount --propagation private -- /bin/sh -c '
		d=$1; shift
		mount -t proc proc "$d/proc" || exit 1
		exec chroot "$d" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
	' sh "$dir" "$@"
}

apt_in() {
	local dir=$1
	shift
	in_chroot "$dir" apt-get -q -y -o Dpkg::Use-Pty=0 "$@"
}

# create SUITE FLAVOUR...: a new chroot with BASE_PKGS and the headers of
# each FLAVOUR (EXTRA_PKGS come later: not every suite has all of them)
create() {
	local suite=$1 dir tmp t0=$SECONDS f inc=$BASE_PKGS srcs opts log
	shift
	dir=$(suite_dir "$suite")
	command -v mmdebstrap >/dev/null || die "mmdebstrap not found: apt-get install mmdebstrap"
	for f in "$@"; do
		inc+=,linux-headers-$f
	done
	srcs=("deb $MIRROR $suite main")
	case $suite in
	sid | unstable | experimental) ;;
	*) srcs+=("deb $SEC_MIRROR $suite-security main") ;;
	esac
	mkdir -p "$MATRIX_CACHE/chroots"
	tmp=$dir.tmp
	rm -rf -- "$tmp"
	echo "chroot: mmdebstrap $suite (${inc//,/ })" >&2
	log=$MATRIX_CACHE/chroots/$suite.mmdebstrap.log
	# (the lists are kept: refresh() and ensure use them)
	opts=(--variant=minbase --include="$inc" --dpkgopt=force-unsafe-io
		--aptopt='APT::Install-Recommends "false"' --aptopt='APT::Install-Suggests "false"'
		--skip=cleanup/apt/lists)
	if ! mmdebstrap "${opts[@]}" "$suite" "$tmp" "${srcs[@]}" >"$log" 2>&1; then
		rm -rf -- "$tmp"
		# A mirror that serves a frozen snapshot has Release files past
		# their Valid-Until (sid's lasts a week): accept them, loudly.
		grep -q 'is expired' "$log" ||
			{ tail -n 20 "$log" >&2; die "mmdebstrap $suite failed (log: $log)"; }
		echo "chroot: $suite: the mirror's Release file is expired; using it anyway (Check-Valid-Until=false)" >&2
		mmdebstrap "${opts[@]}" --aptopt='Acquire::Check-Valid-Until "false"' \
			"$suite" "$tmp" "${srcs[@]}" >"$log" 2>&1 ||
			{ tail -n 20 "$log" >&2; rm -rf -- "$tmp"; die "mmdebstrap $suite failed (log: $log)"; }
	fi
	# no recommends, no docs: the chroot only builds modules
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
		>"$tmp/etc/apt/apt.conf.d/90matrix"
	mkdir -p "$tmp/build"
	touch "$tmp/.apt-updated"
	rm -rf -- "$dir"
	mv -- "$tmp" "$dir"
	echo "chroot: $suite created in $((SECONDS - t0)) s" >&2
}

refresh() {
	local dir=$1
	cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
	if [[ -z $(find "$dir/.apt-updated" -mmin -1440 2>/dev/null) ]]; then
		echo "chroot: apt-get update in ${dir##*/}" >&2
		apt_in "$dir" update >"$dir.apt.log" 2>&1 || true
		# A mirror that serves a frozen snapshot has Release files past
		# their Valid-Until (sid's lasts a week): accept them, loudly.
		if grep -q 'is expired' "$dir.apt.log"; then
			echo "chroot: ${dir##*/}: the mirror's Release file is expired; using it anyway (Check-Valid-Until=false)" >&2
			printf 'Acquire::Check-Valid-Until "false";\n' >"$dir/etc/apt/apt.conf.d/91matrix-snapshot"
			apt_in "$dir" update >"$dir.apt.log" 2>&1 || true
		fi
		if grep -qE '^(E:|W: Failed)' "$dir.apt.log"; then
			tail -n 20 "$dir.apt.log" >&2
			die "apt-get update failed in $dir"
		fi
		rm -f "$dir/.installed"
		touch "$dir/.apt-updated"
	fi
}

cmd_ensure() {
	local suite=${1:?usage: chroot.sh ensure SUITE [FLAVOUR...]} dir f pkgs want
	shift
	dir=$(suite_dir "$suite")
	for f in "$@"; do
		[[ $f =~ ^[a-z0-9-]+$ ]] || die "bad flavour '$f'"
	done
	[[ -f $dir/etc/apt/apt.conf.d/90matrix ]] || create "$suite" "$@"
	refresh "$dir"
	pkgs=()
	for f in "${EXTRA_PKGS[@]}"; do
		if in_chroot "$dir" apt-cache show "$f" >/dev/null 2>&1; then
			pkgs+=("$f")
		else
			echo "chroot: $suite has no package $f" >&2
		fi
	done
	for f in "$@"; do
		pkgs+=("linux-headers-$f")
	done
	# install (or upgrade to the suite's current ABI) only when the set or
	# the lists changed
	want="${pkgs[*]}"
	if [[ ! -f $dir/.installed ]] || ! grep -qxF -- "$want" "$dir/.installed"; then
		echo "chroot: apt-get install ${pkgs[*]} in $suite" >&2
		apt_in "$dir" install "${pkgs[@]}" >"$dir.apt.log" 2>&1 ||
			{ tail -n 20 "$dir.apt.log" >&2; die "apt-get install failed in $suite (log: $dir.apt.log)"; }
		# drop the headers of ABIs the suite has moved away from
		apt_in "$dir" autoremove --purge >>"$dir.apt.log" 2>&1 || true
		apt_in "$dir" clean >/dev/null 2>&1 || true
		printf '%s\n' "$want" >>"$dir/.installed"
	fi
	printf '%s\n' "$dir"
}

cmd_kver() {
	local suite=${1:?usage: chroot.sh kver SUITE FLAVOUR} flavour=${2:?flavour} dir dep ver
	dir=$(suite_dir "$suite")
	dep=$(in_chroot "$dir" dpkg-query -W -f='${Depends}' "linux-headers-$flavour" 2>/dev/null) ||
		die "linux-headers-$flavour is not installed in $suite"
	ver=$(sed -n 's/.*linux-headers-\([0-9][^ ,]*\).*/\1/p' <<<"$dep")
	[[ -n $ver && -d $dir/usr/src/linux-headers-$ver ]] || die "cannot tell the headers version of linux-headers-$flavour in $suite ($dep)"
	printf '%s\n' "$ver"
}

cmd_run() {
	local suite=${1:?usage: chroot.sh run SUITE CMD...}
	shift
	in_chroot "$(suite_dir "$suite")" "$@"
}

case ${1:-} in
ensure) shift; cmd_ensure "$@" ;;
kver) shift; cmd_kver "$@" ;;
run) shift; cmd_run "$@" ;;
dir) suite_dir "${2:?suite}" ;;
*) die "usage: chroot.sh ensure|kver|run|dir SUITE ..." ;;
esac
