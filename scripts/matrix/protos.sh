#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# protos.sh - check every probe of kvmio_lat.ko against the prototype of the
# tracepoint it is registered on, in the kernel that will run it.
#
#   protos.sh KERNEL_DIR MODULE.ko [SOURCE_DIR]
#
# KERNEL_DIR is a kernel unpacked by `lab.sh kernel` (vmlinux, modules/).
# The kernel side comes from BTF: every tracepoint has a
# "typedef void (*btf_trace_NAME)(void *, ARGS...)" in vmlinux's BTF, or in
# kvm.ko's for KVM's (CONFIG_DEBUG_INFO_BTF_MODULES).  The probe side comes
# from the module's DWARF (gdb).  Types are compared after typedefs of
# fixed-width integers are resolved (u32 = __u32 = unsigned int), which is
# what the calling convention and kCFI see.  Where a kernel has no BTF for
# kvm.ko (5.10), SOURCE_DIR (a few files of that kernel's linux-source:
# arch/x86/kvm/trace.h, include/trace/events/*.h) is parsed instead.
#
# Prints one line per tracepoint; exit status 1 on any mismatch, or when a
# kvl_probe_* function of the module is not checked here.
set -euo pipefail

kdir=${1:?usage: protos.sh KERNEL_DIR MODULE.ko [SOURCE_DIR]}
ko=${2:?usage: protos.sh KERNEL_DIR MODULE.ko [SOURCE_DIR]}
src=${3:-}

# tracepoint -> the probe function(s) that may be registered on it (the
# build keeps exactly one of each set: wrapper/*.h pick it at compile time).
# A/B: the tracepoint is A on this kernel if it has A, else B (renamed).
tps=(
	"sys_enter kvl_probe_sys_enter"
	"sys_exit kvl_probe_sys_exit"
	"sched_process_exit kvl_probe_process_exit_1 kvl_probe_process_exit_2"
	"kvm_exit kvl_probe_kvm_exit_2 kvl_probe_kvm_exit_3"
	"kvm_entry kvl_probe_kvm_entry_1 kvl_probe_kvm_entry_2"
	"kvm_userspace_exit kvl_probe_kvm_userspace_exit"
	"kvm_mmio kvl_probe_kvm_mmio"
	"kvm_fast_mmio kvl_probe_kvm_fast_mmio"
	"kvm_pio kvl_probe_kvm_pio"
	"kvm_msi_set_irq kvl_probe_kvm_msi_set_irq"
	"kvm_set_irq kvl_probe_kvm_set_irq"
	"kvm_apic_accept_irq kvl_probe_kvm_apic_accept_irq"
	"kvm_apicv_accept_irq kvl_probe_kvm_apicv_accept_irq"
	"kvm_inj_virq kvl_probe_kvm_inj_virq_1 kvl_probe_kvm_inj_virq_3"
	"io_uring_submit_req/io_uring_submit_sqe kvl_probe_uring_submit"
	"io_uring_complete kvl_probe_uring_complete_cqe kvl_probe_uring_complete_req kvl_probe_uring_complete_old"
)

