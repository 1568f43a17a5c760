# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# TAP lines for the in-lab runner scripts (scripts/matrix/guest.sh,
# scripts/debug-kernel/guest.sh); source it.  Uses and sets n (tests so
# far), fail (1 once one failed) and t0 (SECONDS at the last result).
n=0
fail=0
t0=$SECONDS

# result STATUS TEXT: a TAP line, with the seconds since the last one
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2 ($((SECONDS - t0)) s)"
	else
		echo "not ok $n - $2 ($((SECONDS - t0)) s)"
		fail=1
	fi
	t0=$SECONDS
}
