#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# variant.sh NAME [OUTDIR]: build a private copy of kvmio_lat for make bench,
# from the sources as they are now, in OUTDIR/NAME (default
# build/bench/modules); module/ itself is never touched (others may be
# building or editing it during a run).  Prints the .ko's path.
#
#   base    the module as it is
#   local   kvl_now() reads local_clock() (sched_clock: the TSC; ftrace's
#           default "local" clock) instead of ktime_get_mono_fast_ns() (the
#           clocksource, whatever it is: an emulated HPET under the lab's
#           TCG by default)
#   nosys   the system-call probes never attached (syscall_probes_always
#           ignored): what the kvm probes alone cost; requests are then
#           not followed, only exits and interrupts are seen
#   bare    every probe attached (with syscall_probes_always=1, the bench's
#           default) but returning at its first test: what the tracepoints
#           and the kernel's slow system-call path cost with no work done
#
# bench.sh builds "base" as the module it measures and the others with
# --variant NAME, to measure a design change before anyone makes it.  Each
# edit is checked: if probes.c changed so that one no longer applies, this
# fails rather than build something else.
# shellcheck disable=SC2016 # the edits are perl expressions, single-quoted on purpose
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: variant.sh base|local|nosys|bare [OUTDIR]}
top=${2:-build/bench/modules}
KVER=${KVER:-$(scripts/lab-kver.sh)}
case $name in
base | local | nosys | bare) ;;
*) echo "variant.sh: unknown variant $name (base, local, nosys, bare)" >&2; exit 2 ;;
esac
d=$top/$name
# the same sources as the last build there: keep it
sum=$(find Kbuild module include -type f \( -name '*.[ch]' -o -name 'Kbuild' -o -name 'Makefile' \) \
	! -name '*.mod.c' -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-40)
if [ -f "$d/module/kvmio_lat.ko" ] && [ "$(cat "$d/.sources" 2>/dev/null)" = "$sum $name $KVER" ]; then
	echo "$d/module/kvmio_lat.ko"
	exit 0
fi
rm -rf "$d"
mkdir -p "$d"
cp -r Kbuild module include "$d/"
find "$d" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod' -o -name '*.mod.c' \
	-o -name 'modules.order' -o -name 'Module.symvers' -o -name '.*.d' \) -delete
p=$d/module/probes.c

edit() {	# PERL-SUBSTITUTION [FILE]: must change FILE (default probes.c)
	local f=${2:-$p} before
	before=$(sha1sum "$f")
	perl -0pi -e "$1" "$f"
	[ "$(sha1sum "$f")" != "$before" ] ||
		{ echo "variant.sh: '$1' no longer applies to ${f#"$d"/}" >&2; exit 1; }
}
local_clock() {
	edit 's/return ktime_get_mono_fast_ns\(\);/return local_clock();/'
	edit 's/#include <linux\/timekeeping.h>/#include <linux\/timekeeping.h>\n#include <linux\/sched\/clock.h>/'
}
case $name in
local) local_clock ;;
nosys)
	edit 's/return syscall_probes_always \|\| READ_ONCE\(kvl_engine\.nr_vms\);/return false;/'
	edit 's/syscall_probes_always && i < ARRAY_SIZE/false \&\& i < ARRAY_SIZE/'
	edit 's/WRITE_ONCE\(kvl_sys_on, syscall_probes_always\);/WRITE_ONCE(kvl_sys_on, false);/'
	;;
bare) edit 's/return READ_ONCE\(kvl_enabled\) && in_task\(\);/return false;/' ;;
esac
diff -ru module "$d/module" >"$d/module.diff" || true
diff -ru include "$d/include" >>"$d/module.diff" || true
make -s -C "/lib/modules/$KVER/build" M="$(cd "$d" && pwd)" modules >"$d/build.log" 2>&1 ||
	{ cat "$d/build.log" >&2; exit 1; }
echo "$sum $name $KVER" >"$d/.sources"
echo "$d/module/kvmio_lat.ko"
