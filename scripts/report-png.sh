#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# report-png.sh REPORT.html OUT.png [WIDTHxHEIGHT]: a screenshot of a
# "kvmio-lat report" page (make demo writes build/demo/report.html) with
# headless Chromium, for the README's picture; default 1280x1600.  The page
# fetches nothing, and Chromium may not resolve a host name here anyway.
# Chromium: scripts/deps.sh chromium.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ] || [[ ! ${3:-1x1} =~ ^[0-9]+x[0-9]+$ ]]; then
	echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]" >&2
	exit 2
fi
html=$(realpath -e "$1")
out=$(realpath -m "$2")
size=${3:-1280x1600}
if ! command -v chromium >/dev/null; then
	echo "$0: no chromium: install it (scripts/deps.sh chromium)" >&2
	exit 1
fi
profile=$(mktemp -d /tmp/report-png.XXXXXX)
trap 'rm -rf "$profile"' EXIT
sandbox=()
[ "$(id -u)" = 0 ] && sandbox=(--no-sandbox)	# Chromium's sandbox refuses root
rm -f "$out"
chromium --headless=new "${sandbox[@]}" --disable-gpu --hide-scrollbars \
	--user-data-dir="$profile" --no-first-run --disable-background-networking \
	--host-resolver-rules='MAP * ~NOTFOUND' --window-size="${size/x/,}" \
	--screenshot="$out" "file://$html" >"$profile/log" 2>&1 || true
if [ ! -s "$out" ]; then
	echo "$0: chromium wrote no screenshot:" >&2
	tail -n 5 "$profile/log" >&2
	exit 1
fi
echo "$out"
