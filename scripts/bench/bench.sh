#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: what kvmio_lat costs, against ftrace, hist triggers and
# bpftrace, in one lab boot (Documentation/performance.rst).
#
#   scripts/bench/bench.sh [--quick] [--icount] [--rounds N] [--sections LIST]
#                          [--variant NAME[=KO]]... [--no-qemu-record] [--qemu-rounds N]
#                          [--profile-workloads LIST] [--perf-freq F]
#                          [--profile-ios R,W] [--profile-requests N]
#                          [--report-only]
#
# Builds what it needs (a private copy of the module from the sources as
# they are now, kvmio-vmm, inner-io, the reader, sysloop), boots the lab
# once and runs scripts/bench/lab_bench.py there: every raw sample lands in
# OUT/lab/raw.json as it is taken.  If the guest dies, it boots once more
# for the sections that did not finish (BENCH_RETRIES).  Then it measures
# kvmio-lat replay's speed on this machine, on the recording made in the
# lab, and scripts/bench/report.py prints the table and writes
# OUT/bench.json.
#
# --quick (make bench-quick, run by make check): one round, tiny sizes, no
#     perf profile: checks that every section still produces its figures,
#     never how fast anything is.  OUT defaults to build/bench-quick.
# --icount: the lab's clock counts instructions: QEMU's -icount
#     shift=0,sleep=on (while the guest runs, one instruction is one virtual
#     nanosecond; while it idles, time passes as on the host), one guest
#     CPU, and no background work of lab.sh's own (LAB_SYMDUMP=0); every
#     "ns" of a busy loop's figures is an instruction.  Exact to about 0.1 %
#     from run to run where wall times move by tens of percent, but blind to
#     what QEMU's device models cost (an HPET read counts as one
#     instruction), so kvmio_lat@hpet is left out.  Sections: exits, kexits,
#     ioexits, untracked, tracked, scaling, scaling_vms (the default; the scaling
#     sections also run 4 times as many exits, to split the per-exit cost
#     from setting up and tearing down).  OUT
#     defaults to build/bench-icount.  make bench runs it after the
#     wall-time boot.
# --rounds N, --sections a,b: see scripts/bench/lab_bench.py.
# --variant NAME: also time an experimental build in the exit loops, the
#     profile, the I/O loops and real QEMU (scripts/bench/variant.sh says
#     what each is: local, nosys, rawsys, bare, noengine, hookonly, noirq,
#     noring, lockstat, git-REV), or NAME=KO.
# --no-qemu-record: real QEMU without its `kvmio-lat record` runs (trace-cmd
#     recording the events the engine needs: what a host without the module
#     would run instead; measured by default, for scale).
# --qemu-rounds N: rounds of the real-QEMU section (default 3 x --rounds).
# --profile-workloads LIST: the profile section's workloads only (exits,
#     kexits, untracked, ioloop-native, ioloop-threads, ioloop-uring, qemu).
# --perf-freq F: the profile's sampling rate (2999): under --icount one
#     sample per 1e9/F instructions of a busy CPU, so a profile's samples
#     per function convert to instructions (scripts/bench/profile_diff.py).
# --profile-ios R,W: reads and writes of each real-QEMU profile run.
# --profile-requests N: requests of each I/O-loop profile run.
# --report-only: redo the table and bench.json from OUT's raw data.
#
# The lab boots with tsc=reliable (BENCH_APPEND): TCG cannot tell the guest
# its TSC is invariant, so the kernel would fall back to the emulated HPET,
# a clocksource no KVM host uses (see performance.rst); the exit loop also
# runs kvmio_lat with the HPET switched back on, in the same boot.
#
# Environment: BENCH_OUT, BENCH_ROUNDS, BENCH_SECTIONS, BENCH_PEERS,
# BENCH_TIMEOUT (lab seconds), BENCH_STALL (seconds without progress before
# the guest is stopped and booted again, 900), BENCH_RETRIES (1), BENCH_SMP (2),
# BENCH_APPEND (tsc=reliable), KVER (the lab kernel), BENCH_MODULE (a
# kvmio_lat.ko already built for KVER, instead of building a private copy).
set -euo pipefail
cd "$(dirname "$0")/../.."

