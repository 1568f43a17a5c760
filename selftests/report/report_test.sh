#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# report_test.sh - "kvmio-lat report" read by a real browser, on the host
# (no lab, no module): the snapshots of selftests/unit/fixtures/ (and a
# recording, replayed) made into pages, each
#   - checked as written: nothing in it refers to anything outside it;
#   - loaded by headless Chromium with JavaScript off, then on, driven over
#     the DevTools protocol (selftests/report/report_check.py render): the
#     DOM Chromium built holds an SVG chart for every histogram of
#     `kvmio-lat show --json` of the same snapshot, bucket by bucket, and
#     every number of the page equals the JSON's (report_check.py page);
#     with JavaScript off, the script's mark is not there (it really was
#     off), with it on it is;
#   - made no request: none in the DevTools events, none partitioned by
#     the page in Chromium's network log; no JavaScript error
#     (report_check.py net);
#   - gives a screenshot that is not blank (report_check.py png).
# Each checker is first shown to fail: a page that fetches an image, a
# style sheet and a URL from a script; a blank page; a report with one
# number changed and one with a chart taken out.  And a snapshot that
# cannot be read leaves no file.
# Installs Debian's chromium when missing (scripts/deps.sh chromium);
# hence root then.  REPORT_TEST_KEEP=1 keeps its directory.
#
#   selftests/report/report_test.sh [READER]       (default build/kvmio-lat)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/selftests/report
fixtures=$top/selftests/unit/fixtures
reader=${1:-build/kvmio-lat}
case $reader in /*) ;; *) reader=$PWD/$reader ;; esac
py=/usr/bin/python3
check="$py $here/report_check.py"

# name|report's arguments|the show (or replay) arguments of the same snapshot
cases=(
	"lab_native|--input $fixtures/lab_native.hist --stats $fixtures/lab_native.stats|show --input $fixtures/lab_native.hist --stats $fixtures/lab_native.stats"
	"two_vcpus|--input $fixtures/two_vcpus.hist --stats $fixtures/two_vcpus.stats|show --input $fixtures/two_vcpus.hist --stats $fixtures/two_vcpus.stats"
	"disks|--input $fixtures/disks.hist --stats $fixtures/disks.stats|show --input $fixtures/disks.hist --stats $fixtures/disks.stats"
	"uring_small|--input $fixtures/uring_small.hist|show --input $fixtures/uring_small.hist"
	"two_vms|--input $fixtures/two_vms.hist|show --input $fixtures/two_vms.hist"
	"filtered|--input $fixtures/uring_small.hist --path io_uring --vcpu 1|show --input $fixtures/uring_small.hist --path io_uring --vcpu 1"
	"replay_uring|--replay $fixtures/replay_uring.dat|replay $fixtures/replay_uring.dat"
	"odd_names|--input @TMP@/odd.hist|show --input @TMP@/odd.hist"
)
PLAN=$((4 + 6 * ${#cases[@]} + 6))

# shellcheck source=selftests/lib/tap.sh
. "$top/selftests/lib/tap.sh"

echo "TAP version 13"
echo "1..$PLAN"

if ! command -v chromium >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		echo "Bail out! no chromium: install it (apt-get install chromium) or run as root"
		exit 1
	fi
	"$top/scripts/deps.sh" chromium || { echo "Bail out! could not install chromium"; exit 1; }
fi
echo "# $(chromium --version 2>/dev/null)"

tmp=$(mktemp -d /tmp/kvmio-report-test.XXXXXX) || exit 1
# shellcheck disable=SC2317 # (a trap)
cleanup() {
	if [ "${REPORT_TEST_KEEP:-0}" = 1 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

# render NAME HTML JS: Chromium's DOM, screenshot, network log, DevTools
# events into $tmp/NAME.JS.*
render() {
	$check render "file://$2" --js "$3" --dom "$tmp/$1.$3.dom" \
		--png "$tmp/$1.$3.png" --netlog "$tmp/$1.$3.netlog" \
		--requests "$tmp/$1.$3.requests" >"$tmp/$1.$3.render" 2>&1
}

# --- 1. the checkers fail on what they must catch -----------------------

cat >"$tmp/fetches.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="https://css.kvmio-lat-probe.invalid/style.css">
</head><body><p>a page that fetches</p>
<img src="http://img.kvmio-lat-probe.invalid/x.png" alt="">
<script>fetch('https://fetch.kvmio-lat-probe.invalid/f').catch(function () {});</script>
</body></html>
EOF
render fetches "$tmp/fetches.html" on
$check net "$tmp/fetches.on.netlog" "$tmp/fetches.on.requests" >"$tmp/fetches.net" 2>&1
rc=$?
found=0
for host in css img fetch; do
	grep -q "network log: the page requested .*$host\.kvmio-lat-probe" "$tmp/fetches.net" &&
		grep -q "DevTools: the page requested .*$host\.kvmio-lat-probe" "$tmp/fetches.net" &&
		found=$((found + 1))
done
$check static "$tmp/fetches.html" >"$tmp/fetches.static" 2>&1
static_rc=$?
[ "$rc" != 0 ] && [ "$found" = 3 ] && [ "$static_rc" != 0 ]
result $? "the network check catches an image, a style sheet and a fetch() (in the network log and the DevTools events), the static one their URLs" \
	"$tmp/fetches.net" "$tmp/fetches.static" "$tmp/fetches.on.render"

echo '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body></body></html>' >"$tmp/blank.html"
render blank "$tmp/blank.html" off
! $check png "$tmp/blank.off.png" >"$tmp/blank.png.out" 2>&1 && [ -s "$tmp/blank.off.png" ]
result $? "the screenshot check fails a blank page" "$tmp/blank.png.out" "$tmp/blank.off.render"

# a report with a number changed, one with a histogram taken out, one
# with the tallest bar of a histogram drawn a tenth taller
"$reader" report --input "$fixtures/lab_native.hist" --stats "$fixtures/lab_native.stats" \
	-o "$tmp/base.html" 2>"$tmp/base.err" &&
	"$reader" show --input "$fixtures/lab_native.hist" --stats "$fixtures/lab_native.stats" \
		--exits --json >"$tmp/base.json" 2>>"$tmp/base.err"
$py - "$tmp/base.html" "$tmp/changed.html" "$tmp/cut.html" "$tmp/taller.html" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'data-field="p99_ns" data-value="(\d+)"', text)
open(sys.argv[2], "w", encoding="utf-8").write(
    text[:m.start(1)] + str(int(m.group(1)) + 1) + text[m.end(1):])
cut = re.sub(r'<svg class="kvl-hist".*?</svg>', "", text, count=1, flags=re.S)
open(sys.argv[3], "w", encoding="utf-8").write(cut)
m = max(re.finditer(r'<rect class="kvl-bucket"[^>]* height="([\d.]+)"', text),
        key=lambda m: float(m.group(1)))
open(sys.argv[4], "w", encoding="utf-8").write(
    text[:m.start(1)] + "%.2f" % (float(m.group(1)) * 1.1) + text[m.end(1):])
EOF
$check page "$tmp/base.html" "$tmp/base.json" --js off >"$tmp/base.page" 2>&1 &&
	! $check page "$tmp/changed.html" "$tmp/base.json" --js off >"$tmp/changed.page" 2>&1 &&
	grep -q "p99_ns: data-value" "$tmp/changed.page" &&
	! $check page "$tmp/cut.html" "$tmp/base.json" --js off >"$tmp/cut.page" 2>&1 &&
	grep -q "0 histogram charts" "$tmp/cut.page" &&
	! $check page "$tmp/taller.html" "$tmp/base.json" --js off >"$tmp/taller.page" 2>&1 &&
	grep -q "has area" "$tmp/taller.page"
result $? "the page check passes the report as written, fails one with a p99 changed, one without a histogram, one with a bar too tall" \
	"$tmp/base.err" "$tmp/base.page" "$tmp/changed.page" "$tmp/cut.page" "$tmp/taller.page"

# a snapshot that cannot be read: an error, exit 1, no file, nothing left
mkdir -p "$tmp/out"
printf '# kvmio_lat hist 5\nvm 1 x vcpus 1\n' >"$tmp/truncated.hist"
"$reader" report --input "$tmp/truncated.hist" -o "$tmp/out/r.html" >"$tmp/bad.out" 2>"$tmp/bad.err"
rc=$?
[ "$rc" = 1 ] && [ -z "$(ls -A "$tmp/out")" ] && [ "$(wc -l <"$tmp/bad.err")" = 1 ] &&
	grep -q "truncated" "$tmp/bad.err" && [ ! -s "$tmp/bad.out" ]
result $? "a truncated snapshot: one line on stderr, exit 1 (got $rc), no file written" "$tmp/bad.err"

# --- 2. each snapshot's page ---------------------------------------------

# a VM whose name is markup
sed 's|^vm 200 qemu-system-x86 |vm 200 <i>"\&'"'"'x</i> |' "$fixtures/lab_native.hist" \
	>"$tmp/odd.hist"

for c in "${cases[@]}"; do
	IFS='|' read -r name rargs sargs <<<"${c//@TMP@/$tmp}"
	read -r -a rargv <<<"$rargs"
	read -r -a sargv <<<"$sargs"
	html=$tmp/$name.html
	"$reader" report "${rargv[@]}" -o "$html" >"$tmp/$name.out" 2>"$tmp/$name.err" &&
		"$reader" "${sargv[@]}" --exits --json >"$tmp/$name.json" 2>>"$tmp/$name.err" &&
		[ -s "$html" ] && [ -z "$(find "$tmp" -maxdepth 1 -name ".$name.html.*")" ]
	result $? "$name: report -o writes the page (and show --json the same snapshot)" \
		"$tmp/$name.err"
	$check static "$html" >"$tmp/$name.static" 2>&1
	result $? "$name: nothing in the page refers outside it" "$tmp/$name.static"
	for js in off on; do
		render "$name" "$html" "$js" &&
			$check page "$tmp/$name.$js.dom" "$tmp/$name.json" --js "$js" \
				>"$tmp/$name.$js.page" 2>&1
		result $? "$name, JavaScript $js: every histogram charted, every number show --json's ($(tail -n 1 "$tmp/$name.$js.page" | sed 's/^# //'))" \
			"$tmp/$name.$js.page" "$tmp/$name.$js.render"
		$check net "$tmp/$name.$js.netlog" "$tmp/$name.$js.requests" \
			>"$tmp/$name.$js.net" 2>&1
		result $? "$name, JavaScript $js: no request, no error" "$tmp/$name.$js.net"
	done
done

# the names are text, not markup
! grep -q '<i>' "$tmp/odd_names.off.dom" && grep -q '&lt;i&gt;"&amp;'"'"'x&lt;/i&gt;' "$tmp/odd_names.off.dom"
result $? "odd_names: a VM name of markup is text in the DOM (no <i> element)"

# --- 3. screenshots -------------------------------------------------------

for s in lab_native.off uring_small.off uring_small.on disks.off; do
	$check png "$tmp/$s.png" >"$tmp/$s.png.out" 2>&1
	result $? "$s: the screenshot is not blank ($(sed 's/^# //' "$tmp/$s.png.out"))" "$tmp/$s.png.out"
done

# the page as a person gets it with scripts/report-png.sh
"$top/scripts/report-png.sh" "$tmp/uring_small.html" "$tmp/readme.png" >"$tmp/readme.out" 2>&1 &&
	$check png "$tmp/readme.png" >>"$tmp/readme.out" 2>&1
result $? "scripts/report-png.sh: a screenshot that is not blank" "$tmp/readme.out"

[ "$n" = "$PLAN" ] || { echo "# ran $n tests, planned $PLAN"; fail=1; }
exit "$fail"
