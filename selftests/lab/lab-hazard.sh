#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab-hazard.sh RC FILE... - was a failed lab run the lab's doing rather
# than a test's?  RC is lab.sh's exit status, the FILEs what the run
# printed.  Prints why and exits 0 when it was (the caller then runs it
# once more in a fresh boot: make check, make check-debug), exits 1 when
# it was not.  Documentation/lab.rst has the hazards:
#
#   124  the guest hung (a vCPU looping on a stale int3 of a finished text
#        patch, or every task asleep with both CPUs idle)
#   123  the guest's kernel died the lab's way: silently, or with "corrupted
#        stack end detected inside scheduler" and no oops, BUG or KASAN
#        report (it does so now and then under the lab's TCG and nested SVM
#        with kvmio_lat never loaded); any other death is a test's failure
#   125  the lab could not start (no test ran)
#   a test guest took a vector it never expects (kvmio-vmm), or a
#   hardening run's test guests faulted or stalled: the same boots' signs
#
# Never a kernel report (122: an oops, warning, KASAN, lockdep or leak
# report in the guest's log): one in two runs is one too many.
set -u
rc=${1:?usage: lab-hazard.sh RC FILE...}
shift
case $rc in
0 | 122) exit 1 ;;
124) echo "the lab guest hung (report above)" ;;
123)
	# kernel log lines only: a test's own output may name KASAN
	if grep -qsE "\[ *[0-9]+\.[0-9]+\] .*(Oops|BUG:|general protection fault|KASAN|UBSAN)" "$@" ||
		{ grep -qs "Kernel panic" "$@" &&
			! grep -qs "Kernel panic - not syncing: corrupted stack end detected inside scheduler" "$@"; }; then
		exit 1
	fi
	echo "the lab guest's kernel died the lab's way (above)" ;;
125) echo "the lab could not start (above)" ;;
*)
	grep -qsE "guest took unexpected vector|hardening: this boot's test guests:" "$@" ||
		exit 1
	echo "a test guest took an unexpected vector or stalled (the lab's nested SVM)" ;;
esac
exit 0