# canon "type, type, ...": one spelling per type.  Typedefs are resolved
# with the kernel's own (from its BTF: u32 -> __u32 -> unsigned int; kvm.ko's
# BTF may carry renamed copies such as u32___2), then the base types are
# spelled one way (gdb writes "long unsigned int", bpftool "long int").
canon() {
	perl -e '
		my %td;
		open(my $f, "<", $ARGV[0]) or die;
		while (<$f>) { $td{$2} = $1 if /^typedef ([^()]*?) ([A-Za-z_]\w*);$/; }
		while (my $l = <STDIN>) {
			chomp $l;
			my @out;
			for my $t (split /\s*,\s*/, $l) {
				for (1 .. 8) {
					my $o = $t;
					$t =~ s/\b([A-Za-z_]\w*)\b/(exists $td{$1} && $td{$1} !~ m{^(struct|union|enum)\b} ? $td{$1} : $1)/ge;
					last if $t eq $o;
				}
				$t =~ s/\bbool\b/_Bool/g;
				$t =~ s/\blong long unsigned int\b/unsigned long long/g;
				$t =~ s/\blong unsigned int\b/unsigned long/g;
				$t =~ s/\bshort unsigned int\b/unsigned short/g;
				$t =~ s/\blong long int\b/long long/g;
				$t =~ s/\blong int\b/long/g;
				$t =~ s/\bshort int\b/short/g;
				$t =~ s/\s+/ /g; $t =~ s/ ?\* ?/ */g; $t =~ s/^ | $//g;
				push @out, $t;
			}
			print join(", ", @out), "\n";
		}' "$tmp/typedefs"
}

