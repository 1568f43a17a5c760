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
#   fewer   no clock read where the engine ignores the time: the doorbell
#           probes (a doorbell takes its exit's time), sys_enter of ioctl,
#           sys_exit of ioctl and of calls the engine does not classify
#   both    fewer + local
#   lean    fewer, and a vCPU thread's return to userspace is taken from
#           KVM's kvm_userspace_exit tracepoint instead of sys_exit of
#           ioctl: the system call probes then return for ioctl before
#           looking anything up (the engine keeps its ioctl path: replay
#           needs it)
#
# bench.sh builds "base" as the module it measures and the others with
# --variant NAME, to measure a design change before anyone makes it.  Each
# edit is checked: if probes.c changed so that one no longer applies, this
# fails rather than build something else.
# shellcheck disable=SC2016 # the edits are perl expressions, single-quoted on purpose
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: variant.sh base|local|fewer|both|lean [OUTDIR]}
top=${2:-build/bench/modules}
KVER=${KVER:-$(scripts/lab-kver.sh)}
case $name in
base | local | fewer | both | lean) ;;
*) echo "variant.sh: unknown variant $name (base, local, fewer, both, lean)" >&2; exit 2 ;;
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
fewer_reads() {
	edit 's/(kvl_ev_doorbell\(&kvl_engine, current->tgid, current->pid, pio, addr,\n\t\t\t)kvl_now\(\)/${1}0/'
	edit 's/(\tcase KVL_SYS_NONE:\n\t\treturn;)/$1\n\tcase KVL_SYS_IOCTL:\n\t\treturn;/'
	edit 's/(static void kvl_probe_sys_exit\(void \*data, struct pt_regs \*regs, long ret\)\n\{\n\tlong id;)/$1\n\tenum kvl_sys_class cls;/'
	edit 's/(id = syscall_get_nr\(current, regs\);\n\tif \(id < 0\)\n\t\treturn;)/$1\n\tcls = kvl_sys_class((u32)id);/'
	edit 's/(kvl_ev_sys_exit\(&kvl_engine, current->tgid, current->pid, \(u32\)id, ret,\n\t\t\t)kvl_now\(\)/${1}(cls == KVL_SYS_NONE || cls == KVL_SYS_IOCTL) ? 0 : kvl_now()/'
}
userspace_exit() {
	local e=$d/module/engine/engine.c h=$d/include/kvmio_lat/engine.h
	edit 's/(void kvl_ev_sys_exit\(struct kvl_engine \*eng, s32 tgid, s32 tid, u32 nr,\n[^;]*;\n)/$1void kvl_ev_userspace_exit(struct kvl_engine *eng, s32 tgid, s32 tid);\n/' "$h"
	edit 's/(\nvoid kvl_ev_task_exit\(struct kvl_engine \*eng, s32 tgid, s32 tid,\n)/\n\/* KVM_RUN returned to userspace: the vCPU'"'"'s last doorbell was not one. *\/\nvoid kvl_ev_userspace_exit(struct kvl_engine *eng, s32 tgid, s32 tid)\n{\n\tstruct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);\n\tstruct kvl_thread *t;\n\tstruct kvl_vcpu *vc;\n\n\tif (!vm)\n\t\treturn;\n\tt = kvl_thread_find(vm, tid);\n\tvc = t ? kvl_vcpu_of(vm, t) : NULL;\n\tif (vc)\n\t\tkvl_kick_cancel(vc);\n}\n$1/' "$e"
	edit 's/(\tcls = kvl_sys_class\(\(u32\)id\);\n)/$1\tif (cls == KVL_SYS_IOCTL)\t\/* kvm_userspace_exit has it *\/\n\t\treturn;\n/'
	edit 's/(static void kvl_irq\(s32 dest, s32 vector\)\n)/static void kvl_probe_kvm_userspace_exit(void *data, __u32 reason, int err)\n{\n\tif (!kvl_task_ok() || !kvl_engine_maybe_vm(&kvl_engine, current->tgid))\n\t\treturn;\n\trcu_read_lock();\n\tkvl_ev_userspace_exit(&kvl_engine, current->tgid, current->pid);\n\trcu_read_unlock();\n}\n\n$1/'
	edit 's/(\t\{ "kvm_pio", kvl_probe_kvm_pio \},\n)/$1\t{ "kvm_userspace_exit", kvl_probe_kvm_userspace_exit },\n/'
	edit 's/(\tcheck_trace_callback_type_kvm_mmio\(kvl_probe_kvm_mmio\);\n)/$1\tcheck_trace_callback_type_kvm_userspace_exit(kvl_probe_kvm_userspace_exit);\n/'
}
case $name in
local) local_clock ;;
fewer) fewer_reads ;;
both) fewer_reads; local_clock ;;
lean) fewer_reads; userspace_exit ;;
esac
diff -ru module "$d/module" >"$d/module.diff" || true
diff -ru include "$d/include" >>"$d/module.diff" || true
make -s -C "/lib/modules/$KVER/build" M="$PWD/$d" modules >"$d/build.log" 2>&1 ||
	{ cat "$d/build.log" >&2; exit 1; }
echo "$sum $name $KVER" >"$d/.sources"
echo "$d/module/kvmio_lat.ko"
