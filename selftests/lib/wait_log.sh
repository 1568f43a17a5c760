# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Waiting for the inner guest in the real-QEMU tests (selftests/qemu/);
# source it.

# wait_log LOG MARK PID POLLS SECONDS: poll LOG for the line MARK every
# SECONDS, at most POLLS times, until it is there or process PID is gone.
# True if MARK is in LOG.
wait_log() {
	local i

	for ((i = 0; i < $4; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep "$5"
	done
	grep -q "$2" "$1" 2>/dev/null
}
