# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# labhold.py's holder for the in-lab shell tests (selftests/qemu/); source
# it.  start_holder READY_FILE ARGS...: runs labhold.py ARGS in the
# background, sets holder to its pid and returns once it holds (it prints
# "held" into READY_FILE), or bails out if it died first.  Stop it with
# kill -TERM "$holder"; wait "$holder" (it lets go before it exits).
start_holder() {
	local ready=$1
	shift
	python3 "$(dirname "${BASH_SOURCE[0]}")/labhold.py" "$@" >"$ready" &
	holder=$!
	for _ in $(seq 300); do
		[ -s "$ready" ] && return 0
		kill -0 "$holder" 2>/dev/null || { echo "Bail out! labhold.py failed"; exit 1; }
		sleep 0.1
	done
}