# All in a function: bash reads it whole before running it, so editing this
# file during a run cannot derail the run.
main() {
local t_start=$SECONDS
local quick=${BENCH_QUICK:-0} rounds=${BENCH_ROUNDS:-} sections=${BENCH_SECTIONS:-}
local report_only=0 variants=() extra=() icount=0
while (($#)); do
	case $1 in
	--quick) quick=1; shift ;;
	--icount) icount=1; shift ;;
	--rounds) rounds=${2:?--rounds N}; shift 2 ;;
	--sections) sections=${2:?--sections LIST}; shift 2 ;;
	--variant) variants+=("${2:?--variant NAME[=KO]}"); shift 2 ;;
	--no-qemu-record) extra+=(--no-qemu-record); shift ;;
	--profile-workloads) extra+=(--profile-workloads "${2:?--profile-workloads LIST}"); shift 2 ;;
	--perf-freq)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "bench: --perf-freq wants a positive integer" >&2; return 2; }
		extra+=(--perf-freq "$2"); shift 2 ;;
	--profile-requests)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "bench: --profile-requests wants a positive integer" >&2; return 2; }
		extra+=(--profile-requests "$2"); shift 2 ;;
	--profile-ios)
		[[ ${2:-} =~ ^[0-9]+,[0-9]+$ ]] || { echo "bench: --profile-ios wants READS,WRITES" >&2; return 2; }
		extra+=(--profile-ios "$2"); shift 2 ;;
	--qemu-rounds)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "bench: --qemu-rounds wants a positive integer" >&2; return 2; }
		extra+=(--qemu-rounds "$2"); shift 2 ;;
	--report-only) report_only=1; shift ;;
	-h | --help) sed -n '3,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; return 0 ;;
	*) echo "bench: unknown option $1 (see --help)" >&2; return 2 ;;
	esac
done
[ -z "$rounds" ] || [[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench: --rounds wants a positive integer" >&2; return 2; }
local out=${BENCH_OUT:-build/bench} timeout=${BENCH_TIMEOUT:-7200}
if [ "$quick" = 1 ]; then
	out=${BENCH_OUT:-build/bench-quick} timeout=${BENCH_TIMEOUT:-600}
fi
local retries=${BENCH_RETRIES:-1} smp=${BENCH_SMP:-2}
if [ "$icount" = 1 ]; then
	[ "$quick" = 1 ] && out=${BENCH_OUT:-build/bench-quick-icount} || out=${BENCH_OUT:-build/bench-icount}
	smp=1
	sections=${sections:-exits,kexits,ioexits,untracked,tracked,scaling,scaling_vms}
	export LAB_QEMU_ARGS="${LAB_QEMU_ARGS:+$LAB_QEMU_ARGS }-icount shift=0,sleep=on" LAB_SYMDUMP=0
	extra+=(--icount)
fi
KVER=${KVER:-$(scripts/lab-kver.sh)}
export KVER

if [ "$report_only" = 0 ]; then
	scripts/deps.sh
	tools
	mkdir -p "$out"
	rm -rf "$out/lab" "$out/replay.json" "$out/bench.json" "$out/table.txt"
	mkdir -p "$out/lab"
	note "building (module for $KVER from the sources as they are now)"
	make -s vmm inner-io reader
	local ko=$out/kvmio_lat.ko
	if [ -n "${BENCH_MODULE:-}" ]; then
		cp "$BENCH_MODULE" "$ko"	# a copy: a rebuild during the run cannot touch it
	else
		ko=$(scripts/bench/variant.sh base "$out/modules")
	fi
	gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -o "$out/sysloop" scripts/bench/sysloop.c

	selftests/lab/lab.sh inner-initrd --kernel "$KVER" --file build/inner-io:/bin/inner-io \
		"$out/inner.gz" scripts/bench/inner.sh >/dev/null

	local args=(--out /run/lab-out --module "$ko" --vmm build/kvmio-vmm
		--sysloop "$out/sysloop" --inner-initrd "$out/inner.gz" --reader build/kvmio-lat)
	[ "$quick" = 1 ] && args+=(--quick)
	[ -n "$rounds" ] && args+=(--rounds "$rounds")
	[ -n "$sections" ] && args+=(--sections "$sections")
	[ -n "${BENCH_PEERS:-}" ] && args+=(--peers "$BENCH_PEERS")
	args+=("${extra[@]}")
	local v
	for v in "${variants[@]}"; do
		[[ $v == *=* ]] || v=$v=$(scripts/bench/variant.sh "$v" "$out/modules")
		args+=(--variant "$v")
	done
	local append="${LAB_APPEND:+$LAB_APPEND }${BENCH_APPEND-tsc=reliable}"
	meta "$quick" "$smp" "$append" "${args[*]}" "$icount" >"$out/meta.json"

	local try=0 rc resume=()
	while :; do
		rc=0
		note "lab run $((try + 1)): lab_bench.py ${args[*]} ${resume[*]}"
		rm -f "$out/lab/heartbeat"
		LAB_APPEND=$append selftests/lab/lab.sh run --kernel "$KVER" --smp "$smp" \
			--timeout "$timeout" --out "$(realpath -m "$out")/lab" --log "$out/lab/dmesg-$try.log" -- \
			scripts/bench/lab_bench.py "${args[@]}" "${resume[@]}" &
		watch_lab $! "$out/lab/heartbeat" || rc=$?
		# 0 done; 1 a section failed (in the report); 122 the kernel log
		# shows a problem (kept), the results stand
		case $rc in
		0 | 1) break ;;
		122) note "the guest's kernel log shows a problem: $out/lab/dmesg-$try.log"; break ;;
		esac
		try=$((try + 1))
		if [ "$try" -gt "$retries" ] || [ ! -s "$out/lab/raw.json" ]; then
			note "the lab run failed (exit $rc)"
			break
		fi
		note "the lab guest died (exit $rc): booting again for the sections that did not finish"
		resume=(--resume)
	done
	[ -s "$out/lab/raw.json" ] || { note "no results"; return 1; }

	if [ -s "$out/lab/replay.dat" ]; then
		python3 scripts/bench/replay_speed.py build/kvmio-lat "$out/lab/replay.dat" \
			"$out/replay.json" "$([ "$quick" = 1 ] && echo 1 || echo 5)"
	fi
