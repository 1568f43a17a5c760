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
#   rawsys  the system calls seen by raw_syscalls' tracepoints, as before
#           the kretprobes of syshooks.c (syscall_hooks=tracepoint by default)
#   bare    every probe attached (with syscall_probes_always=1, the bench's
#           default) but returning at its first test: what the tracepoints
#           and the kernel's slow system-call path cost with no work done
#   noengine  every probe doing its own work (task tests, clock reads, the
#           exit reason) but handing nothing to the engine: the kvm probes'
#           kvl_ev_*() calls go to empty functions the compiler must still
#           call, and every process passes the VM filter.  base - noengine
#           is the engine's share in the kernel, noengine - bare the probes'
#           (engine_cost.py counts the engine function by function)
#   hookonly  the system-call hooks attached and armed as in base (the
#           VM filter, a kretprobe instance and its return for a tracked
#           VM's threads) but handing nothing on: kvl_sys_enter() and
#           kvl_sys_exit() are not called.  base - hookonly is what the
#           probes and the engine do with a tracked call, hookonly - nosys
#           the kprobe, kretprobe and ftrace machinery around it
#   noirq   the interrupt probes (kvm_msi_set_irq, kvm_set_irq,
#           kvm_apic_accept_irq) return at once: what following a request
#           to its interrupt costs, AIO ring and used-ring reads included
#   noring  no reads of QEMU's AIO ring (kvl_ring_look() returns at once):
#           their share of noirq's
#   lockstat  the engine's VM lock counted: taken, contended, ns waited and
#           held (local_clock()), printed to the kernel log at unload
#   git-REV the module as committed at REV (git-HEAD, git-f81da94): a change
#           not yet committed, or one since REV, against what it replaces
#
# bench.sh builds "base" as the module it measures and the others with
# --variant NAME, to measure a design change before anyone makes it.  Each
# edit is checked: if probes.c changed so that one no longer applies, this
# fails rather than build something else.
# shellcheck disable=SC2016 # the edits are perl expressions, single-quoted on purpose
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: variant.sh base|local|nosys|rawsys|bare|noengine|hookonly|noirq|noring|lockstat|git-REV [OUTDIR]}
top=${2:-build/bench/modules}
KVER=${KVER:-$(scripts/lab-kver.sh)}
case $name in
base | local | nosys | rawsys | bare | noengine | hookonly | noirq | noring | lockstat) ;;
git-?*)
	rev=$(git rev-parse --verify -q "${name#git-}^{commit}") ||
		{ echo "variant.sh: no commit ${name#git-}" >&2; exit 2; }
	;;
*) echo "variant.sh: unknown variant $name (base, local, nosys, rawsys, bare, noengine, hookonly, noirq, noring, lockstat, git-REV)" >&2; exit 2 ;;
esac
d=$top/$name
# the same sources as the last build there: keep it
if [ -n "${rev:-}" ]; then
	sum=$rev
else
	sum=$(find Kbuild module include -type f \( -name '*.[ch]' -o -name 'Kbuild' -o -name 'Makefile' \) \
		! -name '*.mod.c' -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-40)
fi
if [ -f "$d/module/kvmio_lat.ko" ] && [ "$(cat "$d/.sources" 2>/dev/null)" = "$sum $name $KVER" ]; then
	echo "$d/module/kvmio_lat.ko"
	exit 0
fi
rm -rf "$d"
mkdir -p "$d"
if [ -n "${rev:-}" ]; then
	git archive "$rev" Kbuild module include | tar -x -C "$d"
else
	cp -r Kbuild module include "$d/"
fi
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
# the lockstat variant's counting lock, put before kvl_exit() in main.c
lockstat_code='#include <linux/sched/clock.h>
static atomic64_t kvl_ls_taken, kvl_ls_contended, kvl_ls_wait_ns, kvl_ls_hold_ns;
static DEFINE_PER_CPU(u64, kvl_ls_t0);

void kvl_lockstat_lock(raw_spinlock_t *l)
{
	if (!raw_spin_trylock(l)) {
		u64 t = local_clock();

		atomic64_inc(&kvl_ls_contended);
		raw_spin_lock(l);
		atomic64_add(local_clock() - t, &kvl_ls_wait_ns);
	}
	atomic64_inc(&kvl_ls_taken);
	this_cpu_write(kvl_ls_t0, local_clock());
}

void kvl_lockstat_unlock(raw_spinlock_t *l)
{
	atomic64_add(local_clock() - this_cpu_read(kvl_ls_t0), &kvl_ls_hold_ns);
	raw_spin_unlock(l);
}

'
case $name in
local) local_clock ;;
nosys)
	edit 's/return syscall_probes_always \|\| READ_ONCE\(kvl_engine\.nr_vms\);/return false;/'
	edit 's/if \(syscall_probes_always\) \{/if (false) {/'
	;;