vmlinux=$kdir/vmlinux
[[ -f $vmlinux ]] || { echo "protos: no $vmlinux (lab.sh kernel extracts it)" >&2; exit 2; }
kvmko=$(find -L "$kdir/modules/kernel/arch/x86/kvm" -name kvm.ko -print -quit 2>/dev/null || true)
[[ -n $kvmko ]] || { echo "protos: no kvm.ko under $kdir/modules" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bpftool btf dump file "$vmlinux" format c >"$tmp/vmlinux.h" 2>/dev/null || : >"$tmp/vmlinux.h"
# (grep without -q: under pipefail an early exit would SIGPIPE readelf)
if readelf -S "$kvmko" 2>/dev/null | grep '\.BTF ' >/dev/null; then
	bpftool -B "$vmlinux" btf dump file "$kvmko" format c >"$tmp/kvm.h" 2>/dev/null || : >"$tmp/kvm.h"
else
	: >"$tmp/kvm.h"
fi
# typedefs of the kernel and of kvm.ko, for canon()
grep -h '^typedef [^()]*;$' "$tmp/vmlinux.h" "$tmp/kvm.h" >"$tmp/typedefs" || true
[[ -s $tmp/typedefs ]] || printf '%s\n' 'typedef unsigned int __u32;' 'typedef __u32 u32;' \
	'typedef long long unsigned int __u64;' 'typedef __u64 u64;' 'typedef short unsigned int __u16;' \
	'typedef __u16 u16;' 'typedef unsigned char __u8;' 'typedef __u8 u8;' 'typedef _Bool bool;' >"$tmp/typedefs"
gdb -batch -ex 'info functions ^kvl_probe_' "$ko" 2>/dev/null |
	sed -nE 's/^[0-9]+:[[:space:]]+static void (kvl_probe_[a-z0-9_]+)\((.*)\);$/\1 \2/p' >"$tmp/probes"
[[ -s $tmp/probes ]] || { echo "protos: no kvl_probe_* functions with debug info in $ko" >&2; exit 2; }

# btf_proto TP: the arguments after "void *", from BTF
btf_proto() {
	local line
	line=$(grep -h "typedef void (\*btf_trace_$1)(" "$tmp/vmlinux.h" "$tmp/kvm.h" | head -n 1)
	[[ -n $line ]] || return 1
	sed -E 's/.*\)\(void \*, (.*)\);$/\1/; s/.*\)\(void \*\);$//' <<<"$line"
}

# src_proto TP: the arguments of TP_PROTO, names dropped, from SOURCE_DIR
src_proto() {
	[[ -n $src ]] || return 1
	local f p
	for f in "$src/arch/x86/kvm/trace.h" "$src/include/trace/events/kvm.h" \
		 "$src/include/trace/events/sched.h" "$src/include/trace/events/syscalls.h" \
		 "$src/include/trace/events/io_uring.h"; do
		[[ -f $f ]] || continue
		p=$(awk -v tp="$1" '
			function flush() { s = s; }
			$0 ~ "^(TRACE_EVENT|TRACE_EVENT_FN|TRACE_EVENT_SYSCALL|DEFINE_EVENT)\\(" && ($0 ~ "[(,] *" tp " *,?$" || $0 ~ "[(,] *" tp ",") { hit = 1 }
			tp == "kvm_exit" && /^#define TRACE_EVENT_KVM_EXIT\(/ { hit = 1 }
			hit && /TP_PROTO\(/ { s = $0; while (s !~ /TP_PROTO\([^)]*\)/ && (getline l) > 0) s = s " " l
				sub(/.*TP_PROTO\(/, "", s); sub(/\).*/, "", s); gsub(/\\/, "", s); print s; exit }
		' "$f")
		if [[ -n $p ]]; then
			# drop the parameter names
			tr ',' '\n' <<<"$p" | sed -E 's/[A-Za-z_][A-Za-z0-9_]*[[:space:]]*$//' | paste -sd, -
			return 0
		fi
	done
	return 1
}

# tracepoints the module does without on kernels that lack them
declare -A optional=([kvm_apicv_accept_irq]=1)	# 5.17+
# CONFIG_IO_URING: in vmlinux, where BTF and source both lack them if off
declare -A optional_core=([io_uring_submit_sqe]=1 [io_uring_complete]=1)

fail=0
declare -A checked=()
for entry in "${tps[@]}"; do
	read -r -a w <<<"$entry"
	tp=${w[0]}
	if [[ $tp == */* ]]; then	# renamed: the name this kernel has
		if btf_proto "${tp%%/*}" >/dev/null || src_proto "${tp%%/*}" >/dev/null; then
			tp=${tp%%/*}
		else
			tp=${tp#*/}
		fi
	fi
	probe='' args=''
	for cand in "${w[@]:1}"; do
		checked[$cand]=1
		a=$(awk -v f="$cand" '$1 == f { $1 = ""; print; exit }' "$tmp/probes")
		[[ -n $a ]] || continue
		if [[ -n $probe ]]; then
			echo "FAIL $tp: both $probe and $cand are in the module: cannot tell which is registered"
			fail=1
		fi
		probe=$cand args=$a
	done
	if [[ -z $probe ]]; then
		echo "FAIL $tp: none of ${w[*]:1} in the module"
		fail=1
		continue
	fi
	# the probe's own arguments, without its leading "void *"
	args=${args# }
	mine=$(canon <<<"${args#"void *, "}")
	how=BTF
	if ! theirs=$(btf_proto "$tp"); then
		how=source
		if ! theirs=$(src_proto "$tp"); then
			if [[ -n ${optional[$tp]:-} ]] &&
			   ! nm "$kvmko" 2>/dev/null | grep " __tracepoint_$tp\$" >/dev/null; then
				printf 'ok %-20s absent from this kernel (optional)\n' "$tp"
				continue
			fi
			if [[ -n ${optional_core[$tp]:-} && -s $tmp/vmlinux.h ]]; then
				printf 'ok %-20s absent from this kernel (optional)\n' "$tp"
				continue
			fi
			echo "UNCHECKED $tp: no BTF for it in this kernel and no source given; probe $probe($mine)"
			fail=1
			continue
		fi
	fi
	theirs=$(canon <<<"$theirs")
	if [[ $mine == "$theirs" ]]; then
		printf 'ok %-20s %-32s (%s) [%s]\n' "$tp" "$probe" "$mine" "$how"
	else
		printf 'FAIL %-18s %s(%s) but the kernel passes (%s) [%s]\n' "$tp" "$probe" "$mine" "$theirs" "$how"
		fail=1
	fi
done
while read -r f _; do
	if [[ -z ${checked[$f]:-} ]]; then
		echo "FAIL $f: a probe this script does not know: add its tracepoint to scripts/matrix/protos.sh"
		fail=1
	fi
done <"$tmp/probes"
exit "$fail"