fi

[ -s "$out/lab/raw.json" ] || { note "no results in $out/lab/raw.json"; return 1; }
local rep=() check=()
[ -s "$out/replay.json" ] && rep=(--replay "$out/replay.json")
check=(--require-all)
rc=0
python3 scripts/bench/report.py "$out/lab/raw.json" "${rep[@]}" --meta "$out/meta.json" \
	--json "$out/bench.json" --table "$out/table.txt" "${check[@]}" || rc=$?
echo
note "$out/bench.json, $out/table.txt (raw samples: $out/lab/raw.json), $((SECONDS - t_start)) s"
return "$rc"
}

note() { echo "bench: $*" >&2; }

# PID HEARTBEAT: wait for lab.sh PID; if the guest makes no progress
# (lab_bench.py touches HEARTBEAT at every step) for BENCH_STALL seconds,
# stop its QEMU: lab.sh then reports a crash and the next boot resumes.
watch_lab() {
	local pid=$1 hb=$2 stall=${BENCH_STALL:-900} t0 age rc=0
	t0=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		if [ -e "$hb" ]; then
			age=$(($(date +%s) - $(stat -c %Y "$hb")))
		else
			age=$(($(date +%s) - t0))
		fi
		if [ "$age" -gt "$stall" ]; then
			note "no progress in the guest for $age s ($(cut -d' ' -f2- "$hb" 2>/dev/null)): stopping it"
			pkill -TERM -P "$pid" || true
			break
		fi
	done
	wait "$pid" || rc=$?
	return "$rc"
}

# The peers and perf run inside the lab from this machine's root.
tools() {
	local p missing=()
	for p in bpftrace trace-cmd linux-perf; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || { note "missing packages: ${missing[*]} (apt-get install them)"; return 1; }
	note "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

meta() {	# QUICK SMP APPEND ARGS ICOUNT: what this run was, as JSON
	python3 - "$@" <<'EOF'
import json, os, subprocess, sys, time
quick, smp, append, args, icount = sys.argv[1:6]
def git(*a):
    r = subprocess.run(["git"] + list(a), capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None
dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "module", "include", "Kbuild"],
                       capture_output=True).returncode
json.dump({"date": time.strftime("%Y-%m-%d", time.gmtime()),
           "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "kver": os.environ["KVER"],
           "command": "make bench-quick" if quick == "1" else "make bench",
           "git": git("rev-parse", "--short", "HEAD"),
           "module_sources_modified": dirty != 0,
           "lab_smp": int(smp), "lab_append": append, "host_cpus": os.cpu_count(),
           "icount": icount == "1", "lab_qemu_args": os.environ.get("LAB_QEMU_ARGS", ""),
           "host_load_at_start": open("/proc/loadavg").read().split()[:3],
           "lab_args": args}, sys.stdout, indent=1)
EOF
}

main "$@"
exit