rawsys) edit 's/static enum kvl_hooks_want kvl_hooks_want;/static enum kvl_hooks_want kvl_hooks_want = KVL_HOOKS_TRACEPOINT;/' ;;
bare) edit 's/return READ_ONCE\(kvl_enabled\) && in_task\(\);/return false;/' ;;
noengine)
	for ev in exit entry doorbell userspace_exit; do
		edit "s/kvl_ev_$ev\(&kvl_engine,/kvl_noengine_$ev(&kvl_engine,/"
	done
	edit 's/(static __always_inline void kvl_do_exit\()/#define KVL_NOENGINE static noinline __attribute__((noipa))\nKVL_NOENGINE void kvl_noengine_exit(struct kvl_engine *e, s32 g, s32 t, const char *c, u32 v, u32 i, u32 r, u64 n) { }\nKVL_NOENGINE void kvl_noengine_entry(struct kvl_engine *e, s32 g, s32 t, u64 n) { }\nKVL_NOENGINE void kvl_noengine_doorbell(struct kvl_engine *e, s32 g, s32 t, bool p, u64 a, u64 n) { }\nKVL_NOENGINE void kvl_noengine_userspace_exit(struct kvl_engine *e, s32 g, s32 t, u32 r) { }\n\n$1/'
	edit 's/return w & \(1UL << \(bit % \(8 \* sizeof\(unsigned long\)\)\)\);/return w || !w;/' \
		"$d/include/kvmio_lat/engine.h"
	;;
hookonly)
	edit 's/\treturn kvl_sys_exit_wanted\(\) &&\n\t       kvl_sys_enter\(u, syscall_get_nr\(current, u\), true\);\n/\t(void)u;\n\treturn kvl_sys_exit_wanted();\n/' "$d/module/syshooks.c"
	edit 's/\tkvl_sys_exit\(task_pt_regs\(current\), regs_return_value\(regs\), true\);\n//' "$d/module/syshooks.c"
	;;
noirq)	# (a test the compiler cannot drop: the code after it still builds)
	edit 's/(static void kvl_irq\(s32 dest, s32 vector\)\n\{\n\tu64 now;\n)/$1\n\tif (READ_ONCE(kvl_enabled) || 1)\n\t\treturn;/'
	edit 's/(static void kvl_probe_kvm_apic_accept_irq\(void \*data, u32 apicid, u16 dm,\n\t\t\t\t\t  u16 tm, u8 vec\)\n\{\n)/$1\tif (READ_ONCE(kvl_enabled) || 1)\n\t\treturn;\n/'
	;;
noring)
	edit 's/(static void kvl_ring_look\(u64 now\)\n\{\n\tu64 obj\[KVL_RING_LOOK\], ring;\n\tstruct kvl_aio_ring h;\n\tu32 seen, n = 0;\n)/$1\n\tif (READ_ONCE(kvl_enabled) || 1)\n\t\treturn;/'
	;;
lockstat)
	export LOCKSTAT=$lockstat_code
	edit 's/#define kvl_lock\(l, flags\)\traw_spin_lock_irqsave\(l, flags\)\n#define kvl_unlock\(l, flags\)\traw_spin_unlock_irqrestore\(l, flags\)/void kvl_lockstat_lock(raw_spinlock_t *l);\nvoid kvl_lockstat_unlock(raw_spinlock_t *l);\n#define kvl_lock(l, flags)\tdo { local_irq_save(flags); kvl_lockstat_lock(l); } while (0)\n#define kvl_unlock(l, flags)\tdo { kvl_lockstat_unlock(l); local_irq_restore(flags); } while (0)/' \
		"$d/include/kvmio_lat/shim.h"
	edit 's/static void __exit kvl_exit\(void\)\n\{\n/$ENV{LOCKSTAT}static void __exit kvl_exit(void)\n{\n\tpr_info("lockstat: taken %lld contended %lld wait_ns %lld hold_ns %lld\\n", atomic64_read(&kvl_ls_taken), atomic64_read(&kvl_ls_contended), atomic64_read(&kvl_ls_wait_ns), atomic64_read(&kvl_ls_hold_ns));\n/' \
		"$d/module/main.c"
	;;
esac
diff -ru module "$d/module" >"$d/module.diff" || true
diff -ru include "$d/include" >>"$d/module.diff" || true
make -s -C "/lib/modules/$KVER/build" M="$(cd "$d" && pwd)" modules >"$d/build.log" 2>&1 ||
	{ cat "$d/build.log" >&2; exit 1; }
echo "$sum $name $KVER" >"$d/.sources"
echo "$d/module/kvmio_lat.ko"
