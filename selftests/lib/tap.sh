# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# TAP lines for the test runner scripts (scripts/matrix/guest.sh,
# scripts/debug-kernel/guest.sh, selftests/export/export_test.sh); source
# it.  Uses and sets n (tests so far), fail (1 once one failed) and t0
# (SECONDS at the last result).
n=0
fail=0
t0=$SECONDS

# result STATUS TEXT [DIAGNOSTIC-FILE...]: a TAP line, with the seconds
# since the last one; when it failed, the files (their last 30 lines) as
# comments
result() {
	local status=$1 text=$2 f

	shift 2
	n=$((n + 1))
	if [ "$status" = 0 ]; then
		echo "ok $n - $text ($((SECONDS - t0)) s)"
	else
		echo "not ok $n - $text ($((SECONDS - t0)) s)"
		fail=1
		for f in "$@"; do
			[ -s "$f" ] || continue
			echo "# --- $f"
			tail -n 30 "$f" | sed 's/^/#   /'
		done
	fi
	t0=$SECONDS
}

# skip TEXT REASON: a test that cannot run (what it needs is missing)
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
	t0=$SECONDS
}
